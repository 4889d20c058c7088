#include "widgets/live_view.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QCheckBox>
#include <QDateTime>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "widgets/plot_style.h"

namespace rkd::gui {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const int kDefaultSmoothing = 60;  // slider units (0.60, TensorBoard's default)

double finiteOrNaN(double v) { return std::isfinite(v) ? v : kNaN; }

void alignLeftMargin(QCustomPlot* plot) {
  // The three stacked plots get the same minimum left margin, so their axes line up.
  const QFontMetrics fm(plot->font());
  plot->axisRect()->setMinimumMargins(QMargins(fm.horizontalAdvance(QStringLiteral("0.0008")) + 2 * fm.height() + 14, 0, 0, 0));
}

QString levelColor(const QString& level) {
  const QString l = level.toLower();
  if (l.startsWith(QLatin1String("warn"))) return QStringLiteral("#b26a00");
  if (l.startsWith(QLatin1String("err")) || l.startsWith(QLatin1String("crit")) || l.startsWith(QLatin1String("fatal")))
    return QStringLiteral("#c62828");
  if (l == QLatin1String("debug") || l == QLatin1String("trace")) return QStringLiteral("#8a8a8a");
  return QStringLiteral("#2e7d32");
}

QString epochsText(int n) { return n == 1 ? QStringLiteral("1 epoch") : QStringLiteral("%1 epochs").arg(n); }

QString percent(double v) { return QStringLiteral("%1 %").arg(v, 0, 'f', 1); }

}  // namespace

void LiveView::Bounds::add(double v) {
  if (!std::isfinite(v)) return;
  if (!any) {
    lower = upper = v;
    any = true;
  } else {
    lower = std::min(lower, v);
    upper = std::max(upper, v);
  }
  if (v > 0) {
    positiveLower = anyPositive ? std::min(positiveLower, v) : v;
    anyPositive = true;
  }
}

