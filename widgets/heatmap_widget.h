#pragma once
// One feature map drawn as a heatmap: a QCustomPlot holding a QCPColorMap and its QCPColorScale, with a title on
// top and square cells. Used by the stage feature view (teacher, review output, difference, ABF attention).
#include <QString>
#include <QWidget>
#include <vector>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPItemText;
class QCPItemRect;
class QLabel;
class QMouseEvent;

namespace rkd::gui {

class HeatmapWidget : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapWidget(const QString& title, QWidget* parent = nullptr);

  /// Shows a row-major height x width map (row 0 at the top). The colour range follows the data (symmetric
  /// around 0 when diverging) until setColorRange() fixes it for this map.
  void setMap(int width, int height, const std::vector<float>& values);
  /// Difference maps: symmetric range around 0 with a blue-white-red gradient; otherwise a sequential
  /// (viridis-like) gradient over [min, max].
  void setDiverging(bool on);
  /// Hides the map and shows `reason` in its place (e.g. "no ABF at this level").
  void clear(const QString& reason = {});
  /// Fixes the colour range of the current map (e.g. teacher and review output on one scale).
  void setColorRange(double lower, double upper);
  void setTitle(const QString& title);

  QString title() const;
  bool hasData() const;
  double minValue() const;       ///< of the data (0 without data)
  double maxValue() const;
  double colorLower() const;     ///< the colour scale's range
  double colorUpper() const;
  bool isDiverging() const;
  QString clearReason() const;   ///< the text shown while cleared
  int mapWidth() const;
  int mapHeight() const;
  /// The value at cell (x, y) of the current map (NaN outside or without data).
  double valueAt(int x, int y) const;
  QCustomPlot* plot() const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void elideTitle();
  void applyRange();
  void applyGradient();
  void fitAspect();
  void showTooltip(QMouseEvent* event);

  QCustomPlot* m_plot = nullptr;
  QLabel* m_title = nullptr;
  QCPColorMap* m_map = nullptr;
  QCPColorScale* m_scale = nullptr;
  QCPItemText* m_reasonText = nullptr;
  QCPItemRect* m_frame = nullptr;
  QString m_titleText;
  QString m_reason;
  bool m_diverging = false;
  bool m_hasData = false;
  bool m_fixedRange = false;
  int m_width = 0;
  int m_height = 0;
  std::vector<float> m_values;
  double m_min = 0;
  double m_max = 0;
  double m_lower = 0;
  double m_upper = 1;
};

}  // namespace rkd::gui
