#include "widgets/heatmap_widget.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <utility>

#include <QMouseEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace rkd::gui {
namespace {

/// A gradient through the given colour stops, linear in RGB, NaN shown grey.
QCPColorGradient gradientThrough(std::initializer_list<std::pair<double, QColor>> stops) {
  QCPColorGradient g;
  g.clearColorStops();
  for (const auto& [position, colour] : stops) g.setColorStopAt(position, colour);
  g.setColorInterpolation(QCPColorGradient::ciRGB);
  g.setNanHandling(QCPColorGradient::nhNanColor);
  g.setNanColor(QColor(200, 200, 200));
  return g;
}

QCPColorGradient sequentialGradient() {
  // Viridis (perceptually uniform, readable in grayscale and by colour-blind readers).
  return gradientThrough({{0.00, QColor(68, 1, 84)},
                          {0.13, QColor(71, 44, 122)},
                          {0.25, QColor(59, 81, 139)},
                          {0.38, QColor(44, 113, 142)},
                          {0.50, QColor(33, 144, 141)},
                          {0.63, QColor(39, 173, 129)},
                          {0.75, QColor(92, 200, 99)},
                          {0.88, QColor(170, 220, 50)},
                          {1.00, QColor(253, 231, 37)}});
}

QCPColorGradient divergingGradient() {
  // ColorBrewer RdBu (reversed: negative blue, zero white, positive red).
  return gradientThrough({{0.00, QColor(5, 48, 97)},
                          {0.15, QColor(33, 102, 172)},
                          {0.30, QColor(103, 169, 207)},
                          {0.42, QColor(209, 229, 240)},
                          {0.50, QColor(247, 247, 247)},
                          {0.58, QColor(253, 219, 199)},
                          {0.70, QColor(239, 138, 98)},
                          {0.85, QColor(178, 24, 43)},
                          {1.00, QColor(103, 0, 31)}});
}

/// Significant digits the colour scale's labels need to tell ticks apart on [lower, upper] (e.g. -0.135 vs -0.14).
int labelPrecision(double lower, double upper) {
  const double span = upper - lower;
  const double magnitude = std::max(std::abs(lower), std::abs(upper));
  if (!(span > 0) || !(magnitude > 0)) return 2;
  return std::clamp(static_cast<int>(std::ceil(std::log10(magnitude / span))) + 2, 2, 6);
}

}  // namespace

HeatmapWidget::HeatmapWidget(const QString& title, QWidget* parent) : QWidget(parent), m_titleText(title) {
  // White card: the title label and the plot share one background.
  setAutoFillBackground(true);
  QPalette pal = palette();
  pal.setColor(QPalette::Window, Qt::white);
  setPalette(pal);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 3, 0, 0);
  layout->setSpacing(0);
  // The title is a label above the plot (not a plot element) so that it spans the map and its colour scale and
  // is elided, never clipped, when the widget is narrow.
  m_title = new QLabel(this);
  m_title->setAlignment(Qt::AlignHCenter | Qt::AlignVCenter);
  QFont titleFont = m_title->font();
  titleFont.setPointSizeF(titleFont.pointSizeF() * 0.9);
  m_title->setFont(titleFont);
  m_title->setStyleSheet(QStringLiteral("color: #3c3c3c;"));
  m_title->setMinimumWidth(10);
  m_title->setFixedHeight(m_title->fontMetrics().height() + 4);  // the same with or without a title
  m_title->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
  layout->addWidget(m_title);
  m_plot = new QCustomPlot(this);
  m_plot->setMouseTracking(true);
  m_plot->setInteractions(QCP::Interactions());
  layout->addWidget(m_plot, 1);

  QFont small = m_plot->font();
  small.setPointSizeF(small.pointSizeF() * 0.8);
  m_plot->plotLayout()->setColumnSpacing(2);

  QCPAxisRect* rect = m_plot->axisRect();
  rect->setAutoMargins(QCP::msNone);
  rect->setMargins(QMargins(4, 4, 2, 8));
  for (QCPAxis* axis : rect->axes()) {
    axis->setVisible(false);
    axis->grid()->setVisible(false);
  }
  m_plot->yAxis->setRangeReversed(true);  // row 0 at the top, as in an image

  m_scale = new QCPColorScale(m_plot);
  m_scale->setType(QCPAxis::atRight);
  m_scale->setBarWidth(9);
  m_scale->setAutoMargins(QCP::msRight);
  m_scale->setMargins(QMargins(2, 4, 0, 8));
  m_scale->axis()->setTickLabelFont(small);
  m_scale->axis()->setNumberFormat(QStringLiteral("g"));
  m_scale->axis()->setNumberPrecision(2);
  m_scale->axis()->ticker()->setTickCount(4);
  m_scale->axis()->setPadding(3);
  m_scale->axis()->setTickLengthOut(2);
  m_scale->axis()->setTickLengthIn(0);
  m_scale->axis()->setSubTicks(false);
  m_scale->axis()->setBasePen(QPen(QColor(150, 150, 150)));
  m_scale->axis()->setTickPen(QPen(QColor(150, 150, 150)));
  m_plot->plotLayout()->addElement(0, 1, m_scale);

  m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
  m_map->setColorScale(m_scale);
  m_map->setInterpolate(false);  // show the real cells
  m_map->setTightBoundary(false);
  m_map->setName(title);
  elideTitle();

  m_frame = new QCPItemRect(m_plot);
  m_frame->setPen(QPen(QColor(160, 160, 160), 0));
  m_frame->setBrush(Qt::NoBrush);

  m_reasonText = new QCPItemText(m_plot);
  m_reasonText->position->setType(QCPItemPosition::ptAxisRectRatio);
  m_reasonText->position->setAxisRect(rect);
  m_reasonText->position->setCoords(0.5, 0.5);
  m_reasonText->setPositionAlignment(Qt::AlignCenter);
  m_reasonText->setTextAlignment(Qt::AlignCenter);
  QFont reasonFont = m_plot->font();
  reasonFont.setPointSizeF(reasonFont.pointSizeF() * 0.85);
  reasonFont.setItalic(true);
  m_reasonText->setFont(reasonFont);
  m_reasonText->setColor(QColor(110, 110, 110));

  applyGradient();
  connect(m_plot, &QCustomPlot::afterLayout, this, [this] { fitAspect(); });
  connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) { showTooltip(event); });

  setMinimumSize(150, 135);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  clear();
}

