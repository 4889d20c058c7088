#pragma once
// What the history panel can do to its selected runs: details, tags, notes, copy the config, export CSV,
// weights or ONNX, delete, use as teacher, resume. Owns those actions (toolbar, context menu, shortcuts), keeps
// them enabled as the selection allows, runs them against the panel's store, and keeps the detail dialogs.
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStyle>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/services/run_history.h"

class QAction;
class QWidget;

namespace rkd::services {
struct HistoryRow;
}

namespace rkd::gui {

class HistoryPanel;
class HistoryStatusLine;
class RunDetailDialog;

/// An action of the history panel: its shortcuts work anywhere in the panel.
QAction* addPanelAction(QWidget* panel, const QString& text, const QString& tip,
                        QStyle::StandardPixmap icon = QStyle::SP_CustomBase);

class RunActions : public QObject {
  Q_OBJECT

 public:
  /// Acts on `panel`'s selection and store (read when an action runs); reports on `status`.
  RunActions(HistoryPanel* panel, HistoryStatusLine* status);

  QAction* detailsAction() const { return m_detailsAction; }
  QAction* tagsAction() const { return m_tagsAction; }
  QAction* noteAction() const { return m_noteAction; }
  QAction* copyConfigAction() const { return m_copyConfigAction; }
  QAction* exportAction() const { return m_exportAction; }
  QAction* weightsAction() const { return m_weightsAction; }
  QAction* onnxAction() const { return m_onnxAction; }
  QAction* deleteAction() const { return m_deleteAction; }
  QAction* useAsTeacherAction() const { return m_useAsTeacherAction; }
  QAction* resumeAction() const { return m_resumeAction; }
  /// Follow live: the selected running run's curves, progress and status in the live view, read from the store.
  QAction* followAction() const { return m_followAction; }

  /// Enables (and explains, in tool tips) the actions the panel's selection allows.
  void updateEnabled();

  // The panel's public operations, on its selected runs; see HistoryPanel.
  bool exportSelectionCsv(const QString& path);
  bool deleteSelected(bool askConfirmation);
  void addTagToSelected(const QString& tag);
  void removeTagFromSelected(const QString& tag);
  void addNoteToSelected(const QString& text);
  bool exportWeights(int64_t runId, const QString& path, bool best);
  bool exportOnnx(int64_t runId, const QString& path, bool best);
  void openDetail(int64_t runId);
  void openDetailOfSelected();

  QList<RunDetailDialog*> openDetailDialogs() const;
  /// Closes every detail dialog: they hold a reference to the store.
  void closeDetailDialogs();

 Q_SIGNALS:
  void useAsTeacherRequested(qint64 runId);
  void resumeRequested(qint64 runId);
  void followRequested(qint64 runId);

 private:
  bool writeToSelected(const QString& text, const QString& selectFirst, const QString& emptyText,
                       const QString& operation,
                       const std::function<void(rkd::services::RunHistory&, int64_t, const std::string&)>& write);
  void editTagsOfSelected();
  void noteOnSelected();
  void exportCsvWithDialog();
  void exportWeightsWithDialog();
  void exportOnnxWithDialog();
  void copyConfigOfSelected();
  void requestUseAsTeacher();
  void requestResume();
  void requestFollow();
  /// Asks for a file to write (none when cancelled); a name without a suffix gets `suffix`.
  QString askSavePath(const QString& title, const QString& suggestion, const QString& filter, const QString& suffix);
  const services::HistoryRow* rowOfRun(int64_t id) const;

  HistoryPanel* m_panel;
  HistoryStatusLine* m_status;
  QList<QPointer<RunDetailDialog>> m_dialogs;

  QAction* m_detailsAction = nullptr;
  QAction* m_tagsAction = nullptr;
  QAction* m_noteAction = nullptr;
  QAction* m_exportAction = nullptr;
  QAction* m_weightsAction = nullptr;
  QAction* m_onnxAction = nullptr;
  QAction* m_deleteAction = nullptr;
  QAction* m_useAsTeacherAction = nullptr;
  QAction* m_resumeAction = nullptr;
  QAction* m_followAction = nullptr;
  QAction* m_copyConfigAction = nullptr;
};

}  // namespace rkd::gui
