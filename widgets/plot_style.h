#pragma once
// Shared look of every QCustomPlot in the studio, and the small numeric helpers plots need.
#include <QColor>
#include <QString>
#include <QVector>

class QCustomPlot;
class QCPGraph;

namespace rkd::gui {

/// The n-th colour of the studio's qualitative palette (cycles).
QColor seriesColor(int index);
/// Fonts, grid, interactions (drag and wheel zoom on both axes), legend; axis labels.
void stylePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel);
/// Adds a graph with the palette colour `colorIndex` and a legend name.
QCPGraph* addSeries(QCustomPlot* plot, const QString& name, int colorIndex);
/// Exponential moving average with weight `smoothing` in [0, 1) on the past (0 = raw values); NaN passes through
/// without resetting the average.
QVector<double> smoothed(const QVector<double>& values, double smoothing);
/// "1 h 02 min", "3 min 05 s", "12 s".
QString formatDuration(double seconds);

}  // namespace rkd::gui
