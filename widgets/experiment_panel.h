#pragma once
// The experiment panel: dataset, teacher, student and method (with the four ReviewKD switches), the derived
// level table, hyperparameters, device, presets; Start / Stop / Resume. It turns the form into a RunConfig and
// back, and does every slow check (dataset, levels, checkpoint import) off the GUI thread.
#include <QFutureWatcher>
#include <QWidget>

#include "core/studio/studio.h"
#include "widgets/metatypes.h"

class QButtonGroup;
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
class QTimer;

namespace rkd::gui {

class ExperimentPanel : public QWidget {
  Q_OBJECT
 public:
  enum class TeacherSource { TrainNew = 0, FromRun = 1, Import = 2 };

  explicit ExperimentPanel(QWidget* parent = nullptr);
  ~ExperimentPanel() override;

  /// The store whose finished runs can be teachers and whose stopped runs can be resumed.
  void setStorePath(const QString& path);

  /// The config the form describes (not validated).
  rkd::RunConfig config() const;
  /// Fills the form from a config (teacher source follows teacher.run / teacher.checkpoint).
  void setConfig(const rkd::RunConfig& config);
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

  /// Last dataset check (ok false with the reader's message when it failed).
  const rkd::studio::DatasetReport& datasetReport() const { return m_datasetReport; }
  bool isChecking() const;

  // Widgets, for tests and the main window.
  QComboBox* presetCombo() const { return m_preset; }
  QComboBox* datasetKindCombo() const { return m_dataKind; }
  QComboBox* channelsCombo() const { return m_channels; }
  QLineEdit* datasetPathEdit() const { return m_dataPath; }
  QLabel* datasetStatusLabel() const { return m_dataStatus; }
  QSpinBox* perClassSpin() const { return m_perClass; }
  QSpinBox* validationSpin() const { return m_validation; }
  QRadioButton* teacherSourceButton(TeacherSource source) const;
  QComboBox* teacherArchCombo() const { return m_teacherArch; }
  QComboBox* teacherRunCombo() const { return m_teacherRun; }
  QLineEdit* importPathEdit() const { return m_importPath; }
  QPushButton* importInspectButton() const { return m_importInspect; }
  QPushButton* importAcceptButton() const { return m_importAccept; }
  QPlainTextEdit* importReportView() const { return m_importReport; }
  QComboBox* studentArchCombo() const { return m_studentArch; }
  QComboBox* methodCombo() const { return m_method; }
  QCheckBox* reviewCheck() const { return m_review; }
  QCheckBox* residualCheck() const { return m_residual; }
  QCheckBox* abfCheck() const { return m_abf; }
  QCheckBox* hclCheck() const { return m_hcl; }
  QLineEdit* pyramidEdit() const { return m_pyramid; }
  QDoubleSpinBox* reviewWeightSpin() const { return m_reviewWeight; }
  QTableWidget* levelTableWidget() const { return m_levels; }
  QLabel* levelNoteLabel() const { return m_levelNote; }
  QSpinBox* epochsSpin() const { return m_epochs; }
  QSpinBox* batchSpin() const { return m_batch; }
  QComboBox* deviceCombo() const { return m_device; }
  QSpinBox* seedSpin() const { return m_seed; }
  QSpinBox* threadsSpin() const { return m_threads; }
  QSpinBox* snapshotSpin() const { return m_snapshotEvery; }
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
  void datasetChecked(const rkd::studio::DatasetReport& report);
  void levelsUpdated();
  void checkpointInspected(const rkd::studio::ImportReport& report);
  /// Emitted whenever a field changes (the main window saves settings on it).
  void configEdited();

