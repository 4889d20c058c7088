#pragma once
// Everything the store knows about one run: config, curves, per-class accuracy, checkpoints, notes and tags.
#include <QDialog>
#include <functional>
#include <cstdint>

#include "core/services/run_history.h"

class QCustomPlot;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QTabWidget;
class QTableWidget;

namespace rkd::gui {

/// Non-modal. Reads the run once when built; notes and tags added here are written at once and announced with
/// runChanged. `store` must outlive the dialog (the history panel closes its dialogs before it swaps stores).
class RunDetailDialog : public QDialog {
  Q_OBJECT

 public:
  RunDetailDialog(rkd::services::RunHistory& store, int64_t runId, QWidget* parent);

  int64_t runId() const { return m_runId; }
  QTabWidget* tabs() const { return m_tabs; }
  QLabel* headerLabel() const { return m_header; }
  QPlainTextEdit* configView() const { return m_configView; }
  /// Per-step losses (train/loss, train/ce, train/review, train/kd).
  QCustomPlot* lossPlot() const { return m_lossPlot; }
  /// Epoch-level accuracies (test/top1, test/top5, val/top1, epoch/train_top1).
  QCustomPlot* accuracyPlot() const { return m_accuracyPlot; }
  QTableWidget* classAccuracyTable() const { return m_classTable; }
  QTableWidget* checkpointTable() const { return m_checkpointTable; }
  QListWidget* notesList() const { return m_notesList; }
  QLabel* tagsLabel() const { return m_tagsLabel; }

 public Q_SLOTS:
  /// Adds a note / a tag to the run (errors go to the dialog's message line); false when nothing changed.
  bool addNote(const QString& text);
  bool addTag(const QString& tag);
  /// Removes a note (its id is the Qt::UserRole of its notesList() item) / a tag of the run.
  bool removeNote(qint64 noteId);
  bool removeTag(const QString& tag);

 Q_SIGNALS:
  /// Notes or tags of the run changed.
  void runChanged(qint64 runId);

 private:
  QWidget* buildConfigTab(const std::optional<RunRecord>& run);
  QWidget* buildCurvesTab();
  QWidget* buildClassTab();
  QWidget* buildCheckpointTab();
  QWidget* buildNotesTab();
  void reloadNotesAndTags();
  void showError(const QString& text);
  /// Runs one store edit; a store error is shown, the notes and tags are reloaded, runChanged when it changed.
  bool editStore(const std::function<bool()>& edit);

  rkd::services::RunHistory& m_store;
  int64_t m_runId = 0;
  QTabWidget* m_tabs = nullptr;
  QLabel* m_header = nullptr;
  QLabel* m_message = nullptr;
  QPlainTextEdit* m_configView = nullptr;
  QCustomPlot* m_lossPlot = nullptr;
  QCustomPlot* m_accuracyPlot = nullptr;
  QTableWidget* m_classTable = nullptr;
  QLabel* m_classSummary = nullptr;
  QTableWidget* m_checkpointTable = nullptr;
  QListWidget* m_notesList = nullptr;
  QLabel* m_tagsLabel = nullptr;
  QLineEdit* m_noteEdit = nullptr;
  QLineEdit* m_tagEdit = nullptr;
};

}  // namespace rkd::gui