void HeatmapWidget::setMap(int width, int height, const std::vector<float>& values) {
  if (width <= 0 || height <= 0 || values.size() < static_cast<size_t>(width) * static_cast<size_t>(height)) {
    clear(QStringLiteral("no data"));
    return;
  }
  m_width = width;
  m_height = height;
  m_values.assign(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(width) * height);
  m_min = std::numeric_limits<double>::infinity();
  m_max = -std::numeric_limits<double>::infinity();
  for (float v : m_values) {
    if (!std::isfinite(v)) continue;
    m_min = std::min<double>(m_min, v);
    m_max = std::max<double>(m_max, v);
  }
  if (m_min > m_max) m_min = m_max = 0;  // no finite value

  // QCPColorMap needs at least two cells per dimension to know a cell's size: a 1-wide map is drawn as two
  // half cells of the same value that together cover exactly one cell.
  const int kw = width == 1 ? 2 : width;
  const int kh = height == 1 ? 2 : height;
  const QCPRange keyRange = width == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, width - 1);
  const QCPRange valueRange = height == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, height - 1);
  QCPColorMapData* data = m_map->data();
  data->setSize(kw, kh);
  data->setRange(keyRange, valueRange);
  for (int y = 0; y < kh; ++y) {
    const int sy = height == 1 ? 0 : y;
    for (int x = 0; x < kw; ++x) {
      const int sx = width == 1 ? 0 : x;
      data->setCell(x, y, m_values[static_cast<size_t>(sy) * width + sx]);
    }
  }
  m_frame->topLeft->setCoords(-0.5, -0.5);
  m_frame->bottomRight->setCoords(width - 0.5, height - 0.5);

  m_hasData = true;
  m_fixedRange = false;
  m_reason.clear();
  m_map->setVisible(true);
  m_frame->setVisible(true);
  m_scale->setVisible(true);
  m_reasonText->setVisible(false);
  m_plot->axisRect()->setBackground(Qt::NoBrush);
  applyRange();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::setDiverging(bool on) {
  if (m_diverging == on) return;
  m_diverging = on;
  applyGradient();
  if (!m_fixedRange) applyRange();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::clear(const QString& reason) {
  m_hasData = false;
  m_fixedRange = false;
  m_reason = reason;
  m_values.clear();
  m_width = m_height = 0;
  m_min = m_max = 0;
  m_map->data()->clear();
  m_map->setVisible(false);
  m_frame->setVisible(false);
  m_scale->setVisible(false);
  m_reasonText->setText(reason);
  m_reasonText->setVisible(!reason.isEmpty());
  m_plot->axisRect()->setBackground(QBrush(QColor(245, 245, 245)));
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::setColorRange(double lower, double upper) {
  if (!(upper > lower)) {
    const double pad = std::abs(lower) > 0 ? std::abs(lower) * 0.01 : 0.5;
    lower -= pad;
    upper += pad;
  }
  m_lower = lower;
  m_upper = upper;
  m_fixedRange = true;
  m_map->setDataRange(QCPRange(m_lower, m_upper));
  m_scale->axis()->setNumberPrecision(labelPrecision(m_lower, m_upper));
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::setTitle(const QString& title) {
  m_titleText = title;
  elideTitle();
}

void HeatmapWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  elideTitle();
}

void HeatmapWidget::elideTitle() {
  const int width = std::max(10, this->width() - 6);
  const QString shown = m_title->fontMetrics().elidedText(m_titleText, Qt::ElideRight, width);
  m_title->setText(shown);
  m_title->setToolTip(shown == m_titleText ? QString() : m_titleText);
}

QString HeatmapWidget::title() const { return m_titleText; }
bool HeatmapWidget::hasData() const { return m_hasData; }
double HeatmapWidget::minValue() const { return m_min; }
double HeatmapWidget::maxValue() const { return m_max; }
double HeatmapWidget::colorLower() const { return m_lower; }
double HeatmapWidget::colorUpper() const { return m_upper; }
bool HeatmapWidget::isDiverging() const { return m_diverging; }
QString HeatmapWidget::clearReason() const { return m_reason; }
int HeatmapWidget::mapWidth() const { return m_width; }
int HeatmapWidget::mapHeight() const { return m_height; }
QCustomPlot* HeatmapWidget::plot() const { return m_plot; }

double HeatmapWidget::valueAt(int x, int y) const {
  if (!m_hasData || x < 0 || y < 0 || x >= m_width || y >= m_height) return std::numeric_limits<double>::quiet_NaN();
  return m_values[static_cast<size_t>(y) * m_width + x];
}

void HeatmapWidget::applyRange() {
  if (m_diverging) {
    double a = std::max(std::abs(m_min), std::abs(m_max));
    if (!(a > 0)) a = 1;
    m_lower = -a;
    m_upper = a;
  } else {
    m_lower = m_min;
    m_upper = m_max;
    if (!(m_upper - m_lower > 1e-12 * std::max(1.0, std::abs(m_upper)))) {
      const double pad = std::abs(m_upper) > 0 ? std::abs(m_upper) * 0.01 : 0.5;
      m_lower -= pad;
      m_upper += pad;
    }
  }
  m_map->setDataRange(QCPRange(m_lower, m_upper));
  m_scale->axis()->setNumberPrecision(labelPrecision(m_lower, m_upper));
}

void HeatmapWidget::applyGradient() { m_map->setGradient(m_diverging ? divergingGradient() : sequentialGradient()); }

void HeatmapWidget::fitAspect() {
  // Square cells: the axis ranges are chosen so that one cell has the same pixel size on both axes, and the
  // map is centred in the axis rect.
  const QRect r = m_plot->axisRect()->rect();
  const double w = std::max(1, m_hasData ? m_width : 1);
  const double h = std::max(1, m_hasData ? m_height : 1);
  if (r.width() <= 0 || r.height() <= 0) return;
  const double cell = std::min(r.width() / w, r.height() / h);
  const double xSpan = r.width() / cell;
  const double ySpan = r.height() / cell;
  const double cx = (w - 1) / 2.0;
  const double cy = (h - 1) / 2.0;
  m_plot->xAxis->setRange(cx - xSpan / 2, cx + xSpan / 2);
  m_plot->yAxis->setRange(cy - ySpan / 2, cy + ySpan / 2);
}

void HeatmapWidget::showTooltip(QMouseEvent* event) {
  if (!m_hasData) return;
  const int x = static_cast<int>(std::lround(m_plot->xAxis->pixelToCoord(event->position().x())));
  const int y = static_cast<int>(std::lround(m_plot->yAxis->pixelToCoord(event->position().y())));
  if (x < 0 || y < 0 || x >= m_width || y >= m_height) {
    QToolTip::hideText();
    return;
  }
  QToolTip::showText(event->globalPosition().toPoint(),
                     QStringLiteral("x %1, y %2: %3").arg(x).arg(y).arg(valueAt(x, y), 0, 'g', 4), m_plot);
}

}  // namespace rkd::gui