 private:
  QWidget* buildDatasetGroup();
  QWidget* buildTeacherGroup();
  QWidget* buildStudentGroup();
  QWidget* buildTrainingGroup();
  QWidget* buildRunGroup();
  void updateEnabledState();
  void onPairChanged();
  void scheduleLevels();
  void updateLevels();
  void inspectImport();
  void showDatasetReport(const rkd::studio::DatasetReport& report);
  void showLevels(const rkd::studio::LevelTable& table);
  void onStartClicked();
  TeacherSource teacherSource() const;
  rkd::DataConfig dataConfig() const;
  std::optional<rkd::studio::DataShape> currentShape() const;
  void setMessage(const QString& text, bool error);

  QString m_storePath;
  bool m_filling = false;  // setConfig in progress: no per-field reactions
  bool m_running = false;

  QComboBox* m_preset = nullptr;
  QLineEdit* m_name = nullptr;
  // dataset
  QComboBox* m_dataKind = nullptr;
  QLineEdit* m_dataPath = nullptr;
  QPushButton* m_dataBrowse = nullptr;
  QSpinBox* m_perClass = nullptr;
  QSpinBox* m_testPerClass = nullptr;
  QSpinBox* m_validation = nullptr;
  QSpinBox* m_padTo = nullptr;
  QSpinBox* m_imageSize = nullptr;
  QComboBox* m_channels = nullptr;
  QLabel* m_dataStatus = nullptr;
  // teacher
  QButtonGroup* m_teacherGroup = nullptr;
  QComboBox* m_teacherArch = nullptr;
  QComboBox* m_teacherRun = nullptr;
  QLineEdit* m_importPath = nullptr;
  QPushButton* m_importBrowse = nullptr;
  QPushButton* m_importInspect = nullptr;
  QPushButton* m_importAccept = nullptr;
  QPlainTextEdit* m_importReport = nullptr;
  QComboBox* m_teacherMode = nullptr;
  QString m_acceptedImport;  // the file whose complete report the user accepted
  // student and method
  QComboBox* m_studentArch = nullptr;
  QComboBox* m_method = nullptr;
  QCheckBox* m_review = nullptr;
  QCheckBox* m_residual = nullptr;
  QCheckBox* m_abf = nullptr;
  QCheckBox* m_hcl = nullptr;
  QLineEdit* m_pyramid = nullptr;
  QDoubleSpinBox* m_reviewWeight = nullptr;
  QSpinBox* m_warmup = nullptr;
  QDoubleSpinBox* m_kdWeight = nullptr;
  QDoubleSpinBox* m_kdTemperature = nullptr;
  QTableWidget* m_levels = nullptr;
  QLabel* m_levelNote = nullptr;
  // training
  QSpinBox* m_epochs = nullptr;
  QSpinBox* m_batch = nullptr;
  QDoubleSpinBox* m_lr = nullptr;
  QDoubleSpinBox* m_momentum = nullptr;
  QDoubleSpinBox* m_weightDecay = nullptr;
  QComboBox* m_schedule = nullptr;
  QLineEdit* m_milestones = nullptr;
  QDoubleSpinBox* m_gamma = nullptr;
  QComboBox* m_device = nullptr;
  QSpinBox* m_seed = nullptr;
  QSpinBox* m_threads = nullptr;
  QSpinBox* m_snapshotEvery = nullptr;
  // run
  QPushButton* m_start = nullptr;
  QPushButton* m_stop = nullptr;
  QPushButton* m_resume = nullptr;
  QComboBox* m_resumeRun = nullptr;
  QLabel* m_message = nullptr;

  // Fields a config carries that the form does not show (kept from the last setConfig).
  rkd::RunConfig m_base;

  QTimer* m_dataTimer = nullptr;
  QTimer* m_levelTimer = nullptr;
  QFutureWatcher<rkd::studio::DatasetReport> m_dataWatcher;
  QFutureWatcher<rkd::studio::LevelTable> m_levelWatcher;
  QFutureWatcher<rkd::studio::ImportReport> m_importWatcher;
  bool m_dataPending = false;   // a dataset check was started and its result is not shown yet
  bool m_levelPending = false;
  rkd::studio::DatasetReport m_datasetReport;
};

}  // namespace rkd::gui
