#pragma once
// The experiment panel: dataset, teacher, student and method (with the four ReviewKD switches), the derived
// level table, hyperparameters, device, presets; Start / Stop / Resume. It turns the form into a RunConfig and
// back, and does every slow check (dataset, levels, checkpoint import) off the GUI thread.
// It composes one widget per group (DatasetGroup, TeacherGroup, StudentGroup, TrainingGroup), each loading and
// applying its part of the config, and ExperimentChecks, which runs the slow checks; it keeps the presets, the
// run buttons, the reactions that span groups and the store-backed run choices.
#include <QWidget>
#include <memory>
#include <optional>

#include "core/services/inspect.h"
#include "core/services/run_history.h"
#include "widgets/controllers/metatypes.h"
#include "widgets/teacher_group.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QRadioButton;
class QSettings;
class QSpinBox;
class QTableWidget;

namespace rkd::gui {

class DatasetGroup;
class ExperimentChecks;
class StudentGroup;
class TrainingGroup;

class ExperimentPanel : public QWidget {
  Q_OBJECT
 public:
  using TeacherSource = TeacherGroup::Source;

  explicit ExperimentPanel(QWidget* parent = nullptr);
  ~ExperimentPanel() override;

  /// The open run store, for the teacher-run and resume pickers (one connection, shared with History): its
  /// finished runs can be teachers and its stopped runs can be resumed.
  void setHistory(std::shared_ptr<rkd::services::RunHistory> history);

  /// The config the form describes (not validated).
  rkd::RunConfig config() const;
  /// Fills the form from a config (teacher source follows teacher.run / teacher.checkpoint).
  void setConfig(const rkd::RunConfig& config);
  /// Worker processes of the chosen device entry (1 = train in the studio; N > 1 = a distributed job of N
  /// processes that the studio launches and follows). Kept across setConfig and in the settings.
  int processes() const;
  /// Selects the device entry with that many processes for the current device; false when there is none.
  bool setProcesses(int processes);
  /// Empty when Start would be accepted, else what is wrong and how to fix it (field names as in the config).
  QString validationError() const;

  /// Fills the form with a preset's ReviewKD student recipe (teacher: train new, reused when one exists).
  void applyPreset(const QString& name);
  /// Selects "finished teacher run" with this run.
  void useTeacherRun(qint64 runId);

  /// The last settings (config, teacher source, import file) from / to QSettings. A saved config that no
  /// longer parses is reported in the panel's message line and the defaults stay.
  void loadSettings(QSettings& settings);
  void saveSettings(QSettings& settings) const;

  /// While a job runs: Start and the form are disabled, Stop enabled.
  void setRunning(bool running);
  /// Why runs cannot be recorded in the open run store ("" when they can): Start and Resume are disabled, their
  /// tool tips and the message line say why and what to do.
  void setStoreProblem(const QString& problem);
  QString storeProblem() const { return m_storeProblem; }

  /// Last dataset check (ok false with the reader's message when it failed).
  const rkd::services::DatasetReport& datasetReport() const;
  bool isChecking() const;

  // Widgets, for tests and the main window.
  QComboBox* presetCombo() const { return m_preset; }
  QComboBox* datasetKindCombo() const;
  QComboBox* channelsCombo() const;
  QLineEdit* datasetPathEdit() const;
  QLabel* datasetStatusLabel() const;
  QSpinBox* perClassSpin() const;
  QSpinBox* validationSpin() const;
  QRadioButton* teacherSourceButton(TeacherSource source) const;
  QComboBox* teacherArchCombo() const;
  QComboBox* teacherRunCombo() const;
  QLineEdit* importPathEdit() const;
  QPushButton* importInspectButton() const;
  QPushButton* importAcceptButton() const;
  QPlainTextEdit* importReportView() const;
  QComboBox* studentArchCombo() const;
  QComboBox* methodCombo() const;
  QCheckBox* reviewCheck() const;
  QCheckBox* residualCheck() const;
  QCheckBox* abfCheck() const;
  QCheckBox* hclCheck() const;
  QLineEdit* pyramidEdit() const;
  QDoubleSpinBox* reviewWeightSpin() const;
  QTableWidget* levelTableWidget() const;
  QLabel* levelNoteLabel() const;
  QSpinBox* epochsSpin() const;
  QSpinBox* batchSpin() const;
  QComboBox* deviceCombo() const;
  QSpinBox* seedSpin() const;
  QSpinBox* threadsSpin() const;
  QSpinBox* snapshotSpin() const;
  QPushButton* startButton() const { return m_start; }
  QPushButton* stopButton() const { return m_stop; }
  QPushButton* resumeButton() const { return m_resume; }
  QComboBox* resumeCombo() const { return m_resumeRun; }
  QLabel* messageLabel() const { return m_message; }

 public Q_SLOTS:
  /// Re-reads finished runs (teacher choices) and resumable runs from the store.
  void refreshRuns();
  /// Starts the dataset check now (it also starts by itself, debounced, after every dataset change).
  void checkDataset();

 Q_SIGNALS:
  void startRequested(const rkd::RunConfig& config);
  void stopRequested();
  void resumeRequested(qint64 runId);
  void datasetChecked(const rkd::services::DatasetReport& report);
  void levelsUpdated();
  void checkpointInspected(const rkd::services::ImportReport& report);
  /// Emitted whenever a field changes (the main window saves settings on it).
  void configEdited();

 private:
  QWidget* buildRunGroup();
  void connectGroups();
  void updateEnabledState();
  void onPairChanged();
  void updateLevels();
  void inspectImport();
  void showDatasetReport(const rkd::services::DatasetReport& report);
  void onStartClicked();
  std::optional<rkd::services::DataShape> currentShape() const;
  void setMessage(const QString& text, bool error);

  std::shared_ptr<rkd::services::RunHistory> m_history;
  bool m_filling = false;  // setConfig in progress: no per-field reactions
  bool m_running = false;
  QString m_storeProblem;

  ExperimentChecks* m_checks = nullptr;
  QComboBox* m_preset = nullptr;
  QLineEdit* m_name = nullptr;
  DatasetGroup* m_dataset = nullptr;
  TeacherGroup* m_teacher = nullptr;
  StudentGroup* m_student = nullptr;
  TrainingGroup* m_training = nullptr;
  // run
  QPushButton* m_start = nullptr;
  QPushButton* m_stop = nullptr;
  QPushButton* m_resume = nullptr;
  QComboBox* m_resumeRun = nullptr;
  QLabel* m_message = nullptr;

  // Fields a config carries that the form does not show (kept from the last setConfig).
  rkd::RunConfig m_base;
};

}  // namespace rkd::gui
