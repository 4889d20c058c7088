#include "widgets/experiment_panel.h"

#include <QAbstractSpinBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QVBoxLayout>

#include "core/services/catalog.h"
#include "core/services/errors.h"
#include "widgets/dataset_group.h"
#include "widgets/controllers/experiment_checks.h"
#include "widgets/form_fields.h"
#include "widgets/student_group.h"
#include "widgets/training_group.h"

namespace rkd::gui {

ExperimentPanel::ExperimentPanel(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<rkd::RunConfig>();
  m_checks = new ExperimentChecks(this);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // the form wraps; it never scrolls sideways
  auto* content = new QWidget(scroll);
  auto* layout = new QVBoxLayout(content);

  auto* presetRow = new QHBoxLayout;
  m_preset = new QComboBox(content);
  m_preset->addItem(tr("Custom"), QString());
  for (const auto& p : rkd::presets())
    m_preset->addItem(QString::fromStdString(p.name + "  -  " + p.description), QString::fromStdString(p.name));
  m_preset->setToolTip(tr("The published pairs of the paper (CIFAR-100 recipes) and the quick CPU demo on Fashion-MNIST"));
  presetRow->addWidget(new QLabel(tr("Preset"), content));
  presetRow->addWidget(m_preset, 1);
  layout->addLayout(presetRow);
  auto* nameRow = new QHBoxLayout;
  m_name = new QLineEdit(content);
  m_name->setPlaceholderText(tr("run name (optional: the config summary is used)"));
  nameRow->addWidget(new QLabel(tr("Name"), content));
  nameRow->addWidget(m_name, 1);
  layout->addLayout(nameRow);

  m_dataset = new DatasetGroup(content);
  m_teacher = new TeacherGroup(content);
  m_student = new StudentGroup(content);
  m_training = new TrainingGroup(content);
  layout->addWidget(m_dataset);
  layout->addWidget(m_teacher);
  layout->addWidget(m_student);
  layout->addWidget(m_training);
  layout->addStretch(1);
  scroll->setWidget(content);
  outer->addWidget(scroll, 1);
  outer->addWidget(buildRunGroup());

  for (QComboBox* combo : findChildren<QComboBox*>()) compactCombo(combo);
  widenPopup(m_preset);
  // Explicit minimum widths: a spin box's own minimum follows its largest value (the seed's 2^31) and would make
  // the form wider than the panel; these fields grow with the panel instead.
  for (QAbstractSpinBox* s : findChildren<QAbstractSpinBox*>()) {
    s->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    s->setMinimumWidth(64);
  }

  connectGroups();
  connect(m_preset, &QComboBox::activated, this, [this](int index) {
    const QString name = m_preset->itemData(index).toString();
    if (!name.isEmpty()) applyPreset(name);
  });

  rkd::RunConfig initial = rkd::findPreset("quick").student;
  setConfig(initial);
  selectData(m_preset, QStringLiteral("quick"));
}

ExperimentPanel::~ExperimentPanel() = default;

// --- building the form --------------------------------------------------------------------------------------

QWidget* ExperimentPanel::buildRunGroup() {
  auto* box = new QWidget(this);
  auto* layout = new QVBoxLayout(box);
  auto* buttons = new QHBoxLayout;
  m_start = new QPushButton(tr("Start"), box);
  m_start->setDefault(true);
  m_start->setToolTip(tr("Train with these settings on a background thread"));
  m_stop = new QPushButton(tr("Stop"), box);
  m_stop->setToolTip(tr("Finish the step in flight, keep the checkpoint; the run can be resumed"));
  m_stop->setEnabled(false);
  m_resume = new QPushButton(tr("Resume"), box);
  m_resume->setToolTip(tr("Continue a stopped or interrupted run from its last checkpoint"));
  m_resumeRun = new QComboBox(box);
  m_resumeRun->setPlaceholderText(tr("no stopped run"));
  m_resumeRun->setMinimumWidth(120);
  buttons->addWidget(m_start);
  buttons->addWidget(m_stop);
  buttons->addSpacing(12);
  buttons->addWidget(m_resume);
  buttons->addWidget(m_resumeRun, 1);
  layout->addLayout(buttons);
  m_message = new QLabel(box);
  m_message->setWordWrap(true);
  m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(m_message);
  connect(m_start, &QPushButton::clicked, this, &ExperimentPanel::onStartClicked);
  connect(m_stop, &QPushButton::clicked, this, [this] {
    m_stop->setEnabled(false);
    setMessage(tr("Stopping after the step in flight..."), false);
    Q_EMIT stopRequested();
  });
  connect(m_resume, &QPushButton::clicked, this, [this] {
    const qint64 id = m_resumeRun->currentData().toLongLong();
    if (id > 0) Q_EMIT resumeRequested(id);
  });
  return box;
}

// The reactions that reach past one group. Each is skipped while setConfig fills the form, as a group skips its
// own reactions while it loads; a user's choice of teacher source, a new import file and a new schedule are not.
void ExperimentPanel::connectGroups() {
  const auto edited = [this] {
    if (!m_filling) Q_EMIT configEdited();
  };
  connect(m_dataset, &DatasetGroup::kindChanged, this, [this] {
    if (m_filling) return;
    updateEnabledState();
    m_checks->scheduleDataset();
    m_checks->scheduleLevels();
    Q_EMIT configEdited();
  });
  connect(m_dataset, &DatasetGroup::edited, this, [this](bool shapeToo) {
    if (m_filling) return;
    m_checks->scheduleDataset();
    if (shapeToo) m_checks->scheduleLevels();
    Q_EMIT configEdited();
  });

  connect(m_teacher, &TeacherGroup::sourceClicked, this, [this] {
    updateEnabledState();
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_teacher, &TeacherGroup::pairChanged, this, [this] {
    if (m_filling) return;
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_teacher, &TeacherGroup::importPathEdited, this, [this] { Q_EMIT configEdited(); });
  connect(m_teacher, &TeacherGroup::inspectRequested, this, [this] { inspectImport(); });
  connect(m_teacher, &TeacherGroup::importAccepted, this, [this](const QString& path) {
    setMessage(tr("Teacher checkpoint accepted: %1").arg(path), false);
    Q_EMIT configEdited();
  });

  connect(m_student, &StudentGroup::switchToggled, this, [this] {
    if (m_filling) return;
    updateEnabledState();
    Q_EMIT configEdited();
  });
  connect(m_student, &StudentGroup::methodChanged, this, [this] {
    if (m_filling) return;
    updateEnabledState();
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_student, &StudentGroup::pairChanged, this, [this] {
    if (m_filling) return;
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_student, &StudentGroup::edited, this, edited);

  connect(m_training, &TrainingGroup::scheduleChanged, this, [this] {
    updateEnabledState();
    if (!m_filling) Q_EMIT configEdited();
  });
  connect(m_training, &TrainingGroup::edited, this, edited);
  connect(m_training, &TrainingGroup::seedChanged, this, [this] {
    if (!m_filling) m_checks->scheduleDataset();
  });

  connect(m_checks, &ExperimentChecks::datasetDue, this, &ExperimentPanel::checkDataset);
  connect(m_checks, &ExperimentChecks::levelsDue, this, [this] { updateLevels(); });
  connect(m_checks, &ExperimentChecks::datasetChecked, this,
          [this](const rkd::services::DatasetReport& report) { showDatasetReport(report); });
  connect(m_checks, &ExperimentChecks::levelsDerived, this, [this](const rkd::services::LevelTable& table) {
    m_student->showLevels(table);
    Q_EMIT levelsUpdated();
  });
  connect(m_checks, &ExperimentChecks::checkpointInspected, this, [this](const rkd::services::ImportReport& report) {
    m_teacher->showImportReport(report);
    Q_EMIT checkpointInspected(report);
  });
}

// --- widgets ------------------------------------------------------------------------------------------------

QComboBox* ExperimentPanel::datasetKindCombo() const { return m_dataset->kindCombo(); }
QComboBox* ExperimentPanel::channelsCombo() const { return m_dataset->channelsCombo(); }
QLineEdit* ExperimentPanel::datasetPathEdit() const { return m_dataset->pathEdit(); }
QLabel* ExperimentPanel::datasetStatusLabel() const { return m_dataset->statusLabel(); }
QSpinBox* ExperimentPanel::perClassSpin() const { return m_dataset->perClassSpin(); }
QSpinBox* ExperimentPanel::validationSpin() const { return m_dataset->validationSpin(); }
QRadioButton* ExperimentPanel::teacherSourceButton(TeacherSource source) const { return m_teacher->sourceButton(source); }
QComboBox* ExperimentPanel::teacherArchCombo() const { return m_teacher->archCombo(); }
QComboBox* ExperimentPanel::teacherRunCombo() const { return m_teacher->runCombo(); }
QLineEdit* ExperimentPanel::importPathEdit() const { return m_teacher->importPathEdit(); }
QPushButton* ExperimentPanel::importInspectButton() const { return m_teacher->inspectButton(); }
QPushButton* ExperimentPanel::importAcceptButton() const { return m_teacher->acceptButton(); }
QPlainTextEdit* ExperimentPanel::importReportView() const { return m_teacher->reportView(); }
QComboBox* ExperimentPanel::studentArchCombo() const { return m_student->archCombo(); }
QComboBox* ExperimentPanel::methodCombo() const { return m_student->methodCombo(); }
QCheckBox* ExperimentPanel::reviewCheck() const { return m_student->reviewCheck(); }
QCheckBox* ExperimentPanel::residualCheck() const { return m_student->residualCheck(); }
QCheckBox* ExperimentPanel::abfCheck() const { return m_student->abfCheck(); }
QCheckBox* ExperimentPanel::hclCheck() const { return m_student->hclCheck(); }
QLineEdit* ExperimentPanel::pyramidEdit() const { return m_student->pyramidEdit(); }
QDoubleSpinBox* ExperimentPanel::reviewWeightSpin() const { return m_student->reviewWeightSpin(); }
QTableWidget* ExperimentPanel::levelTableWidget() const { return m_student->levelTable(); }
QLabel* ExperimentPanel::levelNoteLabel() const { return m_student->levelNote(); }
QSpinBox* ExperimentPanel::epochsSpin() const { return m_training->epochsSpin(); }
QSpinBox* ExperimentPanel::batchSpin() const { return m_training->batchSpin(); }
QComboBox* ExperimentPanel::deviceCombo() const { return m_training->deviceCombo(); }
QSpinBox* ExperimentPanel::seedSpin() const { return m_training->seedSpin(); }
QSpinBox* ExperimentPanel::threadsSpin() const { return m_training->threadsSpin(); }
QSpinBox* ExperimentPanel::snapshotSpin() const { return m_training->snapshotSpin(); }

// --- state ----------------------------------------------------------------------------------------------------

void ExperimentPanel::updateEnabledState() {
  const bool editable = !m_running;
  m_student->updateEnabled(editable);
  m_teacher->updateEnabled(editable, m_student->needsTeacher());
  m_dataset->updateEnabled(editable);
  m_training->updateEnabled(editable);
  m_preset->setEnabled(editable);
  m_name->setEnabled(editable);
  const bool storeOk = m_storeProblem.isEmpty();
  m_start->setEnabled(editable && storeOk);
  m_start->setToolTip(storeOk ? QString() : m_storeProblem);
  m_stop->setEnabled(m_running);
  m_resume->setEnabled(editable && storeOk && m_resumeRun->count() > 0);
  m_resume->setToolTip(storeOk ? QString() : m_storeProblem);
  m_resumeRun->setEnabled(editable);
}

void ExperimentPanel::setStoreProblem(const QString& problem) {
  m_storeProblem = problem;
  if (!problem.isEmpty()) setMessage(problem, true);
  updateEnabledState();
}

void ExperimentPanel::setRunning(bool running) {
  m_running = running;
  updateEnabledState();
}

rkd::RunConfig ExperimentPanel::config() const {
  rkd::RunConfig c = m_base;
  c.name = m_name->text().trimmed().toStdString();
  c.kind = "student";
  m_dataset->apply(c);
  m_student->apply(c);  // first: it reads the base's method (the CE weight follows it)
  m_teacher->apply(c);
  m_training->apply(c);
  return c;
}

void ExperimentPanel::setConfig(const rkd::RunConfig& c) {
  m_filling = true;
  m_base = c;
  m_name->setText(QString::fromStdString(c.name));
  m_dataset->load(c);
  if (c.teacher.run > 0) refreshRuns();  // the teacher group selects the run among the store's finished runs
  m_student->load(c);
  m_teacher->load(c);
  const int processes = m_training->processes();
  m_training->load(c);
  if (processes > 1) m_training->setProcesses(processes);  // the studio's choice outlives a config or preset
  m_filling = false;
  selectData(m_preset, QString());
  updateEnabledState();
  m_checks->scheduleDataset();
  m_checks->scheduleLevels();
}

QString ExperimentPanel::validationError() const {
  const rkd::RunConfig c = config();
  for (const QString& error : {m_student->fieldError(), m_training->fieldError()})
    if (!error.isEmpty()) return error;
  try {
    c.validate();
  } catch (const rkd::UserError& e) {
    return QString::fromStdString(e.full());
  }
  const bool needsTeacher = c.method != "student-alone";
  const TeacherSource source = m_teacher->source();
  if (needsTeacher && source == TeacherSource::FromRun && c.teacher.run <= 0)
    return tr("Teacher: no finished run is selected. Train one first, choose another teacher source, or pick a run "
              "in History and use 'Use as teacher'.");
  if (needsTeacher && source == TeacherSource::Import) {
    if (c.teacher.checkpoint.empty()) return tr("Teacher: choose a checkpoint file to import.");
    if (m_teacher->acceptedImport() != m_teacher->importPath())
      return tr("Teacher: inspect the checkpoint and accept its import report first.");
  }
  const rkd::services::DatasetReport& report = datasetReport();
  if (!report.ok && !report.error.empty() && !isChecking())
    return tr("Dataset: %1").arg(QString::fromStdString(report.summary()));
  return {};
}

int ExperimentPanel::processes() const { return m_training->processes(); }

bool ExperimentPanel::setProcesses(int processes) { return m_training->setProcesses(processes); }

const rkd::services::DatasetReport& ExperimentPanel::datasetReport() const { return m_checks->datasetReport(); }

bool ExperimentPanel::isChecking() const { return m_checks->isChecking(); }

void ExperimentPanel::setMessage(const QString& text, bool error) {
  m_message->setText(text);
  m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void ExperimentPanel::onStartClicked() {
  const QString error = validationError();
  if (!error.isEmpty()) {
    setMessage(error, true);
    return;
  }
  setMessage(QString(), false);
  Q_EMIT startRequested(config());
}

// --- presets and settings -----------------------------------------------------------------------------------

void ExperimentPanel::applyPreset(const QString& name) {
  try {
    const rkd::Preset& p = rkd::findPreset(name.toStdString());
    setConfig(p.student);
    m_teacher->sourceButton(TeacherSource::TrainNew)->setChecked(true);
    updateEnabledState();
    selectData(m_preset, name);
    setMessage(tr("Preset %1: %2").arg(name, QString::fromStdString(p.description)), false);
    Q_EMIT configEdited();
  } catch (const rkd::UserError& e) {
    setMessage(QString::fromStdString(e.full()), true);
  }
}

void ExperimentPanel::useTeacherRun(qint64 runId) {
  refreshRuns();
  if (!m_teacher->selectRun(runId)) {
    setMessage(tr("Run %1 is not a finished run of this store, so it cannot be a teacher.").arg(runId), true);
    return;
  }
  updateEnabledState();
  onPairChanged();
  setMessage(tr("Teacher: run %1 (%2)").arg(runId).arg(m_teacher->runArch()), false);
  Q_EMIT configEdited();
}

void ExperimentPanel::loadSettings(QSettings& settings) {
  const QString text = settings.value(QStringLiteral("experiment/config")).toString();
  if (text.isEmpty()) return;
  try {
    const nlohmann::json j = nlohmann::json::parse(text.toStdString());
    const rkd::RunConfig c = rkd::runConfigFromJson(j, "the saved settings");
    setConfig(c);
    const QString accepted = settings.value(QStringLiteral("experiment/acceptedImport")).toString();
    if (!accepted.isEmpty() && accepted == m_teacher->importPathEdit()->text()) m_teacher->setAcceptedImport(accepted);
    const QString preset = settings.value(QStringLiteral("experiment/preset")).toString();
    if (!preset.isEmpty()) selectData(m_preset, preset);
    const int processes = settings.value(QStringLiteral("experiment/processes"), 1).toInt();
    if (processes > 1 && !m_training->setProcesses(processes))
      setMessage(tr("The saved device choice of %1 processes is not offered on this machine; one process is "
                    "selected.")
                     .arg(processes),
                 false);
  } catch (const std::exception& e) {
    setMessage(tr("The saved settings (%1) were not restored: %2. The defaults are shown; starting a run saves new "
                  "settings.")
                   .arg(settings.fileName(), QString::fromUtf8(e.what())),
               true);
  }
}

void ExperimentPanel::saveSettings(QSettings& settings) const {
  settings.setValue(QStringLiteral("experiment/config"), QString::fromStdString(rkd::toJson(config()).dump()));
  settings.setValue(QStringLiteral("experiment/acceptedImport"), m_teacher->acceptedImport());
  settings.setValue(QStringLiteral("experiment/preset"), m_preset->currentData().toString());
  settings.setValue(QStringLiteral("experiment/processes"), m_training->processes());
}

// --- store-backed choices -----------------------------------------------------------------------------------

void ExperimentPanel::setHistory(std::shared_ptr<rkd::services::RunHistory> history) {
  m_history = std::move(history);
  refreshRuns();
}

void ExperimentPanel::refreshRuns() {
  if (!m_history) return;
  const qint64 resumeWas = m_resumeRun->currentData().toLongLong();
  m_resumeRun->clear();
  std::vector<RunSummary> runs;
  try {
    // The run list alone (no configs) is all these two choices need, from the store the history has open.
    runs = m_history->list();
  } catch (const std::exception& e) {
    setMessage(tr("Run store %1: %2").arg(QString::fromStdString(m_history->path()), QString::fromUtf8(e.what())), true);
  }
  m_teacher->setFinishedRuns(runs);
  for (const auto& r : runs)
    if (r.status == rkd::RunStatus::Stopped || r.status == rkd::RunStatus::Interrupted)
      m_resumeRun->addItem(QStringLiteral("#%1 %2 (%3)")
                               .arg(r.id)
                               .arg(QString::fromStdString(r.name), QString::fromStdString(rkd::toString(r.status))),
                           QString::number(r.id));
  selectData(m_resumeRun, QString::number(resumeWas));
  widenPopup(m_resumeRun);
  updateEnabledState();
}

// --- slow checks off the GUI thread -------------------------------------------------------------------------

void ExperimentPanel::checkDataset() {
  m_dataset->showChecking();
  m_checks->checkDataset(m_dataset->dataConfig(), m_training->seed());
}

void ExperimentPanel::showDatasetReport(const rkd::services::DatasetReport& report) {
  m_dataset->showReport(report);
  // An image folder's shape is known only now.
  if (report.ok && !rkd::services::knownShape(m_dataset->dataConfig())) m_checks->scheduleLevels();
  Q_EMIT datasetChecked(report);
}

std::optional<rkd::services::DataShape> ExperimentPanel::currentShape() const {
  return m_checks->shapeOf(m_dataset->dataConfig());
}

void ExperimentPanel::onPairChanged() {
  if (m_filling) return;
  const std::string t = m_teacher->arch().toStdString();
  const std::string s = m_student->arch().toStdString();
  // The published pair table's review weight (the spec's 5.0 start for pairs the paper does not list).
  m_student->setReviewWeight(rkd::referenceReviewWeight(t, s));
  m_checks->scheduleLevels();
}

void ExperimentPanel::updateLevels() {
  const auto shape = currentShape();
  const QString t = m_teacher->arch();
  const QString s = m_student->arch();
  if (!shape) {
    m_student->clearLevels(tr("The level table appears once the dataset has been read (its image size is needed)."));
    return;
  }
  m_student->setLevelNote(tr("Deriving the levels of %1 -> %2...").arg(t, s));
  m_checks->deriveLevels(t.toStdString(), s.toStdString(), *shape);
}

void ExperimentPanel::inspectImport() {
  const auto shape = currentShape();
  if (!m_teacher->startInspection(shape.has_value())) return;
  m_checks->inspectCheckpoint(m_teacher->importPath().toStdString(), m_teacher->arch().toStdString(), *shape,
                              m_dataset->channelsCombo()->currentData().toString().toStdString());
}

}  // namespace rkd::gui
