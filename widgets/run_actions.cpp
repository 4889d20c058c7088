#include "widgets/run_actions.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QMessageBox>
#include <QWidget>
#include <algorithm>
#include <map>

#include "core/services/run_history.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/history_status_line.h"
#include "widgets/history_text.h"
#include "widgets/run_detail_dialog.h"
#include "widgets/tag_editor_dialog.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

QAction* addPanelAction(QWidget* panel, const QString& text, const QString& tip, QStyle::StandardPixmap icon) {
  auto* a = new QAction(text, panel);
  a->setToolTip(tip);
  a->setStatusTip(tip);
  if (icon != QStyle::SP_CustomBase) a->setIcon(panel->style()->standardIcon(icon));
  a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  panel->addAction(a);  // shortcuts work anywhere in the panel
  return a;
}

RunActions::RunActions(HistoryPanel* panel, HistoryStatusLine* status) : QObject(panel), m_panel(panel), m_status(status) {
  const auto make = [panel](const QString& text, const QString& tip, QStyle::StandardPixmap icon = QStyle::SP_CustomBase) {
    return addPanelAction(panel, text, tip, icon);
  };
  m_detailsAction = make(QStringLiteral("Details"), QStringLiteral("Config, curves, per-class accuracy, checkpoints, notes (Enter)"),
                         QStyle::SP_FileDialogDetailedView);
  m_tagsAction = make(QStringLiteral("Tags…"), QStringLiteral("Add or remove tags of the selected runs"));
  m_noteAction = make(QStringLiteral("Note…"), QStringLiteral("Add a note to the selected runs"));
  m_exportAction = make(QStringLiteral("Export CSV…"), QStringLiteral("Write the metrics of the selected runs as CSV"),
                        QStyle::SP_DialogSaveButton);
  m_weightsAction = make(QStringLiteral("Export weights…"),
                         QStringLiteral("Write the run's trained network (no review head) as a PyTorch state dict"));
  m_onnxAction = make(QStringLiteral("Export ONNX…"),
                      QStringLiteral("Write the run's trained network as an ONNX model for inference (BatchNorms folded)"));
  m_deleteAction = make(QStringLiteral("Delete"), QStringLiteral("Delete the selected runs from the store (Del)"),
                        QStyle::SP_TrashIcon);
  m_useAsTeacherAction = make(QStringLiteral("Use as teacher"), QStringLiteral("Start a new run that distils from this finished run"),
                              QStyle::SP_ArrowForward);
  m_resumeAction = make(QStringLiteral("Resume"), QStringLiteral("Continue this stopped or interrupted run"), QStyle::SP_MediaPlay);
  m_followAction = make(QStringLiteral("Follow live"),
                        QStringLiteral("Show this running run's curves and progress live, as another process writes them"),
                        QStyle::SP_MediaSeekForward);
  m_copyConfigAction = make(QStringLiteral("Copy config JSON"), QStringLiteral("Copy the run's full config to the clipboard"));

  connect(m_detailsAction, &QAction::triggered, this, [this] { openDetailOfSelected(); });
  connect(m_tagsAction, &QAction::triggered, this, [this] { editTagsOfSelected(); });
  connect(m_noteAction, &QAction::triggered, this, [this] { noteOnSelected(); });
  connect(m_exportAction, &QAction::triggered, this, [this] { exportCsvWithDialog(); });
  connect(m_weightsAction, &QAction::triggered, this, [this] { exportWeightsWithDialog(); });
  connect(m_onnxAction, &QAction::triggered, this, [this] { exportOnnxWithDialog(); });
  connect(m_deleteAction, &QAction::triggered, this, [this] { deleteSelected(true); });
  connect(m_useAsTeacherAction, &QAction::triggered, this, [this] { requestUseAsTeacher(); });
  connect(m_resumeAction, &QAction::triggered, this, [this] { requestResume(); });
  connect(m_copyConfigAction, &QAction::triggered, this, [this] { copyConfigOfSelected(); });
  connect(m_followAction, &QAction::triggered, this, [this] { requestFollow(); });
}

const services::HistoryRow* RunActions::rowOfRun(int64_t id) const { return m_panel->model()->findRun(id); }