LiveView::LiveView(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  root->setContentsMargins(8, 8, 8, 8);
  root->setSpacing(6);

  // Title and free-text status.
  auto* header = new QHBoxLayout;
  m_title = new QLabel(tr("No run"), this);
  QFont titleFont = m_title->font();
  titleFont.setPointSizeF(titleFont.pointSizeF() * 1.2);
  titleFont.setBold(true);
  m_title->setFont(titleFont);
  m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_status = new QLabel(this);
  m_status->setStyleSheet(QStringLiteral("color: #555;"));
  m_status->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  header->addWidget(m_title, 1);
  header->addWidget(m_status, 0);
  root->addLayout(header);

  // Progress.
  auto* progressRow = new QHBoxLayout;
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1);
  m_progress->setValue(0);
  m_progress->setFormat(QStringLiteral("%p %"));
  m_progress->setMinimumWidth(220);
  m_progressLabel = new QLabel(tr("waiting for a run"), this);
  m_progressLabel->setMinimumWidth(200);
  m_progressLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  progressRow->addWidget(m_progress, 2);
  progressRow->addWidget(m_progressLabel, 3);
  root->addLayout(progressRow);

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->setChildrenCollapsible(false);
  root->addWidget(splitter, 1);

  // Left: controls and the three plots.
  auto* left = new QWidget(splitter);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->setContentsMargins(0, 0, 4, 0);
  leftLayout->setSpacing(4);
  auto* controls = new QHBoxLayout;
  auto* smoothingLabel = new QLabel(tr("Smoothing"), left);
  m_smoothingSlider = new QSlider(Qt::Horizontal, left);
  m_smoothingSlider->setRange(0, 99);
  m_smoothingSlider->setValue(kDefaultSmoothing);
  m_smoothingSlider->setMaximumWidth(220);
  m_smoothingSlider->setMinimumWidth(120);
  m_smoothingSlider->setToolTip(
      tr("Exponential moving average of the per-step loss curves (0 = raw values). The raw values are kept."));
  m_smoothingValue = new QLabel(left);
  m_smoothingValue->setMinimumWidth(m_smoothingValue->fontMetrics().horizontalAdvance(QStringLiteral("0.00")) + 6);
  m_logScale = new QCheckBox(tr("Log scale"), left);
  m_logScale->setToolTip(tr("Logarithmic y axis for the loss plot"));
  m_resetView = new QPushButton(tr("Reset view"), left);
  m_resetView->setToolTip(tr("Rescale every plot to its data and follow new data again (or double-click a plot)"));
  m_resetView->setEnabled(false);
  controls->addWidget(smoothingLabel);
  controls->addWidget(m_smoothingSlider);
  controls->addWidget(m_smoothingValue);
  controls->addSpacing(16);
  controls->addWidget(m_logScale);
  controls->addStretch(1);
  controls->addWidget(m_resetView);
  leftLayout->addLayout(controls);

  m_lossPlot = new QCustomPlot(left);
  stylePlot(m_lossPlot, tr("step"), tr("loss"));
  // The loss plot has many series: its legend goes in a row above the axis rect, so it never hides a curve.
  m_lossPlot->plotLayout()->insertRow(0);
  m_lossPlot->plotLayout()->addElement(0, 0, m_lossPlot->legend);
  m_lossPlot->plotLayout()->setRowStretchFactor(0, 0.001);
  m_lossPlot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  m_lossPlot->legend->setWrap(7);
  m_lossPlot->legend->setBorderPen(Qt::NoPen);
  m_lossPlot->legend->setBrush(Qt::NoBrush);
  m_lossPlot->legend->setMargins(QMargins(4, 2, 4, 0));
  m_lossPlot->legend->setColumnSpacing(14);
  m_lossPlot->setMinimumHeight(220);
  m_lossPlot->xAxis->setRange(0, 100);
  m_lossPlot->yAxis->setRange(0, 1);

  m_accuracyPlot = new QCustomPlot(left);
  stylePlot(m_accuracyPlot, tr("epoch"), tr("top-1 (%)"));
  m_accuracyPlot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  QSharedPointer<QCPAxisTickerFixed> epochTicker(new QCPAxisTickerFixed);
  epochTicker->setTickStep(1.0);
  epochTicker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  m_accuracyPlot->xAxis->setTicker(epochTicker);
  m_accuracyPlot->xAxis->setRange(0.5, 5.5);
  m_accuracyPlot->yAxis->setRange(0, 100);
  m_accuracyPlot->setMinimumHeight(160);

  m_lrPlot = new QCustomPlot(left);
  stylePlot(m_lrPlot, tr("step"), tr("learning rate"));
  m_lrPlot->legend->setVisible(false);
  m_lrPlot->setMinimumHeight(120);
  m_lrPlot->xAxis->setRange(0, 100);
  m_lrPlot->yAxis->setRange(0, 0.1);

  leftLayout->addWidget(m_lossPlot, 5);
  leftLayout->addWidget(m_accuracyPlot, 3);
  leftLayout->addWidget(m_lrPlot, 2);

  // Right: the engine's log.
  auto* right = new QWidget(splitter);
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->setContentsMargins(4, 0, 0, 0);
  rightLayout->setSpacing(4);
  auto* logTitle = new QLabel(tr("Engine log"), right);
  QFont bold = logTitle->font();
  bold.setBold(true);
  logTitle->setFont(bold);
  m_log = new QPlainTextEdit(right);
  m_log->setReadOnly(true);
  m_log->setMaximumBlockCount(5000);
  m_log->setLineWrapMode(QPlainTextEdit::WidgetWidth);
  QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
  mono.setPointSizeF(std::max(7.0, font().pointSizeF() * 0.9));
  m_log->setFont(mono);
  m_log->setPlaceholderText(tr("Messages of the training engine appear here."));
  rightLayout->addWidget(logTitle);
  rightLayout->addWidget(m_log, 1);

  splitter->addWidget(left);
  splitter->addWidget(right);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 1);
  splitter->setSizes({900, 340});

  for (QCustomPlot* plot : {m_lossPlot, m_accuracyPlot, m_lrPlot}) {
    installFollowHooks(plot);
    alignLeftMargin(plot);
    // Dense, noisy per-step curves drawn as one antialiased wide polyline cost ~100 ms per replot at 20k steps;
    // segment-wise drawing is an order of magnitude faster and looks the same at these pen widths.
    plot->setPlottingHint(QCP::phFastPolylines, true);
    // A click on a legend entry hides or shows its curve (e.g. hide "total" to see the levels).
    connect(plot, &QCustomPlot::legendClick, this, [this, plot](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
      if (auto* entry = qobject_cast<QCPPlottableLegendItem*>(item))
        if (auto* graph = qobject_cast<QCPGraph*>(entry->plottable())) toggleGraph(plot, graph);
    });
  }

  connect(m_smoothingSlider, &QSlider::valueChanged, this, [this](int v) { applySmoothing(v); });
  connect(m_logScale, &QCheckBox::toggled, this, [this](bool on) { setLogScale(on); });
  connect(m_resetView, &QPushButton::clicked, this, [this] { resetView(); });

  m_smoothing = kDefaultSmoothing / 100.0;
  m_smoothingValue->setText(QString::number(m_smoothing, 'f', 2));
  clearPlots();
}

