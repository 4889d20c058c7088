#include "widgets/plot_style.h"

#include <cmath>

#include <qcustomplot.h>

namespace rkd::gui {

QColor seriesColor(int index) {
  // Tableau-like qualitative palette: distinguishable, readable on white.
  static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                                   QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127),
                                   QColor(188, 189, 34), QColor(23, 190, 207)};
  const int n = static_cast<int>(sizeof(palette) / sizeof(palette[0]));
  return palette[((index % n) + n) % n];
}

void stylePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel) {
  plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot->xAxis->setLabel(xLabel);
  plot->yAxis->setLabel(yLabel);
  plot->xAxis->grid()->setSubGridVisible(false);
  plot->yAxis->grid()->setPen(QPen(QColor(220, 220, 220), 1, Qt::DotLine));
  plot->xAxis->grid()->setPen(QPen(QColor(220, 220, 220), 1, Qt::DotLine));
  plot->legend->setVisible(true);
  plot->legend->setBrush(QBrush(QColor(255, 255, 255, 210)));
  plot->legend->setBorderPen(QPen(QColor(200, 200, 200)));
  QFont small = plot->font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  plot->legend->setFont(small);
  plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  plot->setNoAntialiasingOnDrag(true);
  // Wide antialiased polylines of thousands of points cost ~100 ms a redraw; fast polylines ~7 ms.
  plot->setPlottingHint(QCP::phFastPolylines, true);
  plot->setMinimumHeight(160);
}

QCPGraph* addSeries(QCustomPlot* plot, const QString& name, int colorIndex) {
  QCPGraph* g = plot->addGraph();
  g->setName(name);
  g->setPen(QPen(seriesColor(colorIndex), 1.6));
  g->setAdaptiveSampling(true);
  return g;
}

QVector<double> smoothed(const QVector<double>& values, double smoothing) {
  if (smoothing <= 0) return values;
  QVector<double> out(values.size());
  double avg = 0;
  bool started = false;
  for (int i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {
      out[i] = v;
      continue;
    }
    avg = started ? smoothing * avg + (1 - smoothing) * v : v;
    started = true;
    out[i] = avg;
  }
  return out;
}

QString formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("-");
  const qint64 s = static_cast<qint64>(std::llround(seconds));
  if (s >= 3600) return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
  if (s >= 60) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  return QStringLiteral("%1 s").arg(s);
}

}  // namespace rkd::gui