void RunActions::updateEnabled() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const int n = static_cast<int>(ids.size());
  const services::HistoryRow* single = n == 1 ? rowOfRun(ids.front()) : nullptr;
  const bool store = m_panel->history() != nullptr;
  int running = 0;
  for (int64_t id : ids)
    if (const auto* r = rowOfRun(id); r && r->run.status == RunStatus::Running) ++running;

  m_detailsAction->setEnabled(store && n == 1);
  m_tagsAction->setEnabled(store && n >= 1);
  m_noteAction->setEnabled(store && n >= 1);
  m_exportAction->setEnabled(store && n >= 1);
  m_weightsAction->setEnabled(store && single && single->run.epochsDone > 0);
  m_onnxAction->setEnabled(m_weightsAction->isEnabled());
  m_deleteAction->setEnabled(store && n >= 1 && running < n);
  m_copyConfigAction->setEnabled(store && n == 1);

  const bool canTeach = single && single->run.status == RunStatus::Finished;
  m_useAsTeacherAction->setEnabled(store && canTeach);
  m_useAsTeacherAction->setToolTip(canTeach ? QStringLiteral("Start a new run that distils from %1").arg(runLabel(single->run.id, single->run.name))
                                            : QStringLiteral("Select one finished run to use it as the teacher of a new run"));
  const bool canResume =
      single && (single->run.status == RunStatus::Stopped || single->run.status == RunStatus::Interrupted);
  m_resumeAction->setEnabled(store && canResume);
  m_resumeAction->setToolTip(canResume ? QStringLiteral("Continue %1 from its last checkpoint").arg(runLabel(single->run.id, single->run.name))
                                       : QStringLiteral("Select one stopped or interrupted run to resume it"));
  const bool canFollow = single && single->run.status == RunStatus::Running;
  m_followAction->setEnabled(store && canFollow);
  m_followAction->setToolTip(canFollow ? QStringLiteral("Follow %1 live in the Live training tab").arg(runLabel(single->run.id, single->run.name))
                                       : QStringLiteral("Select one running run to follow it live"));
  m_deleteAction->setToolTip(running > 0 ? QStringLiteral("Delete the selected runs (running runs are kept: stop them first)")
                                         : QStringLiteral("Delete the selected runs from the store (Del)"));
}

// --- exports ------------------------------------------------------------------------------------------------

QString RunActions::askSavePath(const QString& title, const QString& suggestion, const QString& filter, const QString& suffix) {
  // The dialog asks before it lets the user pick an existing file; a suffix added here names another file, so
  // replacing that one is asked here. Every path this returns may be replaced.
  QString path = QFileDialog::getSaveFileName(m_panel, title, suggestion, filter);
  if (!path.isEmpty() && !path.contains(QLatin1Char('.'))) {
    path += suffix;
    if (QFileInfo::exists(path) &&
        QMessageBox::question(m_panel, title, QStringLiteral("%1 already exists. Replace it?").arg(path)) != QMessageBox::Yes)
      return {};
  }
  return path;
}

bool RunActions::exportSelectionCsv(const QString& path) {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const auto store = m_panel->history();
  if (!store) {
    m_status->showMessage(QStringLiteral("No run store is open"), true);
    return false;
  }
  if (ids.empty()) {
    m_status->showMessage(QStringLiteral("Select the runs whose metrics to export"), true);
    return false;
  }
  if (path.isEmpty()) {
    m_status->showMessage(QStringLiteral("No file name given for the CSV export"), true);
    return false;
  }
  if (!m_status->attempt(QStringLiteral("Exporting CSV"), [&] { store->writeCsv(ids, path.toStdString(), /*replace=*/true); })) return false;
  m_status->showMessage(QStringLiteral("Exported the metrics of %1 to %2").arg(runCount(static_cast<int>(ids.size())), path));
  return true;
}

void RunActions::exportCsvWithDialog() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (ids.empty() || !m_panel->isInteractive()) return;
  QStringList parts;
  for (int64_t id : ids) parts << QString::number(id);
  const QString suggestion = QDir::home().filePath(QStringLiteral("runs-%1.csv").arg(parts.join(QLatin1Char('-')).left(60)));
  const QString path = askSavePath(QStringLiteral("Export metrics as CSV"), suggestion,
                                   QStringLiteral("CSV files (*.csv);;All files (*)"), QStringLiteral(".csv"));
  if (!path.isEmpty()) exportSelectionCsv(path);
}