QCustomPlot* LiveView::lossPlot() const { return m_lossPlot; }
QCustomPlot* LiveView::accuracyPlot() const { return m_accuracyPlot; }
QCustomPlot* LiveView::lrPlot() const { return m_lrPlot; }
QSlider* LiveView::smoothingSlider() const { return m_smoothingSlider; }
QProgressBar* LiveView::progressBar() const { return m_progress; }
QLabel* LiveView::progressLabel() const { return m_progressLabel; }
QPlainTextEdit* LiveView::logPane() const { return m_log; }
QLabel* LiveView::statusLabel() const { return m_status; }
QLabel* LiveView::titleLabel() const { return m_title; }
QCheckBox* LiveView::logScaleCheck() const { return m_logScale; }
QPushButton* LiveView::resetViewButton() const { return m_resetView; }
int LiveView::replotCount() const { return m_replots; }
bool LiveView::isFollowing() const { return m_followLoss && m_followAccuracy && m_followLr; }
double LiveView::smoothing() const { return m_smoothing; }
qint64 LiveView::runId() const { return m_runId; }

void LiveView::beginRun(qint64 runId, const QString& title) {
  m_runId = runId;
  m_title->setText(title.isEmpty() ? tr("Run %1").arg(runId) : title);
  m_haveFinal = false;
  clearPlots();
  m_progress->setRange(0, 1);
  m_progress->setValue(0);
  m_progressLabel->setStyleSheet(QString());
  m_progressLabel->setText(tr("waiting for the first step"));
  appendLog(QStringLiteral("info"),
            tr("--- run %1 started%2 ---").arg(runId).arg(title.isEmpty() ? QString() : QStringLiteral(": ") + title));
}

void LiveView::addSteps(const std::vector<rkd::StepProgress>& steps) {
  if (steps.empty()) return;
  // Every run is announced (beginRun) before its first step, by the trainer or the follower: the steps of any
  // other run are not this view's.
  for (const rkd::StepProgress& p : steps) {
    if (p.runId != m_runId) continue;
    const double key = static_cast<double>(p.step);
    if (!m_stepKeys.isEmpty() && key <= m_stepKeys.last()) continue;  // keys must grow (resume re-reports)
    m_stepKeys.append(key);
    m_total.raw.append(finiteOrNaN(p.loss));
    m_ce.raw.append(finiteOrNaN(p.ce));
    m_review.raw.append(finiteOrNaN(p.review));
    m_kd.raw.append(finiteOrNaN(p.kd));
    m_lr.raw.append(finiteOrNaN(p.lr));
    if (p.kd != 0 && std::isfinite(p.kd)) ensureGraph(m_kd, m_lossPlot);
    while (m_levels.size() < p.levelLosses.size()) {
      const size_t i = m_levels.size();
      Series s;
      s.name = i < p.levelLabels.size() && !p.levelLabels[i].empty() ? QString::fromStdString(p.levelLabels[i])
                                                                       : QStringLiteral("level %1").arg(i + 1);
      s.colorIndex = 4 + static_cast<int>(i);
      s.raw.fill(kNaN, m_stepKeys.size() - 1);
      m_levels.push_back(std::move(s));
      ensureGraph(m_levels.back(), m_lossPlot);
      m_levels.back().graph->setPen(QPen(seriesColor(m_levels.back().colorIndex), 1.2));
    }
    for (size_t i = 0; i < m_levels.size(); ++i)
      m_levels[i].raw.append(i < p.levelLosses.size() ? finiteOrNaN(p.levelLosses[i]) : kNaN);
  }

  for (Series* s : {&m_total, &m_ce, &m_review, &m_kd, &m_lr}) pushNew(*s);
  for (Series& s : m_levels) pushNew(s);
  updateProgress(steps.back());

  ++m_replots;
  if (m_deferWhileHidden && !isVisible()) {
    m_replotPending = true;
    return;
  }
  if (m_followLoss) rescale(m_lossPlot);
  if (m_followLr) rescale(m_lrPlot);
  requestReplot({m_lossPlot, m_lrPlot});
}

