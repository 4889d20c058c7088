// The live view's plots as a viewer: graphs by name, the user's zoom and pan against following the newest data,
// legends that toggle graphs, smoothed series, the log scale and the ranges the plots rescale to. The view's
// layout and what it is fed (runs, steps, epochs, the log) are in live_view.cpp.
#include "widgets/live_view.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <qcustomplot.h>

#include "widgets/plot_style.h"

namespace rkd::gui {
namespace {

/// Widens `out` to cover `r`; the first range (found still false) replaces it.
void includeRange(QCPRange& out, bool& found, const QCPRange& r) {
  if (found) {
    out.expand(r);
  } else {
    out = r;
    found = true;
  }
}

/// Finite y bounds of the graphs of `plot` (only positive values when `logScale`).
bool valueBounds(QCustomPlot* plot, bool logScale, QCPRange& out) {
  bool found = false;
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    if (!g->visible() || g->dataCount() == 0) continue;
    bool ok = false;
    const QCPRange r = g->data()->valueRange(ok, logScale ? QCP::sdPositive : QCP::sdBoth);
    if (!ok || !std::isfinite(r.lower) || !std::isfinite(r.upper)) continue;
    includeRange(out, found, r);
  }
  return found;
}

bool keyBounds(QCustomPlot* plot, QCPRange& out) {
  bool found = false;
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    if (g->dataCount() == 0) continue;
    // Keys are sorted: the first and last entries are the bounds (O(1), unlike keyRange()).
    const QCPRange r(g->data()->constBegin()->key, (g->data()->constEnd() - 1)->key);
    includeRange(out, found, r);
  }
  return found;
}

}  // namespace

QCPGraph* LiveView::graphNamed(QCustomPlot* plot, const QString& name) {
  if (!plot) return nullptr;
  for (int i = 0; i < plot->graphCount(); ++i)
    if (plot->graph(i)->name() == name) return plot->graph(i);
  return nullptr;
}

void LiveView::installFollowHooks(QCustomPlot* plot) {
  // Any range change the view did not make itself is the user's zoom or drag: stop following that plot.
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis})
    connect(axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this, plot](const QCPRange&) {
      if (!m_rescaling) userRangeChange(plot);
    });
  connect(plot, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { resetView(); });
}