bool RunActions::exportWeights(int64_t runId, const QString& path, bool best) {
  const auto store = m_panel->history();
  if (!store) return false;
  const services::WeightsExport e = store->exportWeights(runId, path.toStdString(), best, /*replace=*/true);  // never throws
  if (!e.ok) {
    m_status->showMessage(QStringLiteral("Exporting the weights of run %1: %2").arg(runId).arg(qs(e.error)), true);
    return false;
  }
  m_status->showMessage(
      QStringLiteral("Wrote %1: %2 tensors of %3 from %4. In Python: net.load_state_dict(torch.load(path), strict=True)")
          .arg(path)
          .arg(e.entries)
          .arg(qs(e.arch), qs(e.source)));
  return true;
}

void RunActions::exportWeightsWithDialog() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (ids.size() != 1 || !m_panel->isInteractive()) return;
  const auto* row = rowOfRun(ids.front());
  const QString suggestion = QDir::home().filePath(
      QStringLiteral("run-%1-%2.pt").arg(ids.front()).arg(row ? qs(row->run.studentArch) : QStringLiteral("student")));
  const QString path = askSavePath(QStringLiteral("Export the trained network"), suggestion,
                                   QStringLiteral("PyTorch state dict (*.pt *.pth);;All files (*)"), QStringLiteral(".pt"));
  if (!path.isEmpty()) exportWeights(ids.front(), path, true);
}

bool RunActions::exportOnnx(int64_t runId, const QString& path, bool best) {
  const auto store = m_panel->history();
  if (!store) return false;
  QApplication::setOverrideCursor(Qt::WaitCursor);  // traces the network: up to a few seconds for the largest
  const services::OnnxExport e = store->exportOnnx(runId, path.toStdString(), best, 1, /*replace=*/true);  // never throws
  QApplication::restoreOverrideCursor();
  if (!e.ok) {
    m_status->showMessage(QStringLiteral("Exporting run %1 as ONNX: %2").arg(runId).arg(qs(e.error)), true);
    return false;
  }
  m_status->showMessage(QStringLiteral("Wrote %1: %2 from %3; input \"input\" %4 (normalised as in training), output "
                                       "\"logits\"; %5 nodes, %6 BatchNorms folded")
                            .arg(path, qs(e.arch), qs(e.source), qs(e.inputShapeText()))
                            .arg(e.nodes)
                            .arg(e.foldedBatchNorms));
  return true;
}

void RunActions::exportOnnxWithDialog() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (ids.size() != 1 || !m_panel->isInteractive()) return;
  const QString suggestion = QDir::home().filePath(QStringLiteral("run-%1.onnx").arg(ids.front()));
  const QString path = askSavePath(QStringLiteral("Export the trained network as ONNX"), suggestion,
                                   QStringLiteral("ONNX models (*.onnx);;All files (*)"), QStringLiteral(".onnx"));
  if (!path.isEmpty()) exportOnnx(ids.front(), path, true);
}

void RunActions::copyConfigOfSelected() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const auto store = m_panel->history();
  if (!store || ids.size() != 1) return;
  std::optional<RunRecord> run;
  if (!m_status->attempt(QStringLiteral("Reading the config"), [&] { run = store->run(ids.front()); }) || !run) return;
  QApplication::clipboard()->setText(qs(run->config.dump(2)));
  m_status->showMessage(QStringLiteral("Copied the config of %1").arg(runLabel(run->id, run->name)));
}

// --- deleting -----------------------------------------------------------------------------------------------

