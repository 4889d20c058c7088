#pragma once
// The history panel: every run of the store in a filterable, sortable table; the selected runs' curves overlaid
// and their config differences; tags, notes, delete, CSV export, details, "use as teacher" and resume.
// It owns the store connection, the table and the selection, and composes its parts: RunOverlayView (curves),
// ConfigDiffView (config diff), RunActions (what can be done to the selected runs) and HistoryStatusLine.
#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/services/run_history.h"

class QAction;
class QComboBox;
class QCustomPlot;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSplitter;
class QTableView;
class QTableWidget;
class QTimer;

namespace rkd::gui {

class ConfigDiffView;
class HistoryModel;
class HistoryFilterModel;
class HistoryStatusLine;
class RunActions;
class RunDetailDialog;
class RunOverlayView;

class HistoryPanel : public QWidget {
  Q_OBJECT

 public:
  explicit HistoryPanel(QWidget* parent = nullptr);
  ~HistoryPanel() override;

  /// Opens its own connection to the store at `path` (closing the previous one and any open detail dialog)
  /// and refreshes. An empty path closes the store.
  void setStorePath(const QString& path);
  QString storePath() const;
  /// The open store (shared with the experiment panel's run pickers); null when none could be opened.
  std::shared_ptr<rkd::services::RunHistory> history() const { return m_store; }
  /// Why the store of setStorePath could not be opened ("" when it is open, or no path was given).
  QString openError() const { return m_openError; }
  /// Every tag of the store, as of the last refresh.
  QStringList allTags() const { return m_allTags; }

  /// When false (tests): no dialogs at all; confirmations are accepted and messages only go to statusLabel().
  /// Message boxes are also only shown while the panel is visible.
  void setInteractive(bool interactive);
  bool isInteractive() const { return m_interactive; }

  QTableView* table() const { return m_table; }
  HistoryModel* model() const { return m_model; }
  QLineEdit* filterEdit() const { return m_filterEdit; }
  QComboBox* statusFilter() const { return m_statusFilter; }
  QComboBox* pairFilter() const { return m_pairFilter; }
  QComboBox* tagFilter() const { return m_tagFilter; }
  /// The selected runs' curves of overlayMetric() (x = epoch for epoch-level metrics, step for per-step ones).
  QCustomPlot* overlayPlot() const;
  /// The metric key to overlay: "test/top1" by default, "train/loss", "train/ce", "train/review", "lr", ...
  QComboBox* overlayMetric() const;
  /// Smoothing of per-step metrics in the overlay (exponential moving average weight, 0 = raw).
  QDoubleSpinBox* overlaySmoothing() const;
  /// Config diff of the selected runs: one row per differing field (vertical header = dotted field path), one
  /// column per run (in selectedRunIds() order). The run name is left out (the column headers show it).
  QTableWidget* diffTable() const;
  /// "3 runs differ in 4 fields" / "Select two or more runs to compare their configs".
  QLabel* diffLabel() const;
  /// The last message (errors in red).
  QLabel* statusLabel() const;
  /// "12 of 40 runs".
  QLabel* countLabel() const { return m_countLabel; }

  QAction* refreshAction() const { return m_refreshAction; }
  QAction* compareAction() const { return m_compareAction; }
  QAction* tagsAction() const;
  QAction* noteAction() const;
  QAction* deleteAction() const;
  QAction* exportAction() const;
  QAction* weightsAction() const;
  QAction* onnxAction() const;
  QAction* detailsAction() const;
  QAction* useAsTeacherAction() const;
  QAction* resumeAction() const;
  QAction* followAction() const;

  /// Selected runs, in the table's visible order.
  std::vector<int64_t> selectedRunIds() const;
  /// Selects exactly these runs (those filtered out are skipped).
  void selectRuns(const std::vector<int64_t>& ids);
  int visibleRowCount() const;
  /// The detail dialogs now open.
  QList<RunDetailDialog*> openDetailDialogs() const;

 public Q_SLOTS:
  /// Re-reads the store (keeps selection, sort and filters).
  void refresh();
  /// Refreshes when the run list changed since the last refresh (cheap check: one listRuns query); otherwise
  /// only advances running runs' durations and, when a selected run is running, its overlaid curve. Returns
  /// whether it refreshed. The panel's timer calls it every 2 s while the panel is visible.
  bool refreshIfChanged();
  /// Writes the metrics of the selected runs with RunStore::exportCsv; false (and a message) on failure.
  bool exportSelectionCsv(const QString& path);
  /// Deletes the selected runs (not running ones) after a confirmation when interactive.
  bool deleteSelected(bool askConfirmation = true);
  void addTagToSelected(const QString& tag);
  void removeTagFromSelected(const QString& tag);
  void addNoteToSelected(const QString& text);
  /// Writes a run's trained network (best checkpoint, or last with `best` false) as a PyTorch state dict
  /// without the review head; false (and a message) on failure.
  bool exportWeights(int64_t runId, const QString& path, bool best = true);
  /// Writes a run's trained network (best checkpoint, or last with `best` false) as an ONNX model for inference
  /// (fixed batch of 1, BatchNorms folded); false (and a message) on failure.
  bool exportOnnx(int64_t runId, const QString& path, bool best = true);
  /// Opens a non-modal RunDetailDialog (parented to the panel).
  void openDetail(int64_t runId);

 Q_SIGNALS:
  /// A finished run (teacher or student: any finished run can teach) is to be the teacher of a new run.
  void useAsTeacherRequested(qint64 runId);
  /// A stopped or interrupted run is to be resumed.
  void resumeRequested(qint64 runId);
  /// A running run is to be followed live (History > Follow live).
  void followRequested(qint64 runId);
  void selectionChanged();

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  void buildUi();
  void createActions();
  void onSelectionChanged();
  void updateActions();
  void updateFilterCombos();
  void updateCountLabel();
  void updateComparison();
  void showComparison();
  void showContextMenu(const QPoint& pos);
  /// Cheap fingerprint of the run list (ids, statuses, progress, results, names, tags).
  static size_t signatureOf(const std::vector<RunSummary>& runs);

  std::shared_ptr<rkd::services::RunHistory> m_store;
  QString m_storePath;
  QString m_openError;
  bool m_interactive = true;
  bool m_restoring = false;
  bool m_columnsSized = false;
  size_t m_signature = 0;
  std::vector<int64_t> m_lastSelection;
  QStringList m_allTags;

  HistoryModel* m_model = nullptr;
  HistoryFilterModel* m_proxy = nullptr;
  HistoryStatusLine* m_status = nullptr;
  RunActions* m_actions = nullptr;
  QTableView* m_table = nullptr;
  QLineEdit* m_filterEdit = nullptr;
  QComboBox* m_statusFilter = nullptr;
  QComboBox* m_pairFilter = nullptr;
  QComboBox* m_tagFilter = nullptr;
  QLabel* m_countLabel = nullptr;
  QSplitter* m_splitter = nullptr;
  RunOverlayView* m_overlay = nullptr;
  ConfigDiffView* m_diff = nullptr;
  QTimer* m_pollTimer = nullptr;

  QAction* m_refreshAction = nullptr;
  QAction* m_compareAction = nullptr;
};

}  // namespace rkd::gui