void LiveView::toggleGraph(QCustomPlot* plot, QCPGraph* graph) {
  graph->setVisible(!graph->visible());
  if (QCPPlottableLegendItem* item = plot->legend->itemWithPlottable(graph)) {
    item->setTextColor(graph->visible() ? Qt::black : QColor(170, 170, 170));
    item->setFont(plot->legend->font());
    QFont f = item->font();
    f.setStrikeOut(!graph->visible());
    item->setFont(f);
  }
  const bool follow = plot == m_lossPlot ? m_followLoss : plot == m_lrPlot ? m_followLr : m_followAccuracy;
  if (follow) rescale(plot);
  plot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::userRangeChange(QCustomPlot* plot) {
  if (plot == m_lossPlot) m_followLoss = false;
  if (plot == m_accuracyPlot) m_followAccuracy = false;
  if (plot == m_lrPlot) m_followLr = false;
  updateFollowUi();
}

void LiveView::updateFollowUi() { m_resetView->setEnabled(!isFollowing()); }

void LiveView::resetView() {
  m_followLoss = m_followAccuracy = m_followLr = true;
  updateFollowUi();
  for (QCustomPlot* plot : {m_lossPlot, m_accuracyPlot, m_lrPlot}) {
    rescale(plot);
    plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

void LiveView::clearPlots() {
  m_rescaling = true;
  m_stepKeys.clear();
  m_epochKeys.clear();
  m_trainTop1.clear();
  m_testTop1.clear();
  m_valTop1.clear();
  m_levels.clear();
  m_bestTop1 = 0;
  m_lossPlot->clearGraphs();
  m_lrPlot->clearGraphs();
  m_accuracyPlot->clearGraphs();
  m_accuracyPlot->clearItems();

  auto init = [](Series& s, const QString& name, int color, bool smooth) {
    s = Series();
    s.name = name;
    s.colorIndex = color;
    s.smooth = smooth;
  };
  init(m_total, QStringLiteral("total"), 0, true);
  init(m_ce, QStringLiteral("CE"), 1, true);
  init(m_review, QStringLiteral("review"), 2, true);
  init(m_kd, QStringLiteral("KD"), 3, true);
  init(m_lr, QStringLiteral("lr"), 0, false);
  ensureGraph(m_total, m_lossPlot);
  m_total.graph->setPen(QPen(seriesColor(0), 2.2));
  ensureGraph(m_ce, m_lossPlot);
  ensureGraph(m_review, m_lossPlot);
  ensureGraph(m_lr, m_lrPlot);
  m_lr.graph->setLineStyle(QCPGraph::lsStepLeft);

  m_trainGraph = addSeries(m_accuracyPlot, QStringLiteral("train top-1"), 1);
  m_testGraph = addSeries(m_accuracyPlot, QStringLiteral("test top-1"), 0);
  m_valGraph = nullptr;
  for (QCPGraph* g : {m_trainGraph, m_testGraph}) {
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, g->pen().color(), Qt::white, 6));
    g->setAdaptiveSampling(false);
  }
  m_testGraph->setPen(QPen(seriesColor(0), 2.0));

  m_lossPlot->xAxis->setRange(0, 100);
  m_lrPlot->xAxis->setRange(0, 100);
  m_accuracyPlot->xAxis->setRange(0.5, 5.5);
  m_accuracyPlot->yAxis->setRange(0, 100);
  m_rescaling = false;
  m_followLoss = m_followAccuracy = m_followLr = true;
  updateFollowUi();
  for (QCustomPlot* plot : {m_lossPlot, m_accuracyPlot, m_lrPlot}) plot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::ensureGraph(Series& s, QCustomPlot* plot) {
  if (s.graph) return;
  s.graph = addSeries(plot, s.name, s.colorIndex);
  s.applied = 0;
  s.started = false;
  s.average = 0;
  s.bounds = Bounds();
}

void LiveView::pushNew(Series& s) {
  // Only the values the graph has not seen yet; the running average continues from where it stopped, so the
  // result equals smoothed() over the whole series.
  const int n = s.raw.size();
  if (!s.graph || s.applied >= n) return;
  const double w = s.smooth ? m_smoothing : 0.0;
  QVector<double> keys(n - s.applied), values(n - s.applied);
  for (int i = s.applied; i < n; ++i) {
    const double v = s.raw[i];
    double out = v;
    if (std::isfinite(v) && w > 0) {
      s.average = s.started ? w * s.average + (1 - w) * v : v;
      s.started = true;
      out = s.average;
    }
    keys[i - s.applied] = m_stepKeys[i];
    values[i - s.applied] = out;
    s.bounds.add(out);
  }
  s.graph->addData(keys, values, true);
  s.applied = n;
}

void LiveView::recompute(Series& s) {
  if (!s.graph) return;
  s.graph->data()->clear();
  s.applied = 0;
  s.started = false;
  s.average = 0;
  s.bounds = Bounds();
  pushNew(s);
}

void LiveView::applySmoothing(int sliderValue) {
  m_smoothing = std::clamp(sliderValue, 0, 99) / 100.0;
  m_smoothingValue->setText(QString::number(m_smoothing, 'f', 2));
  for (Series* s : {&m_total, &m_ce, &m_review, &m_kd}) recompute(*s);
  for (Series& s : m_levels) recompute(s);
  if (m_followLoss) rescale(m_lossPlot);
  m_lossPlot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::setLogScale(bool on) {
  m_rescaling = true;
  QCPAxis* y = m_lossPlot->yAxis;
  if (on) {
    y->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
    ticker->setSubTickCount(8);
    y->setTicker(ticker);
    y->setNumberFormat(QStringLiteral("gb"));
  } else {
    y->setScaleType(QCPAxis::stLinear);
    y->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    y->setNumberFormat(QStringLiteral("gbd"));
  }
  m_rescaling = false;
  // A new scale type needs a new range whatever the user did before.
  m_followLoss = true;
  updateFollowUi();
  rescale(m_lossPlot);
  m_lossPlot->replot(QCustomPlot::rpQueuedReplot);
}

void LiveView::rescale(QCustomPlot* plot) {
  m_rescaling = true;
  QCPRange keys;
  if (keyBounds(plot, keys)) {
    if (plot == m_accuracyPlot) {
      keys.lower -= 0.5;
      keys.upper += 0.5;
      if (keys.size() < 4) keys.upper = keys.lower + 4;
    } else if (keys.size() <= 0) {
      keys.upper = keys.lower + 1;
    }
    plot->xAxis->setRange(keys);
  }
  const bool log = plot->yAxis->scaleType() == QCPAxis::stLogarithmic;
  QCPRange values;
  if (plot == m_accuracyPlot ? valueBounds(plot, log, values) : stepValueBounds(plot, log, values)) {
    if (log) {
      if (values.upper / values.lower < 1.5) {
        values.lower /= 1.25;
        values.upper *= 1.25;
      } else {
        const double f = std::pow(values.upper / values.lower, 0.05);
        values.lower /= f;
        values.upper *= f;
      }
    } else {
      double pad = values.size() * 0.06;
      if (!(pad > 0)) pad = std::abs(values.upper) > 0 ? std::abs(values.upper) * 0.1 : 0.5;
      values.lower -= pad;
      values.upper += pad;
      if (plot == m_accuracyPlot) {
        values.lower = std::max(0.0, values.lower);
        values.upper = std::min(100.0, values.upper);
        if (values.size() < 2) values.lower = std::max(0.0, values.upper - 2);
      } else if (values.lower < 0 && plot == m_lrPlot) {
        values.lower = 0;
      }
    }
    plot->yAxis->setRange(values);
  }
  m_rescaling = false;
}

bool LiveView::stepValueBounds(QCustomPlot* plot, bool logScale, QCPRange& out) const {
  bool found = false;
  auto take = [&](const Series& s) {
    if (!s.graph || !s.graph->visible()) return;
    const Bounds& b = s.bounds;
    if (logScale ? !b.anyPositive : !b.any) return;
    const QCPRange r(logScale ? b.positiveLower : b.lower, b.upper);
    includeRange(out, found, r);
  };
  if (plot == m_lrPlot) {
    take(m_lr);
  } else {
    for (const Series* s : {&m_total, &m_ce, &m_review, &m_kd}) take(*s);
    for (const Series& s : m_levels) take(s);
  }
  return found;
}

}  // namespace rkd::gui