bool RunActions::deleteSelected(bool askConfirmation) {
  if (!m_panel->history()) return false;
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (ids.empty()) {
    m_status->showMessage(QStringLiteral("Select the runs to delete"), true);
    return false;
  }
  std::vector<int64_t> doomed;
  QStringList running, names;
  for (int64_t id : ids) {
    const services::HistoryRow* r = rowOfRun(id);
    const QString label = runLabel(id, r ? r->run.name : std::string());
    if (r && r->run.status == RunStatus::Running) {
      running << label;
    } else {
      doomed.push_back(id);
      names << label;
    }
  }
  if (doomed.empty()) {
    m_status->showMessage(QStringLiteral("%1 still running: stop it before deleting it").arg(running.join(QStringLiteral(", "))), true);
    return false;
  }
  if (askConfirmation && m_panel->isInteractive()) {
    QStringList shown = names.mid(0, 10);
    if (names.size() > 10) shown << QStringLiteral("… and %1 more").arg(names.size() - 10);
    QString text = QStringLiteral("Delete %1?\n\n%2\n\nTheir metrics, checkpoint records, tags and notes are removed from the "
                                  "store; checkpoint files on disk are kept.")
                       .arg(runCount(static_cast<int>(doomed.size())), shown.join(QLatin1Char('\n')));
    if (!running.isEmpty()) text += QStringLiteral("\n\nStill running, kept: ") + running.join(QStringLiteral(", "));
    if (QMessageBox::question(m_panel, QStringLiteral("Delete runs"), text, QMessageBox::Yes | QMessageBox::Cancel,
                              QMessageBox::Cancel) != QMessageBox::Yes)
      return false;
  }
  int deleted = 0;
  const auto store = m_panel->history();  // the one open after the confirmation
  const bool ok = m_status->attempt(QStringLiteral("Deleting runs"), [&] {
    for (int64_t id : doomed) {
      store->deleteRun(id);  // refused inside the store's transaction when a live process trains it
      ++deleted;
    }
  });
  // A detail dialog of a deleted run would show stale data.
  for (const auto& d : m_dialogs)
    if (d && std::find(doomed.begin(), doomed.end(), d->runId()) != doomed.end()) d->close();
  m_panel->refresh();
  if (ok) {
    QString text = QStringLiteral("Deleted %1").arg(runCount(deleted));
    if (!running.isEmpty()) text += QStringLiteral(" (kept, still running: %1)").arg(running.join(QStringLiteral(", ")));
    m_status->showMessage(text);
  }
  return ok && deleted > 0;
}

// --- tags and notes -----------------------------------------------------------------------------------------

// Writes `text` (trimmed, not empty) to every selected run; the messages say what is missing, or what was done.
bool RunActions::writeToSelected(const QString& text, const QString& selectFirst, const QString& emptyText,
                                 const QString& operation,
                                 const std::function<void(rkd::services::RunHistory&, int64_t, const std::string&)>& write) {
  const QString t = text.trimmed();
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const auto store = m_panel->history();
  if (!store || ids.empty()) {
    m_status->showMessage(selectFirst, true);
    return false;
  }
  if (t.isEmpty()) {
    m_status->showMessage(emptyText, true);
    return false;
  }
  const bool ok = m_status->attempt(operation, [&] {
    for (int64_t id : ids) write(*store, id, t.toStdString());
  });
  m_panel->refresh();
  return ok;
}

void RunActions::addTagToSelected(const QString& tag) {
  const int count = static_cast<int>(m_panel->selectedRunIds().size());
  if (writeToSelected(tag, QStringLiteral("Select the runs to tag"), QStringLiteral("A tag cannot be empty"),
                      QStringLiteral("Adding tag"),
                      [](rkd::services::RunHistory& h, int64_t id, const std::string& t) { h.addTag(id, t); }))
    m_status->showMessage(QStringLiteral("Tagged %1 \"%2\"").arg(runCount(count), tag.trimmed()));
}

void RunActions::removeTagFromSelected(const QString& tag) {
  const QString t = tag.trimmed();
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const auto store = m_panel->history();
  if (!store || ids.empty() || t.isEmpty()) return;
  int removed = 0;
  const bool ok = m_status->attempt(QStringLiteral("Removing tag"), [&] {
    for (int64_t id : ids)
      if (store->removeTag(id, t.toStdString())) ++removed;
  });
  m_panel->refresh();
  if (ok) m_status->showMessage(QStringLiteral("Removed \"%1\" from %2").arg(t, runCount(removed)));
}

void RunActions::addNoteToSelected(const QString& text) {
  const int count = static_cast<int>(m_panel->selectedRunIds().size());
  if (writeToSelected(text, QStringLiteral("Select the runs to annotate"), QStringLiteral("A note cannot be empty"),
                      QStringLiteral("Adding note"),
                      [](rkd::services::RunHistory& h, int64_t id, const std::string& t) { h.addNote(id, t); }))
    m_status->showMessage(QStringLiteral("Added a note to %1").arg(runCount(count)));
}

