#pragma once
// The history panel's overlay: one metric of the selected runs, one curve each, against the epoch (epoch-level
// metrics) or the step (per-step ones, optionally smoothed). The panel owns the store and the selection; the view
// reads the curves from what it is given and asks for a new plot when its metric or smoothing changes.
#include <QWidget>
#include <cstdint>
#include <vector>

#include "core/services/run_history.h"

class QComboBox;
class QCPItemText;
class QCustomPlot;
class QDoubleSpinBox;

namespace rkd::gui {

class HistoryModel;
class HistoryStatusLine;

class RunOverlayView : public QWidget {
  Q_OBJECT

 public:
  /// Curves are labelled as `model` names the runs; read errors go to `status` (never in a message box).
  RunOverlayView(const HistoryModel* model, HistoryStatusLine* status, QWidget* parent);

  QCustomPlot* plot() const { return m_plot; }
  /// The metric key to overlay: "test/top1" by default, "train/loss", "train/ce", "train/review", "lr", ...
  QComboBox* metricCombo() const { return m_metric; }
  /// Smoothing of per-step metrics (exponential moving average weight, 0 = raw).
  QDoubleSpinBox* smoothingSpin() const { return m_smoothing; }

  /// Offers the metrics `runs` logged (the preferred ones first, the current one kept) and plots them.
  /// `store` null: no store is open, nothing is read.
  void showRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs);
  /// Re-reads and plots the chosen metric of `runs` (a running run's curve grows between epochs).
  void plotRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs);

 Q_SIGNALS:
  /// The metric or the smoothing changed: the owner plots its runs again.
  void settingsChanged();

 private:
  void updateMetricChoices(rkd::services::RunHistory* store, const std::vector<int64_t>& runs);

  const HistoryModel* m_model;
  HistoryStatusLine* m_status;
  QComboBox* m_metric = nullptr;
  QDoubleSpinBox* m_smoothing = nullptr;
  QCustomPlot* m_plot = nullptr;
  QCPItemText* m_hint = nullptr;
};

}  // namespace rkd::gui
