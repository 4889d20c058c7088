#pragma once
// The live training view: per-step loss curves (total, CE, review, KD, each level's HCL) with smoothing, per-epoch
// accuracy, learning rate, a progress line and the engine's log. Data arrive in batches (the controller coalesces
// steps to at most ~25 batches per second); each batch appends to the graphs and asks for one queued replot.
#include <QMetaType>
#include <QString>
#include <QVector>
#include <QWidget>
#include <initializer_list>
#include <vector>

#include "core/vocabulary/progress.h"
#include "widgets/controllers/metatypes.h"  // the value types as Qt meta types (queued signals)

class QCustomPlot;
class QCPGraph;
class QCPRange;
class QCheckBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSlider;

namespace rkd::gui {

class LiveView : public QWidget {
  Q_OBJECT
 public:
  explicit LiveView(QWidget* parent = nullptr);

  /// Per step: "total", "CE", "review", "KD" (only once a nonzero KD loss arrived), then one graph per level
  /// (named by StepProgress::levelLabels, "level N" where a label is missing).
  QCustomPlot* lossPlot() const;
  /// Per epoch (x = epoch counted from 1): "train top-1", "test top-1", "val top-1" (when valTop1 >= 0).
  QCustomPlot* accuracyPlot() const;
  /// Per step learning rate.
  QCustomPlot* lrPlot() const;
  QSlider* smoothingSlider() const;   ///< 0..99 -> smoothing 0..0.99 of the loss curves
  QProgressBar* progressBar() const;
  QLabel* progressLabel() const;      ///< "epoch 3/15 · step 120/235 · 512 img/s · ETA 4 min 10 s"
  QPlainTextEdit* logPane() const;
  QLabel* statusLabel() const;
  QLabel* titleLabel() const;
  QCheckBox* logScaleCheck() const;   ///< log scale on the loss plot's y axis
  QPushButton* resetViewButton() const;
  /// Number of replots requested by arriving data: one per addSteps batch (loss and lr plots) and one per
  /// addEpoch (accuracy plot). Interaction (smoothing, log scale, reset view) is not counted.
  int replotCount() const;
  /// Whether the axes still follow the data (false after the user zoomed or dragged any plot).
  bool isFollowing() const;
  double smoothing() const;
  qint64 runId() const;
  /// The graph of `plot` with that legend name, or nullptr.
  static QCPGraph* graphNamed(QCustomPlot* plot, const QString& name);

 /// When on (the studio's main window), data keeps arriving while the view is hidden but the plots are drawn only
  /// when it is shown again.
  void setDeferWhileHidden(bool on) { m_deferWhileHidden = on; }

 public Q_SLOTS:
  void beginRun(qint64 runId, const QString& title);
  void addSteps(const std::vector<rkd::StepProgress>& steps);
  void addEpoch(const rkd::EpochProgress& epoch);
  void endRun(const rkd::RunOutcome& outcome);
  void appendLog(const QString& level, const QString& text);
  void setStatus(const QString& text);
  /// Rescales every plot to its data and follows new data again.
  void resetView();

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  /// Queues a replot of `plots`, or remembers it for showEvent while deferred and hidden.
  void requestReplot(std::initializer_list<QCustomPlot*> plots);
  /// Finite bounds of the values a graph shows, kept up to date per batch (rescaling never scans a graph).
  struct Bounds {
    double lower = 0, upper = 0, positiveLower = 0;
    bool any = false, anyPositive = false;
    void add(double v);
  };
  /// One per-step curve: raw values (kept so a smoothing change recomputes) and the running average state.
  struct Series {
    QString name;
    int colorIndex = 0;
    bool smooth = true;
    QCPGraph* graph = nullptr;   ///< created lazily (KD, levels)
    QVector<double> raw;         ///< one value per entry of m_stepKeys (NaN where absent)
    int applied = 0;             ///< raw values already handed to the graph
    double average = 0;
    bool started = false;
    Bounds bounds;               ///< of the values handed to the graph
  };

  void clearPlots();
  void ensureGraph(Series& s, QCustomPlot* plot);
  void pushNew(Series& s);
  void recompute(Series& s);
  void applySmoothing(int sliderValue);
  void setLogScale(bool on);
  void rescale(QCustomPlot* plot);
  void userRangeChange(QCustomPlot* plot);
  void updateFollowUi();
  void updateProgress(const rkd::StepProgress& last);
  void installFollowHooks(QCustomPlot* plot);
  bool stepValueBounds(QCustomPlot* plot, bool logScale, QCPRange& out) const;
  void toggleGraph(QCustomPlot* plot, QCPGraph* graph);

  QLabel* m_title = nullptr;
  QLabel* m_status = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_progressLabel = nullptr;
  QCustomPlot* m_lossPlot = nullptr;
  QCustomPlot* m_accuracyPlot = nullptr;
  QCustomPlot* m_lrPlot = nullptr;
  QSlider* m_smoothingSlider = nullptr;
  QLabel* m_smoothingValue = nullptr;
  QCheckBox* m_logScale = nullptr;
  QPushButton* m_resetView = nullptr;
  QPlainTextEdit* m_log = nullptr;

  qint64 m_runId = 0;
  double m_smoothing = 0;
  int m_replots = 0;
  bool m_rescaling = false;       ///< set while the view changes ranges itself
  bool m_followLoss = true;
  bool m_followAccuracy = true;
  bool m_followLr = true;
  bool m_haveFinal = false;

  QVector<double> m_stepKeys;
  Series m_total, m_ce, m_review, m_kd, m_lr;
  std::vector<Series> m_levels;
  QVector<double> m_epochKeys;
  QVector<double> m_trainTop1, m_testTop1, m_valTop1;
  QCPGraph* m_trainGraph = nullptr;
  QCPGraph* m_testGraph = nullptr;
  QCPGraph* m_valGraph = nullptr;
  double m_bestTop1 = 0;
  bool m_deferWhileHidden = false;
  bool m_replotPending = false;
};

}  // namespace rkd::gui