void LiveView::requestReplot(std::initializer_list<QCustomPlot*> plots) {
  if (m_deferWhileHidden && !isVisible()) {
    m_replotPending = true;
    return;
  }
  for (QCustomPlot* plot : plots) plot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (!m_replotPending) return;
  m_replotPending = false;
  if (m_followLoss) rescale(m_lossPlot);
  if (m_followLr) rescale(m_lrPlot);
  if (m_followAccuracy) rescale(m_accuracyPlot);
  for (QCustomPlot* plot : {m_lossPlot, m_accuracyPlot, m_lrPlot}) plot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::updateProgress(const rkd::StepProgress& p) {
  if (m_haveFinal) return;
  const QString dot = QStringLiteral(" \u00b7 ");
  // Without the steps per epoch (a followed run in its first epoch) the bar counts epochs.
  const qint64 perEpoch = p.stepsPerEpoch > 0 ? p.stepsPerEpoch : 1;
  const qint64 total = std::max<qint64>(1, perEpoch * std::max(1, p.epochs));
  const qint64 done = std::min<qint64>(total, static_cast<qint64>(p.epoch) * perEpoch +
                                                  (p.stepsPerEpoch > 0 ? p.stepInEpoch + 1 : 0));
  // QProgressBar counts in int: scale very long runs down.
  const double scale = total > 1000000 ? 1000000.0 / static_cast<double>(total) : 1.0;
  m_progress->setRange(0, static_cast<int>(std::llround(static_cast<double>(total) * scale)));
  m_progress->setValue(static_cast<int>(std::llround(static_cast<double>(done) * scale)));

  // A followed run's steps per epoch are known only once it reached its second epoch (0 until then).
  QString text = tr("epoch %1/%2").arg(p.epoch + 1).arg(p.epochs) + dot +
                 (p.stepsPerEpoch > 0 ? tr("step %1/%2").arg(p.stepInEpoch + 1).arg(p.stepsPerEpoch)
                                      : tr("step %1").arg(p.stepInEpoch + 1));
  if (p.imagesPerSecond > 0)
    text += dot + tr("%1 img/s").arg(p.imagesPerSecond, 0, 'f', p.imagesPerSecond < 10 ? 1 : 0);
  if (p.etaSeconds > 0) text += dot + tr("ETA %1").arg(formatDuration(p.etaSeconds));
  if (p.reviewFactor > 0 && p.reviewFactor < 1)
    text += dot + tr("review warm-up \u00d7%1").arg(p.reviewFactor, 0, 'f', 2);
  m_progressLabel->setStyleSheet(QString());
  m_progressLabel->setText(text);
}

void LiveView::addEpoch(const rkd::EpochProgress& e) {
  if (e.runId != m_runId) return;
  const double key = e.epoch + 1;
  while (!m_epochKeys.isEmpty() && m_epochKeys.last() >= key) {  // a resumed run reports an epoch again
    m_epochKeys.removeLast();
    m_trainTop1.removeLast();
    m_testTop1.removeLast();
    m_valTop1.removeLast();
  }
  m_epochKeys.append(key);
  m_trainTop1.append(finiteOrNaN(e.trainTop1));
  m_testTop1.append(finiteOrNaN(e.testTop1));
  m_valTop1.append(e.valTop1 >= 0 ? e.valTop1 : kNaN);
  m_trainGraph->setData(m_epochKeys, m_trainTop1, true);
  m_testGraph->setData(m_epochKeys, m_testTop1, true);
  if (e.valTop1 >= 0 && !m_valGraph) {
    m_valGraph = addSeries(m_accuracyPlot, QStringLiteral("val top-1"), 2);
    m_valGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, seriesColor(2), Qt::white, 6));
    m_valGraph->setAdaptiveSampling(false);
  }
  if (m_valGraph) m_valGraph->setData(m_epochKeys, m_valTop1, true);

  // The best test top-1 so far as a dashed line with its value.
  m_bestTop1 = std::max(m_bestTop1, e.bestTop1 > 0 ? e.bestTop1 : e.testTop1);
  m_accuracyPlot->clearItems();
  if (m_bestTop1 > 0) {
    auto* line = new QCPItemStraightLine(m_accuracyPlot);
    line->point1->setCoords(0, m_bestTop1);
    line->point2->setCoords(1, m_bestTop1);
    line->setPen(QPen(QColor(120, 120, 120), 1, Qt::DashLine));
    auto* label = new QCPItemText(m_accuracyPlot);
    label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    label->position->setTypeY(QCPItemPosition::ptPlotCoords);
    label->position->setCoords(0.01, m_bestTop1);
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->setText(tr("best %1").arg(percent(m_bestTop1)));
    label->setColor(QColor(90, 90, 90));
    QFont f = m_accuracyPlot->font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    label->setFont(f);
  }

  ++m_replots;
  if (m_deferWhileHidden && !isVisible()) {
    m_replotPending = true;
    return;
  }
  if (m_followAccuracy) rescale(m_accuracyPlot);
  requestReplot({m_accuracyPlot});
}

