#pragma once
// The ablation study of the current pair: student alone, Hinton KD and the six switch rows of the paper,
// queued on the training controller one after another, collected into a table beside the paper's numbers.
#include <QWidget>
#include <optional>
#include <vector>

#include "core/services/ablation_study.h"

class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace rkd::gui {

class TrainingController;

class AblationPanel : public QWidget {
  Q_OBJECT
 public:
  enum Column { Row, Review, Residual, Abf, Hcl, RunId, Status, Best, Last, DeltaAlone, Paper, ColumnCount };

  AblationPanel(TrainingController* controller, QWidget* parent = nullptr);

  /// Replaces the table with the eight rows of `base` (a ReviewKD student config); nothing starts.
  void buildGrid(const rkd::RunConfig& base);
  /// Queues the given rows (indices into the table) and starts the first when the controller is idle.
  /// False (with a message) when a row is out of range or another job holds the controller.
  bool queueRows(const std::vector<int>& rows);
  /// buildGrid + queue every row: the one action of the Run ablation button.
  bool runAblation(const rkd::RunConfig& base);
  /// Stops the run in flight (it stays resumable) and drops the rest of the queue.
  void cancelQueue();

  bool isRunning() const { return m_active >= 0 || !m_queue.empty(); }
  int rowCount() const { return static_cast<int>(m_rows.size()); }
  QTableWidget* table() const { return m_table; }
  QListWidget* queueList() const { return m_queueList; }
  QPushButton* runButton() const { return m_runAll; }
  QPushButton* queueSelectedButton() const { return m_runSelected; }
  QPushButton* cancelButton() const { return m_cancel; }
  QLabel* messageLabel() const { return m_message; }

  /// The table as CSV (header row first) and as a Markdown table.
  QString csv() const;
  QString markdown() const;
  bool exportCsv(const QString& path);
  bool exportMarkdown(const QString& path);

 Q_SIGNALS:
  /// Asks the owner for the current experiment config (the main window answers by calling runAblation or buildGrid).
  void runAblationRequested();
  void queueFinished();

 private:
  using RowState = rkd::services::AblationResult;
  void startNext();
  void onJobFinished(const rkd::RunOutcome& outcome);
  void refreshTable();
  void refreshQueue();
  void setMessage(const QString& text, bool error);
  QStringList cells(int row) const;
  QStringList headers() const;

  TrainingController* m_controller;
  std::vector<RowState> m_rows;
  std::vector<int> m_queue;  // rows waiting, in order
  int m_active = -1;         // row whose job is running
  std::string m_pairText;
  QTableWidget* m_table = nullptr;
  QListWidget* m_queueList = nullptr;
  QPushButton* m_runAll = nullptr;
  QPushButton* m_runSelected = nullptr;
  QPushButton* m_cancel = nullptr;
  QPushButton* m_exportCsv = nullptr;
  QPushButton* m_exportMd = nullptr;
  QLabel* m_title = nullptr;
  QLabel* m_message = nullptr;
};

}  // namespace rkd::gui