void RunActions::editTagsOfSelected() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (!m_panel->history() || ids.empty() || !m_panel->isInteractive()) return;
  // How many of the selected runs carry each tag.
  std::map<QString, int> counts;
  for (int64_t id : ids)
    if (const auto* r = rowOfRun(id))
      for (const auto& t : r->run.tags) ++counts[qs(t)];
  const int n = static_cast<int>(ids.size());

  TagEditorDialog dialog(m_panel->allTags(), counts, n, m_panel);
  if (dialog.exec() != QDialog::Accepted) return;
  const QStringList toAdd = dialog.tagsToAdd();
  const QStringList toRemove = dialog.tagsToRemove();
  const auto store = m_panel->history();  // the one open when the dialog closed
  const bool ok = m_status->attempt(QStringLiteral("Changing tags"), [&] {
    for (int64_t id : ids) {
      for (const QString& t : toAdd) store->addTag(id, t.toStdString());
      for (const QString& t : toRemove) store->removeTag(id, t.toStdString());
    }
  });
  m_panel->refresh();
  if (ok && (!toAdd.isEmpty() || !toRemove.isEmpty())) m_status->showMessage(QStringLiteral("Tags of %1 updated").arg(runCount(n)));
}

void RunActions::noteOnSelected() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (!m_panel->history() || ids.empty() || !m_panel->isInteractive()) return;
  bool ok = false;
  const QString text = QInputDialog::getMultiLineText(
      m_panel, QStringLiteral("Add note"), QStringLiteral("Note for %1:").arg(runCount(static_cast<int>(ids.size()))),
      QString(), &ok);
  if (ok && !text.trimmed().isEmpty()) addNoteToSelected(text);
}

// --- handing runs on ----------------------------------------------------------------------------------------

void RunActions::requestUseAsTeacher() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const services::HistoryRow* r = ids.size() == 1 ? rowOfRun(ids.front()) : nullptr;
  if (!r || r->run.status != RunStatus::Finished) {
    m_status->showMessage(QStringLiteral("Select one finished run to use it as a teacher"), true);
    return;
  }
  Q_EMIT useAsTeacherRequested(r->run.id);
}

void RunActions::requestResume() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const services::HistoryRow* r = ids.size() == 1 ? rowOfRun(ids.front()) : nullptr;
  if (!r || (r->run.status != RunStatus::Stopped && r->run.status != RunStatus::Interrupted)) {
    m_status->showMessage(QStringLiteral("Select one stopped or interrupted run to resume it"), true);
    return;
  }
  Q_EMIT resumeRequested(r->run.id);
}

void RunActions::requestFollow() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  const services::HistoryRow* r = ids.size() == 1 ? rowOfRun(ids.front()) : nullptr;
  if (!r || r->run.status != RunStatus::Running) {
    m_status->showMessage(QStringLiteral("Select one running run to follow it live"), true);
    return;
  }
  Q_EMIT followRequested(r->run.id);
}

// --- detail dialogs -----------------------------------------------------------------------------------------

void RunActions::openDetailOfSelected() {
  const std::vector<int64_t> ids = m_panel->selectedRunIds();
  if (ids.size() == 1) openDetail(ids.front());
}

void RunActions::openDetail(int64_t runId) {
  const auto store = m_panel->history();
  if (!store) {
    m_status->showMessage(QStringLiteral("No run store is open"), true);
    return;
  }
  for (const auto& d : m_dialogs) {
    if (d && d->runId() == runId) {
      d->show();
      d->raise();
      d->activateWindow();
      return;
    }
  }
  auto* dialog = new RunDetailDialog(*store, runId, m_panel);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &RunDetailDialog::runChanged, m_panel, [this] { m_panel->refresh(); });
  m_dialogs.removeAll(QPointer<RunDetailDialog>());
  m_dialogs.append(dialog);
  dialog->show();
}

QList<RunDetailDialog*> RunActions::openDetailDialogs() const {
  QList<RunDetailDialog*> out;
  for (const auto& d : m_dialogs)
    if (d) out << d.data();
  return out;
}

void RunActions::closeDetailDialogs() {
  for (const auto& d : m_dialogs) delete d.data();
  m_dialogs.clear();
}

}  // namespace rkd::gui
