#include "widgets/run_overlay_view.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>
#include <qcustomplot.h>

#include "widgets/history_model.h"
#include "widgets/history_status_line.h"
#include "widgets/history_text.h"
#include "widgets/plot_style.h"
#include "core/vocabulary/metric_keys.h"

namespace rkd::gui {

namespace {

/// Metrics offered in the overlay even before a run is selected, in this order; keys the selected runs logged
/// besides these follow, sorted.
const QStringList& preferredMetrics() {
  static const QStringList keys = [] {
    QStringList list;
    for (const char* key : metric::plottableKeys()) list << QString::fromUtf8(key);
    return list;
  }();
  return keys;
}

}  // namespace

RunOverlayView::RunOverlayView(const HistoryModel* model, HistoryStatusLine* status, QWidget* parent)
    : QWidget(parent), m_model(model), m_status(status) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* bar = new QHBoxLayout;
  auto* title = new QLabel(QStringLiteral("<b>Curves</b>"), this);
  bar->addWidget(title);
  m_metric = new QComboBox(this);
  m_metric->addItems(preferredMetrics());
  m_metric->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_metric->setMinimumContentsLength(14);
  m_metric->setToolTip(QStringLiteral("Metric to overlay; epoch-level metrics are plotted per epoch, per-step ones per step"));
  bar->addWidget(m_metric);
  auto* smoothingLabel = new QLabel(QStringLiteral("Smoothing"), this);
  bar->addWidget(smoothingLabel);
  m_smoothing = new QDoubleSpinBox(this);
  m_smoothing->setRange(0, 0.99);
  m_smoothing->setSingleStep(0.1);
  m_smoothing->setDecimals(2);
  m_smoothing->setValue(0.6);
  m_smoothing->setToolTip(QStringLiteral("Exponential moving average of per-step metrics (0 = raw values)"));
  bar->addWidget(m_smoothing);
  bar->addStretch(1);
  layout->addLayout(bar);
  m_plot = new QCustomPlot(this);
  stylePlot(m_plot, QStringLiteral("epoch"), QString::fromUtf8(metric::kTestTop1));
  {
    // The legend sits right of the axes, at the top: with many runs it never hides a curve.
    auto* side = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(0, 1, side);
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.001);
    m_plot->axisRect()->insetLayout()->take(m_plot->legend);
    side->addElement(0, 0, m_plot->legend);
    side->addElement(1, 0, new QCPLayoutElement(m_plot));
    side->setRowStretchFactor(0, 0.001);
    side->setMargins(QMargins(0, 8, 6, 0));
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->legend->setBrush(Qt::NoBrush);
  }
  m_hint = new QCPItemText(m_plot);
  m_hint->position->setType(QCPItemPosition::ptAxisRectRatio);
  m_hint->position->setCoords(0.5, 0.5);
  m_hint->setColor(QColor(120, 120, 120));
  m_hint->setClipToAxisRect(false);
  layout->addWidget(m_plot, 1);
  connect(m_metric, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { Q_EMIT settingsChanged(); });
  connect(m_smoothing, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] { Q_EMIT settingsChanged(); });
}

void RunOverlayView::showRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs) {
  updateMetricChoices(store, runs);
  plotRuns(store, runs);
}

void RunOverlayView::updateMetricChoices(rkd::services::RunHistory* store, const std::vector<int64_t>& runs) {
  QString current = m_metric->currentText();
  if (current.isEmpty()) current = QString::fromUtf8(metric::kTestTop1);
  QStringList keys = preferredMetrics();
  QStringList extra;
  if (store) {
    m_status->attempt(
        QStringLiteral("Reading metric names"),
        [&] {
          for (int64_t id : runs)
            for (const auto& k : store->metricKeys(id)) {
              const QString key = QString::fromStdString(k);
              if (!keys.contains(key) && !extra.contains(key)) extra << key;
            }
        },
        false);
  }
  extra.sort();
  keys << extra;
  if (!keys.contains(current)) keys << current;
  QSignalBlocker block(m_metric);
  m_metric->clear();
  m_metric->addItems(keys);
  m_metric->setCurrentIndex(std::max(0, static_cast<int>(keys.indexOf(current))));
}

void RunOverlayView::plotRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs) {
  m_plot->clearGraphs();
  const QString key = m_metric->currentText();
  struct Curve {
    int64_t id;
    QString label;
    MetricSeries series;
  };
  std::vector<Curve> curves;
  if (store) {
    m_status->attempt(
        QStringLiteral("Reading %1").arg(key),
        [&] {
          for (int64_t id : runs) {
            const services::HistoryRow* r = m_model->findRun(id);
            curves.push_back({id, runLabel(id, r ? r->run.name : std::string()), store->metrics(id, key.toStdString())});
          }
        },
        false);
  }
  // Per-step metrics are plotted against the step, epoch-level ones (step == kEpochStep) against the epoch.
  bool perStep = false;
  for (const Curve& c : curves)
    for (int64_t step : c.series.steps)
      if (step != kEpochStep) {
        perStep = true;
        break;
      }

  int withData = 0;
  for (size_t i = 0; i < curves.size(); ++i) {
    const MetricSeries& s = curves[i].series;
    QVector<double> x, y;
    for (size_t p = 0; p < s.size(); ++p) {
      if ((s.steps[p] != kEpochStep) != perStep) continue;
      x << static_cast<double>(perStep ? s.steps[p] : s.epochs[p] + 1);  // epochs counted from 1, as in the live view
      y << s.values[p];
    }
    QCPGraph* g = addSeries(m_plot, curves[i].label, static_cast<int>(i));
    if (x.isEmpty()) {
      g->setName(curves[i].label + QStringLiteral(" (no data)"));
      continue;
    }
    ++withData;
    if (perStep) {
      g->setData(x, smoothed(y, m_smoothing->value()), true);
    } else {
      g->setData(x, y, true);
      if (x.size() <= 200) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    }
  }
  m_smoothing->setEnabled(perStep || curves.empty());
  m_plot->xAxis->setLabel(perStep ? QStringLiteral("step") : QStringLiteral("epoch"));
  m_plot->yAxis->setLabel(key);

  if (curves.empty())
    m_hint->setText(QStringLiteral("Select runs in the table to overlay their curves"));
  else if (withData == 0)
    m_hint->setText(QStringLiteral("No selected run logged %1").arg(key));
  m_hint->setVisible(withData == 0);
  if (withData > 0) {
    m_plot->rescaleAxes(true);
    m_plot->xAxis->scaleRange(1.03, m_plot->xAxis->range().center());
    m_plot->yAxis->scaleRange(1.08, m_plot->yAxis->range().center());
  } else {
    m_plot->xAxis->setRange(0, 1);
    m_plot->yAxis->setRange(0, 1);
  }
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace rkd::gui
