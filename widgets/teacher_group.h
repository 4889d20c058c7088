#pragma once
// The experiment form's "Teacher" group: train a new teacher, take a finished run from the history, or import
// a PyTorch checkpoint (inspected against the chosen network, then accepted); the teacher's network and mode.
#include <QGroupBox>
#include <QString>
#include <vector>

#include "core/services/inspect.h"
#include "core/vocabulary/run_config.h"
#include "core/vocabulary/run_records.h"

class QButtonGroup;
class QComboBox;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QRadioButton;

namespace rkd::gui {

class TeacherGroup : public QGroupBox {
  Q_OBJECT

 public:
  enum class Source { TrainNew = 0, FromRun = 1, Import = 2 };

  explicit TeacherGroup(QWidget* parent);

  /// Fills the group from `config.teacher`; the source follows teacher.run / teacher.checkpoint. A teacher run
  /// that setFinishedRuns() did not offer is added as "not in this store".
  void load(const rkd::RunConfig& config);
  /// Writes config.teacher (only the chosen source's run or checkpoint).
  void apply(rkd::RunConfig& config) const;
  /// While a job runs nothing is editable; a method without a teacher disables the whole group.
  void updateEnabled(bool editable, bool needsTeacher);

  /// The finished runs of the store, the teacher-run choices (the selection is kept when it still exists).
  void setFinishedRuns(const std::vector<RunSummary>& runs);
  /// Selects this finished run and the source "from a run"; false (nothing changed) when it is not offered.
  bool selectRun(qint64 runId);

  Source source() const;
  QString arch() const;
  /// The network of the selected teacher run ("" when none).
  QString runArch() const;
  QString importPath() const;
  /// The file whose complete import report the user accepted ("" when none).
  QString acceptedImport() const { return m_acceptedImport; }
  void setAcceptedImport(const QString& path) { m_acceptedImport = path; }

  /// Before a checkpoint inspection: forgets the accepted file; false (and why, in the report) when there is no
  /// file or, `shapeKnown` false, the dataset has not been read yet.
  bool startInspection(bool shapeKnown);
  /// The inspection's report; only a complete one can be accepted.
  void showImportReport(const rkd::services::ImportReport& report);

  QRadioButton* sourceButton(Source source) const;
  QComboBox* archCombo() const { return m_arch; }
  QComboBox* runCombo() const { return m_run; }
  QLineEdit* importPathEdit() const { return m_importPath; }
  QPushButton* inspectButton() const { return m_inspect; }
  QPushButton* acceptButton() const { return m_accept; }
  QPlainTextEdit* reportView() const { return m_report; }

 Q_SIGNALS:
  /// The user chose another source.
  void sourceClicked();
  /// The teacher's network (or run, and with it the network) changed.
  void pairChanged();
  /// The import file changed (also while loading: an accepted import no longer holds).
  void importPathEdited();
  void inspectRequested();
  void importAccepted(const QString& path);

 private:
  void forgetAcceptedImport();

  bool m_loading = false;  // load() in progress: no per-field reactions
  QString m_acceptedImport;

  QButtonGroup* m_sources = nullptr;
  QComboBox* m_arch = nullptr;
  QComboBox* m_mode = nullptr;
  QComboBox* m_run = nullptr;
  QLineEdit* m_importPath = nullptr;
  QPushButton* m_importBrowse = nullptr;
  QPushButton* m_inspect = nullptr;
  QPushButton* m_accept = nullptr;
  QPlainTextEdit* m_report = nullptr;
};

}  // namespace rkd::gui