void LiveView::endRun(const rkd::RunOutcome& outcome) {
  m_haveFinal = true;
  const QString dot = QStringLiteral(" \u00b7 ");
  const QString status = QString::fromStdString(outcome.statusText());
  const QString message = QString::fromStdString(outcome.message);
  QString text;
  QString color;
  if (outcome.status == rkd::RunStatus::Finished) {
    text = tr("finished: best %1").arg(percent(outcome.bestTop1)) + dot + tr("last %1").arg(percent(outcome.lastTop1)) +
           dot + epochsText(outcome.epochsDone);
    if (outcome.seconds > 0) text += tr(" in %1").arg(formatDuration(outcome.seconds));
    color = QStringLiteral("#2e7d32");
    m_progress->setValue(m_progress->maximum());
  } else if (outcome.status == rkd::RunStatus::Stopped) {
    text = tr("stopped after %1").arg(epochsText(outcome.epochsDone));
    if (outcome.bestTop1 > 0) text += dot + tr("best %1").arg(percent(outcome.bestTop1));
    if (!message.isEmpty()) text += dot + message;
    text += dot + tr("can be resumed");
    color = QStringLiteral("#b26a00");
  } else {
    text = (status.isEmpty() ? tr("failed") : status) + QStringLiteral(": ") +
           (message.isEmpty() ? tr("no message") : message);
    color = QStringLiteral("#c62828");
  }
  m_progressLabel->setText(text);
  m_progressLabel->setToolTip(text);
  m_progressLabel->setStyleSheet(QStringLiteral("color: %1; font-weight: bold;").arg(color));
}

void LiveView::appendLog(const QString& level, const QString& text) {
  const QString color = levelColor(level);
  const QString l = level.toLower();
  const bool severe = color == QLatin1String("#c62828") || color == QLatin1String("#b26a00");
  QString body = text.toHtmlEscaped();
  body.replace(QLatin1Char('\n'), QLatin1String("<br>"));
  const QString html =
      QStringLiteral("<span style=\"color:#9a9a9a\">%1</span> <span style=\"color:%2\">%3</span> %4")
          .arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss")), color,
               QStringLiteral("[%1]").arg(l.isEmpty() ? QStringLiteral("info") : l).toHtmlEscaped(),
               severe ? QStringLiteral("<span style=\"color:%1\">%2</span>").arg(color, body) : body);
  m_log->appendHtml(html);
}

void LiveView::setStatus(const QString& text) {
  m_status->setText(text);
  m_status->setToolTip(text);
}

}  // namespace rkd::gui
