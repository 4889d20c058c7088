#include "widgets/experiment_panel.h"

#include <QAbstractItemView>
#include <QAbstractSpinBox>
#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "core/common/errors.h"

namespace rkd::gui {
namespace {

const char* kAbfNeedsResidual =
    "ABF fuses each level with the residual path's output from the deeper level, so it needs the residual "
    "switch: turn residual on to use ABF.";
const char* kResidualNeedsReview =
    "The residual path carries deeper levels' information to shallower ones; without review every level is "
    "only matched with itself, so there is nothing to carry. Turn review on to use residual.";

// Data kinds in the order the combo shows them, with their labels.
const std::pair<const char*, const char*> kDataKinds[] = {
    {"fashion-mnist", "Fashion-MNIST (built in)"}, {"mnist", "MNIST"},      {"cifar10", "CIFAR-10"},
    {"cifar100", "CIFAR-100"},                     {"folder", "Image folder"}};
const std::pair<const char*, const char*> kMethods[] = {
    {"reviewkd", "ReviewKD (knowledge review)"}, {"kd", "Hinton KD"}, {"student-alone", "Student alone (cross-entropy)"}};

void selectData(QComboBox* combo, const QString& data) {
  const int i = combo->findData(data);
  if (i >= 0) combo->setCurrentIndex(i);
}

QString joinInts(const std::vector<int64_t>& v) {
  QStringList parts;
  for (int64_t x : v) parts << QString::number(x);
  return parts.join(QStringLiteral(", "));
}

// "4, 2, 1" -> {4, 2, 1}; nullopt when a part is not a positive integer.
std::optional<std::vector<int64_t>> parseInts(const QString& text) {
  std::vector<int64_t> out;
  const QStringList parts = text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
  for (const QString& p : parts) {
    bool ok = false;
    const qlonglong v = p.toLongLong(&ok);
    if (!ok) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

QSpinBox* spin(int lo, int hi, int value, const QString& special = {}) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  s->setValue(value);
  if (!special.isEmpty()) s->setSpecialValueText(special);
  return s;
}

QDoubleSpinBox* dspin(double lo, double hi, int decimals, double step, double value) {
  auto* s = new QDoubleSpinBox;
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setValue(value);
  return s;
}

// Long entries (preset descriptions, run labels) must not widen the panel: the combo keeps a modest width and
// its popup is as wide as its longest entry.
void compactCombo(QComboBox* combo) {
  combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  combo->setMinimumContentsLength(12);
  combo->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  combo->setMinimumWidth(90);
}

void widenPopup(QComboBox* combo) {
  combo->view()->setMinimumWidth(combo->view()->sizeHintForColumn(0) + 24);
}

QString shapeText(int64_t c, int64_t h, int64_t w) { return QStringLiteral("%1 @ %2x%3").arg(c).arg(h).arg(w); }

}  // namespace

ExperimentPanel::ExperimentPanel(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<rkd::RunConfig>();
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

  layout->addWidget(buildDatasetGroup());
  layout->addWidget(buildTeacherGroup());
  layout->addWidget(buildStudentGroup());
  layout->addWidget(buildTrainingGroup());
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

  m_dataTimer = new QTimer(this);
  m_dataTimer->setSingleShot(true);
  m_dataTimer->setInterval(400);
  connect(m_dataTimer, &QTimer::timeout, this, &ExperimentPanel::checkDataset);
  m_levelTimer = new QTimer(this);
  m_levelTimer->setSingleShot(true);
  m_levelTimer->setInterval(250);
  connect(m_levelTimer, &QTimer::timeout, this, &ExperimentPanel::updateLevels);
  connect(&m_dataWatcher, &QFutureWatcher<rkd::studio::DatasetReport>::finished, this,
          [this] { showDatasetReport(m_dataWatcher.result()); });
  connect(&m_levelWatcher, &QFutureWatcher<rkd::studio::LevelTable>::finished, this,
          [this] { showLevels(m_levelWatcher.result()); });
  connect(&m_importWatcher, &QFutureWatcher<rkd::studio::ImportReport>::finished, this, [this] {
    const rkd::studio::ImportReport r = m_importWatcher.result();
    m_importReport->setPlainText(QString::fromStdString(r.describe()));
    m_importReport->setStyleSheet(r.complete() ? QString() : QStringLiteral("color: #b00020;"));
    m_importAccept->setEnabled(r.complete());
    m_importAccept->setToolTip(r.complete() ? tr("Use this checkpoint as the frozen teacher")
                                            : tr("Only a checkpoint whose every entry matches the network can be a teacher"));
    Q_EMIT checkpointInspected(r);
  });

  connect(m_preset, &QComboBox::activated, this, [this](int index) {
    const QString name = m_preset->itemData(index).toString();
    if (!name.isEmpty()) applyPreset(name);
  });

  rkd::RunConfig initial = rkd::findPreset("quick").student;
  setConfig(initial);
  selectData(m_preset, QStringLiteral("quick"));
}

ExperimentPanel::~ExperimentPanel() {
  m_dataWatcher.waitForFinished();
  m_levelWatcher.waitForFinished();
  m_importWatcher.waitForFinished();
}

// --- building the form --------------------------------------------------------------------------------------

QWidget* ExperimentPanel::buildDatasetGroup() {
  auto* box = new QGroupBox(tr("Dataset"));
  auto* form = new QFormLayout(box);
  m_dataKind = new QComboBox(box);
  for (const auto& [id, label] : kDataKinds) m_dataKind->addItem(tr(label), QString::fromLatin1(id));
  form->addRow(tr("Data"), m_dataKind);
  auto* pathRow = new QHBoxLayout;
  m_dataPath = new QLineEdit(box);
  m_dataBrowse = new QPushButton(tr("Browse..."), box);
  pathRow->addWidget(m_dataPath, 1);
  pathRow->addWidget(m_dataBrowse);
  form->addRow(tr("Location"), pathRow);
  m_perClass = spin(0, 1000000, 0, tr("all"));
  m_perClass->setToolTip(tr("Training images kept per class (stratified, seeded); 'all' keeps every image"));
  m_testPerClass = spin(0, 1000000, 0, tr("all"));
  m_validation = spin(0, 1000000, 0, tr("none"));
  m_validation->setToolTip(tr("Images held out of the training subset for validation (stratified)"));
  m_padTo = spin(0, 512, 0, tr("off"));
  m_padTo->setToolTip(tr("Zero-pad images to this size, e.g. 28x28 Fashion-MNIST to the CIFAR networks' 32x32"));
  m_imageSize = spin(0, 512, 0, tr("as stored"));
  m_imageSize->setToolTip(tr("Image folders: resize every image to this size"));
  auto* subsetRow = new QHBoxLayout;
  subsetRow->addWidget(m_perClass);
  subsetRow->addWidget(new QLabel(tr("test"), box));
  subsetRow->addWidget(m_testPerClass);
  form->addRow(tr("Per class"), subsetRow);
  auto* sizeRow = new QHBoxLayout;
  sizeRow->addWidget(m_validation);
  sizeRow->addWidget(new QLabel(tr("pad to"), box));
  sizeRow->addWidget(m_padTo);
  form->addRow(tr("Validation"), sizeRow);
  m_channels = new QComboBox(box);
  m_channels->addItem(tr("auto"), QStringLiteral("auto"));
  m_channels->addItem(tr("1 (grey)"), QStringLiteral("1"));
  m_channels->addItem(tr("3 (RGB)"), QStringLiteral("3"));
  m_channels->setToolTip(tr("Input channels of the networks. auto: as the images are stored, except that a student "
                            "distilled from an imported teacher takes what the teacher takes (grey images are "
                            "replicated to RGB for a teacher trained that way in PyTorch). 1: RGB images become "
                            "grey. 3: grey images are replicated to RGB."));
  auto* imageRow = new QHBoxLayout;
  imageRow->addWidget(m_imageSize);
  imageRow->addWidget(new QLabel(tr("channels"), box));
  imageRow->addWidget(m_channels);
  form->addRow(tr("Image size"), imageRow);
  m_dataStatus = new QLabel(box);
  m_dataStatus->setWordWrap(true);
  m_dataStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form->addRow(m_dataStatus);

  connect(m_dataBrowse, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose the dataset folder"), m_dataPath->text());
    if (!dir.isEmpty()) m_dataPath->setText(dir);
  });
  connect(m_dataKind, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    m_dataPath->clear();
    updateEnabledState();
    m_dataTimer->start();
    scheduleLevels();
    Q_EMIT configEdited();
  });
  for (QSpinBox* s : {m_perClass, m_testPerClass, m_validation, m_padTo, m_imageSize})
    connect(s, &QSpinBox::valueChanged, this, [this] {
      if (m_filling) return;
      m_dataTimer->start();
      scheduleLevels();
      Q_EMIT configEdited();
    });
  connect(m_dataPath, &QLineEdit::textChanged, this, [this] {
    if (m_filling) return;
    m_dataTimer->start();
    Q_EMIT configEdited();
  });
  connect(m_channels, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    m_dataTimer->start();
    scheduleLevels();
    Q_EMIT configEdited();
  });
  return box;
}

QWidget* ExperimentPanel::buildTeacherGroup() {
  auto* box = new QGroupBox(tr("Teacher"));
  auto* layout = new QVBoxLayout(box);
  m_teacherGroup = new QButtonGroup(box);
  auto* trainNew = new QRadioButton(tr("Train a new teacher (reuses a finished one with the same recipe)"), box);
  auto* fromRun = new QRadioButton(tr("A finished run from history"), box);
  auto* import = new QRadioButton(tr("Import a PyTorch checkpoint"), box);
  m_teacherGroup->addButton(trainNew, static_cast<int>(TeacherSource::TrainNew));
  m_teacherGroup->addButton(fromRun, static_cast<int>(TeacherSource::FromRun));
  m_teacherGroup->addButton(import, static_cast<int>(TeacherSource::Import));
  trainNew->setChecked(true);
  auto* form = new QFormLayout;
  m_teacherArch = new QComboBox(box);
  for (const auto& n : rkd::studio::networks())
    m_teacherArch->addItem(QString::fromStdString(n.name), QString::fromStdString(n.name));
  form->addRow(tr("Network"), m_teacherArch);
  m_teacherMode = new QComboBox(box);
  m_teacherMode->addItem(tr("Frozen, eval mode (default)"), QStringLiteral("eval"));
  m_teacherMode->addItem(tr("Batch statistics (the reference's quirk)"), QStringLiteral("batch-stats"));
  form->addRow(tr("Mode"), m_teacherMode);
  layout->addWidget(trainNew);
  layout->addWidget(fromRun);
  m_teacherRun = new QComboBox(box);
  m_teacherRun->setPlaceholderText(tr("no finished run in the store yet"));
  layout->addWidget(m_teacherRun);
  layout->addWidget(import);
  auto* importRow = new QHBoxLayout;
  m_importPath = new QLineEdit(box);
  m_importPath->setPlaceholderText(tr("checkpoint file (.pt / .pth)"));
  m_importBrowse = new QPushButton(tr("Browse..."), box);
  m_importInspect = new QPushButton(tr("Inspect"), box);
  m_importAccept = new QPushButton(tr("Accept"), box);
  m_importAccept->setEnabled(false);
  importRow->addWidget(m_importPath, 1);
  importRow->addWidget(m_importBrowse);
  layout->addLayout(importRow);
  auto* importButtons = new QHBoxLayout;
  importButtons->addStretch(1);
  importButtons->addWidget(m_importInspect);
  importButtons->addWidget(m_importAccept);
  layout->addLayout(importButtons);
  m_importReport = new QPlainTextEdit(box);
  m_importReport->setReadOnly(true);
  m_importReport->setMaximumHeight(150);
  m_importReport->setPlaceholderText(tr("Inspect shows which parameters match the chosen network by name and shape"));
  layout->addWidget(m_importReport);
  layout->addLayout(form);

  connect(m_teacherGroup, &QButtonGroup::idClicked, this, [this] {
    updateEnabledState();
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_teacherArch, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    m_acceptedImport.clear();
    m_importAccept->setEnabled(false);
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_teacherRun, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    // The network of a teacher run is the run's own network.
    const QString arch = m_teacherRun->currentData(Qt::UserRole + 1).toString();
    if (!arch.isEmpty()) selectData(m_teacherArch, arch);
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_importPath, &QLineEdit::textChanged, this, [this] {
    m_acceptedImport.clear();
    m_importAccept->setEnabled(false);
    m_importReport->clear();
    Q_EMIT configEdited();
  });
  connect(m_importBrowse, &QPushButton::clicked, this, [this] {
    const QString file = QFileDialog::getOpenFileName(this, tr("Choose a PyTorch checkpoint"), m_importPath->text(),
                                                      tr("PyTorch checkpoints (*.pt *.pth *.tar);;All files (*)"));
    if (file.isEmpty()) return;
    m_importPath->setText(file);
    inspectImport();
  });
  connect(m_importInspect, &QPushButton::clicked, this, &ExperimentPanel::inspectImport);
  connect(m_importAccept, &QPushButton::clicked, this, [this] {
    m_acceptedImport = m_importPath->text();
    m_importAccept->setEnabled(false);
    setMessage(tr("Teacher checkpoint accepted: %1").arg(m_acceptedImport), false);
    Q_EMIT configEdited();
  });
  return box;
}

QWidget* ExperimentPanel::buildStudentGroup() {
  auto* box = new QGroupBox(tr("Student and method"));
  auto* form = new QFormLayout(box);
  m_studentArch = new QComboBox(box);
  for (const auto& n : rkd::studio::networks())
    m_studentArch->addItem(QString::fromStdString(n.name), QString::fromStdString(n.name));
  form->addRow(tr("Student"), m_studentArch);
  m_method = new QComboBox(box);
  for (const auto& [id, label] : kMethods) m_method->addItem(tr(label), QString::fromLatin1(id));
  form->addRow(tr("Method"), m_method);
  auto* switches = new QHBoxLayout;
  m_review = new QCheckBox(tr("Review"), box);
  m_residual = new QCheckBox(tr("Residual"), box);
  m_abf = new QCheckBox(tr("ABF"), box);
  m_hcl = new QCheckBox(tr("HCL"), box);
  m_review->setToolTip(tr("Each student level also learns from the teacher's shallower levels"));
  m_hcl->setToolTip(tr("Hierarchical context loss (pyramid-pooled MSE) instead of a plain MSE per level"));
  for (QCheckBox* c : {m_review, m_residual, m_abf, m_hcl}) switches->addWidget(c);
  switches->addStretch(1);
  form->addRow(tr("Switches"), switches);
  m_pyramid = new QLineEdit(box);
  m_pyramid->setToolTip(tr("HCL pyramid sizes, e.g. 4, 2, 1 (the paper's)"));
  form->addRow(tr("HCL pyramid"), m_pyramid);
  m_reviewWeight = dspin(0, 1000, 3, 0.1, 1.0);
  m_reviewWeight->setToolTip(tr("Review loss weight; pre-filled from the published pair table when the pair is published"));
  m_warmup = spin(0, 100000, 20);
  auto* weightRow = new QHBoxLayout;
  weightRow->addWidget(m_reviewWeight);
  weightRow->addWidget(new QLabel(tr("warm-up epochs"), box));
  weightRow->addWidget(m_warmup);
  form->addRow(tr("Review weight"), weightRow);
  m_kdWeight = dspin(0, 100, 3, 0.1, 0.0);
  m_kdTemperature = dspin(0.1, 100, 2, 0.5, 4.0);
  auto* kdRow = new QHBoxLayout;
  kdRow->addWidget(m_kdWeight);
  kdRow->addWidget(new QLabel(tr("temperature"), box));
  kdRow->addWidget(m_kdTemperature);
  form->addRow(tr("KD weight"), kdRow);
  m_levels = new QTableWidget(0, 4, box);
  m_levels->setHorizontalHeaderLabels({tr("Level"), tr("Teacher C @ HxW"), tr("Student C @ HxW"), tr("Note")});
  m_levels->horizontalHeader()->setStretchLastSection(true);
  m_levels->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_levels->verticalHeader()->setVisible(false);
  m_levels->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_levels->setSelectionMode(QAbstractItemView::NoSelection);
  m_levels->setMinimumHeight(150);
  form->addRow(m_levels);
  m_levelNote = new QLabel(box);
  m_levelNote->setWordWrap(true);
  QFont small = m_levelNote->font();
  small.setPointSizeF(small.pointSizeF() * 0.9);
  m_levelNote->setFont(small);
  form->addRow(m_levelNote);

  for (QCheckBox* c : {m_review, m_residual, m_abf, m_hcl})
    connect(c, &QCheckBox::toggled, this, [this] {
      if (m_filling) return;
      updateEnabledState();
      Q_EMIT configEdited();
    });
  connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    if (m_method->currentData().toString() == QLatin1String("kd")) {
      // Hinton KD needs a KD term: the usual 0.9 KD / 0.1 CE split.
      if (m_kdWeight->value() == 0) m_kdWeight->setValue(0.9);
    } else {
      m_kdWeight->setValue(0.0);  // a KD term on top of ReviewKD is opt-in
    }
    updateEnabledState();
    onPairChanged();
    Q_EMIT configEdited();
  });
  connect(m_studentArch, &QComboBox::currentIndexChanged, this, [this] {
    if (m_filling) return;
    onPairChanged();
    Q_EMIT configEdited();
  });
  for (QDoubleSpinBox* s : {m_reviewWeight, m_kdWeight, m_kdTemperature})
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] {
      if (!m_filling) Q_EMIT configEdited();
    });
  connect(m_pyramid, &QLineEdit::textChanged, this, [this] {
    if (!m_filling) Q_EMIT configEdited();
  });
  return box;
}

QWidget* ExperimentPanel::buildTrainingGroup() {
  auto* box = new QGroupBox(tr("Training"));
  auto* form = new QFormLayout(box);
  m_epochs = spin(1, 100000, 240);
  m_batch = spin(1, 65536, 128);
  auto* row1 = new QHBoxLayout;
  row1->addWidget(m_epochs);
  row1->addWidget(new QLabel(tr("batch"), box));
  row1->addWidget(m_batch);
  form->addRow(tr("Epochs"), row1);
  m_lr = dspin(1e-6, 10, 5, 0.01, 0.1);
  m_momentum = dspin(0, 0.999, 3, 0.05, 0.9);
  auto* row2 = new QHBoxLayout;
  row2->addWidget(m_lr);
  row2->addWidget(new QLabel(tr("momentum"), box));
  row2->addWidget(m_momentum);
  form->addRow(tr("Learning rate"), row2);
  m_weightDecay = dspin(0, 1, 6, 1e-4, 5e-4);
  form->addRow(tr("Weight decay"), m_weightDecay);
  m_schedule = new QComboBox(box);
  m_schedule->addItem(tr("Multi-step"), QStringLiteral("multistep"));
  m_schedule->addItem(tr("Cosine"), QStringLiteral("cosine"));
  m_milestones = new QLineEdit(box);
  m_milestones->setToolTip(tr("Epochs after which the learning rate is multiplied by gamma, e.g. 150, 180, 210"));
  m_gamma = dspin(0.001, 1, 3, 0.05, 0.1);
  form->addRow(tr("Schedule"), m_schedule);
  auto* row3 = new QHBoxLayout;
  row3->addWidget(m_milestones, 1);
  row3->addWidget(new QLabel(tr("gamma"), box));
  row3->addWidget(m_gamma);
  form->addRow(tr("Milestones"), row3);
  m_device = new QComboBox(box);
  for (const auto& d : rkd::studio::deviceOptions())
    m_device->addItem(QString::fromStdString(d.label), QString::fromStdString(d.id));
  form->addRow(tr("Device"), m_device);
  m_seed = spin(0, 2147483647, 1);
  m_threads = spin(0, 1024, 0, tr("all (%1)").arg(rkd::studio::hardwareThreads()));
  auto* row4 = new QHBoxLayout;
  row4->addWidget(m_seed);
  row4->addWidget(new QLabel(tr("threads"), box));
  row4->addWidget(m_threads);
  form->addRow(tr("Seed"), row4);
  m_snapshotEvery = spin(0, 100000, 50, tr("off"));
  m_snapshotEvery->setToolTip(tr("Steps between stage-feature snapshots of the probe image"));
  form->addRow(tr("Features every"), m_snapshotEvery);
  connect(m_schedule, &QComboBox::currentIndexChanged, this, [this] {
    updateEnabledState();
    if (!m_filling) Q_EMIT configEdited();
  });
  for (QSpinBox* s : {m_epochs, m_batch, m_seed, m_threads, m_snapshotEvery})
    connect(s, &QSpinBox::valueChanged, this, [this] {
      if (!m_filling) Q_EMIT configEdited();
    });
  for (QDoubleSpinBox* s : {m_lr, m_momentum, m_weightDecay, m_gamma})
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] {
      if (!m_filling) Q_EMIT configEdited();
    });
  connect(m_seed, &QSpinBox::valueChanged, this, [this] {
    if (!m_filling) m_dataTimer->start();
  });
  return box;
}

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

// --- state ----------------------------------------------------------------------------------------------------

ExperimentPanel::TeacherSource ExperimentPanel::teacherSource() const {
  return static_cast<TeacherSource>(m_teacherGroup->checkedId());
}

QRadioButton* ExperimentPanel::teacherSourceButton(TeacherSource source) const {
  return qobject_cast<QRadioButton*>(m_teacherGroup->button(static_cast<int>(source)));
}

void ExperimentPanel::updateEnabledState() {
  const bool editable = !m_running;
  const bool reviewkd = m_method->currentData().toString() == QLatin1String("reviewkd");
  const bool needsTeacher = m_method->currentData().toString() != QLatin1String("student-alone");
  m_review->setEnabled(editable && reviewkd);
  m_hcl->setEnabled(editable && reviewkd);
  m_pyramid->setEnabled(editable && reviewkd && m_hcl->isChecked());
  m_reviewWeight->setEnabled(editable && reviewkd);
  m_warmup->setEnabled(editable && reviewkd);
  m_kdWeight->setEnabled(editable && needsTeacher);
  m_kdTemperature->setEnabled(editable && needsTeacher);
  // Residual needs review; ABF needs residual (spec section 6). Disabled switches are unchecked so the config
  // never carries a combination the engine refuses.
  const bool residualAllowed = m_review->isChecked();
  if (!residualAllowed && m_residual->isChecked()) m_residual->setChecked(false);
  m_residual->setEnabled(editable && reviewkd && residualAllowed);
  m_residual->setToolTip(residualAllowed ? tr("Deeper levels' fused information flows to shallower levels")
                                         : tr(kResidualNeedsReview));
  const bool abfAllowed = m_residual->isChecked();
  if (!abfAllowed && m_abf->isChecked()) m_abf->setChecked(false);
  m_abf->setEnabled(editable && reviewkd && abfAllowed);
  m_abf->setToolTip(abfAllowed ? tr("Attention-based fusion of each level with the residual from the deeper level")
                               : tr(kAbfNeedsResidual));
  const TeacherSource source = teacherSource();
  for (QAbstractButton* b : m_teacherGroup->buttons()) b->setEnabled(editable && needsTeacher);
  m_teacherRun->setEnabled(editable && needsTeacher && source == TeacherSource::FromRun);
  m_teacherArch->setEnabled(editable && needsTeacher && source != TeacherSource::FromRun);
  m_teacherMode->setEnabled(editable && needsTeacher);
  const bool import = editable && needsTeacher && source == TeacherSource::Import;
  m_importPath->setEnabled(import);
  m_importBrowse->setEnabled(import);
  m_importInspect->setEnabled(import);
  m_importReport->setEnabled(needsTeacher && source == TeacherSource::Import);
  const QString kind = m_dataKind->currentData().toString();
  m_imageSize->setEnabled(editable && kind == QLatin1String("folder"));
  m_dataPath->setPlaceholderText(kind == QLatin1String("folder")
                                     ? tr("folder with one subfolder per class (required)")
                                     : tr("default: %1").arg(QString::fromStdString(rkd::studio::defaultDataPath(kind.toStdString()))));
  m_milestones->setEnabled(editable && m_schedule->currentData().toString() == QLatin1String("multistep"));
  m_gamma->setEnabled(m_milestones->isEnabled());
  for (QWidget* w : std::initializer_list<QWidget*>{m_preset, m_name, m_dataKind, m_dataPath, m_dataBrowse, m_perClass,
                                                    m_testPerClass, m_validation, m_padTo, m_studentArch, m_method,
                                                    m_epochs, m_batch, m_lr, m_momentum, m_weightDecay, m_schedule,
                                                    m_device, m_seed, m_threads, m_snapshotEvery})
    w->setEnabled(editable);
  m_start->setEnabled(editable);
  m_stop->setEnabled(m_running);
  m_resume->setEnabled(editable && m_resumeRun->count() > 0);
  m_resumeRun->setEnabled(editable);
}

void ExperimentPanel::setRunning(bool running) {
  m_running = running;
  updateEnabledState();
}

rkd::DataConfig ExperimentPanel::dataConfig() const {
  rkd::DataConfig d = m_base.data;
  d.kind = m_dataKind->currentData().toString().toStdString();
  d.path = m_dataPath->text().trimmed().toStdString();
  d.perClass = m_perClass->value();
  d.testPerClass = m_testPerClass->value();
  d.validation = m_validation->value();
  d.padTo = m_padTo->value();
  d.imageSize = m_imageSize->value();
  d.channels = m_channels->currentData().toString().toStdString();
  return d;
}

rkd::RunConfig ExperimentPanel::config() const {
  rkd::RunConfig c = m_base;
  c.name = m_name->text().trimmed().toStdString();
  c.kind = "student";
  c.method = m_method->currentData().toString().toStdString();
  c.student = m_studentArch->currentData().toString().toStdString();
  c.data = dataConfig();
  c.teacher = rkd::TeacherSource{};
  c.teacher.arch = m_teacherArch->currentData().toString().toStdString();
  c.teacher.mode = m_teacherMode->currentData().toString().toStdString();
  switch (teacherSource()) {
    case TeacherSource::TrainNew: break;
    case TeacherSource::FromRun: c.teacher.run = m_teacherRun->currentData().toLongLong(); break;
    case TeacherSource::Import: c.teacher.checkpoint = m_importPath->text().trimmed().toStdString(); break;
  }
  c.review.review = m_review->isChecked();
  c.review.residual = m_residual->isChecked();
  c.review.abf = m_abf->isChecked();
  c.review.hcl = m_hcl->isChecked();
  if (auto p = parseInts(m_pyramid->text())) c.review.pyramid = *p;
  c.review.weight = m_reviewWeight->value();
  c.review.warmupEpochs = m_warmup->value();
  c.kdWeight = c.method == "student-alone" ? 0.0 : m_kdWeight->value();
  c.kdTemperature = m_kdTemperature->value();
  if (c.method == "kd") c.ceWeight = m_base.method == "kd" ? m_base.ceWeight : 0.1;
  else if (m_base.method == "kd") c.ceWeight = 1.0;
  c.optim.epochs = m_epochs->value();
  c.optim.batchSize = m_batch->value();
  c.optim.lr = m_lr->value();
  c.optim.momentum = m_momentum->value();
  c.optim.weightDecay = m_weightDecay->value();
  c.optim.schedule = m_schedule->currentData().toString().toStdString();
  if (auto m = parseInts(m_milestones->text())) c.optim.milestones = *m;
  c.optim.gamma = m_gamma->value();
  c.device = m_device->currentData().toString().toStdString();
  c.seed = m_seed->value();
  c.threads = m_threads->value();
  c.snapshotEvery = m_snapshotEvery->value();
  return c;
}

void ExperimentPanel::setConfig(const rkd::RunConfig& c) {
  m_filling = true;
  m_base = c;
  m_name->setText(QString::fromStdString(c.name));
  selectData(m_dataKind, QString::fromStdString(c.data.kind));
  m_dataPath->setText(QString::fromStdString(c.data.path));
  m_perClass->setValue(static_cast<int>(c.data.perClass));
  m_testPerClass->setValue(static_cast<int>(c.data.testPerClass));
  m_validation->setValue(static_cast<int>(c.data.validation));
  m_padTo->setValue(static_cast<int>(c.data.padTo));
  m_imageSize->setValue(static_cast<int>(c.data.imageSize));
  selectData(m_channels, QString::fromStdString(c.data.channels));
  selectData(m_studentArch, QString::fromStdString(c.student));
  selectData(m_method, QString::fromStdString(c.kind == "teacher" ? "student-alone" : c.method));
  selectData(m_teacherArch, QString::fromStdString(c.teacher.arch));
  selectData(m_teacherMode, QString::fromStdString(c.teacher.mode));
  TeacherSource source = TeacherSource::TrainNew;
  if (c.teacher.run > 0) {
    source = TeacherSource::FromRun;
    refreshRuns();
    selectData(m_teacherRun, QString::number(c.teacher.run));
    if (m_teacherRun->currentData().toLongLong() != c.teacher.run) {
      m_teacherRun->addItem(tr("run %1 (not in this store)").arg(c.teacher.run), QString::number(c.teacher.run));
      m_teacherRun->setCurrentIndex(m_teacherRun->count() - 1);
    }
  } else if (!c.teacher.checkpoint.empty()) {
    source = TeacherSource::Import;
    m_importPath->setText(QString::fromStdString(c.teacher.checkpoint));
  }
  teacherSourceButton(source)->setChecked(true);
  m_review->setChecked(c.review.review);
  m_residual->setChecked(c.review.residual);
  m_abf->setChecked(c.review.abf);
  m_hcl->setChecked(c.review.hcl);
  m_pyramid->setText(joinInts(c.review.pyramid));
  m_reviewWeight->setValue(c.review.weight);
  m_warmup->setValue(static_cast<int>(c.review.warmupEpochs));
  m_kdWeight->setValue(c.kdWeight);
  m_kdTemperature->setValue(c.kdTemperature);
  m_epochs->setValue(static_cast<int>(c.optim.epochs));
  m_batch->setValue(static_cast<int>(c.optim.batchSize));
  m_lr->setValue(c.optim.lr);
  m_momentum->setValue(c.optim.momentum);
  m_weightDecay->setValue(c.optim.weightDecay);
  selectData(m_schedule, QString::fromStdString(c.optim.schedule));
  m_milestones->setText(joinInts(c.optim.milestones));
  m_gamma->setValue(c.optim.gamma);
  if (m_device->findData(QString::fromStdString(c.device)) < 0)
    m_device->addItem(tr("%1 (not found on this machine)").arg(QString::fromStdString(c.device)), QString::fromStdString(c.device));
  selectData(m_device, QString::fromStdString(c.device));
  m_seed->setValue(static_cast<int>(c.seed));
  m_threads->setValue(static_cast<int>(c.threads));
  m_snapshotEvery->setValue(static_cast<int>(c.snapshotEvery));
  m_filling = false;
  selectData(m_preset, QString());
  updateEnabledState();
  m_dataTimer->start();
  scheduleLevels();
}

QString ExperimentPanel::validationError() const {
  const rkd::RunConfig c = config();
  if (!parseInts(m_pyramid->text()))
    return tr("review.pyramid: '%1' is not a list of sizes; write e.g. 4, 2, 1").arg(m_pyramid->text());
  if (!parseInts(m_milestones->text()))
    return tr("optim.milestones: '%1' is not a list of epochs; write e.g. 150, 180, 210").arg(m_milestones->text());
  try {
    c.validate();
  } catch (const rkd::UserError& e) {
    return QString::fromStdString(e.full());
  }
  const bool needsTeacher = c.method != "student-alone";
  if (needsTeacher && teacherSource() == TeacherSource::FromRun && c.teacher.run <= 0)
    return tr("Teacher: no finished run is selected. Train one first, choose another teacher source, or pick a run "
              "in History and use 'Use as teacher'.");
  if (needsTeacher && teacherSource() == TeacherSource::Import) {
    if (c.teacher.checkpoint.empty()) return tr("Teacher: choose a checkpoint file to import.");
    if (m_acceptedImport != m_importPath->text().trimmed())
      return tr("Teacher: inspect the checkpoint and accept its import report first.");
  }
  if (!m_datasetReport.ok && !m_datasetReport.error.empty() && !isChecking())
    return tr("Dataset: %1").arg(QString::fromStdString(m_datasetReport.summary()));
  return {};
}

bool ExperimentPanel::isChecking() const {
  // Pending flags, not QFuture::isRunning: a finished future's result is shown only when the watcher's queued
  // signal arrives.
  return m_dataTimer->isActive() || m_dataPending || m_levelTimer->isActive() || m_levelPending;
}

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
    teacherSourceButton(TeacherSource::TrainNew)->setChecked(true);
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
  selectData(m_teacherRun, QString::number(runId));
  if (m_teacherRun->currentData().toLongLong() != runId) {
    setMessage(tr("Run %1 is not a finished run of this store, so it cannot be a teacher.").arg(runId), true);
    return;
  }
  teacherSourceButton(TeacherSource::FromRun)->setChecked(true);
  const QString arch = m_teacherRun->currentData(Qt::UserRole + 1).toString();
  if (!arch.isEmpty()) selectData(m_teacherArch, arch);
  updateEnabledState();
  onPairChanged();
  setMessage(tr("Teacher: run %1 (%2)").arg(runId).arg(arch), false);
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
    if (!accepted.isEmpty() && accepted == m_importPath->text()) m_acceptedImport = accepted;
    const QString preset = settings.value(QStringLiteral("experiment/preset")).toString();
    if (!preset.isEmpty()) selectData(m_preset, preset);
  } catch (const std::exception& e) {
    setMessage(tr("The saved settings (%1) were not restored: %2. The defaults are shown; starting a run saves new "
                  "settings.")
                   .arg(settings.fileName(), QString::fromUtf8(e.what())),
               true);
  }
}

void ExperimentPanel::saveSettings(QSettings& settings) const {
  settings.setValue(QStringLiteral("experiment/config"), QString::fromStdString(rkd::toJson(config()).dump()));
  settings.setValue(QStringLiteral("experiment/acceptedImport"), m_acceptedImport);
  settings.setValue(QStringLiteral("experiment/preset"), m_preset->currentData().toString());
}

// --- store-backed choices -----------------------------------------------------------------------------------

void ExperimentPanel::setStorePath(const QString& path) {
  m_storePath = path;
  refreshRuns();
}

void ExperimentPanel::refreshRuns() {
  if (m_storePath.isEmpty()) return;
  const QSignalBlocker blockTeacher(m_teacherRun);
  const qint64 teacherWas = m_teacherRun->currentData().toLongLong();
  const qint64 resumeWas = m_resumeRun->currentData().toLongLong();
  m_teacherRun->clear();
  m_resumeRun->clear();
  try {
    // The run list alone (no configs) is all these two choices need.
    rkd::RunStore store(m_storePath.toStdString());
    for (const auto& r : store.listRuns()) {
      const QString label = QStringLiteral("#%1 %2 (%3, best %4 %)")
                                .arg(r.id)
                                .arg(QString::fromStdString(r.name))
                                .arg(QString::fromStdString(r.studentArch))
                                .arg(r.bestTop1 ? QString::number(*r.bestTop1, 'f', 2) : QStringLiteral("-"));
      if (r.status == rkd::RunStatus::Finished) {
        m_teacherRun->addItem(label, QString::number(r.id));
        m_teacherRun->setItemData(m_teacherRun->count() - 1, QString::fromStdString(r.studentArch), Qt::UserRole + 1);
      }
      if (r.status == rkd::RunStatus::Stopped || r.status == rkd::RunStatus::Interrupted)
        m_resumeRun->addItem(QStringLiteral("#%1 %2 (%3)")
                                 .arg(r.id)
                                 .arg(QString::fromStdString(r.name), QString::fromStdString(rkd::toString(r.status))),
                             QString::number(r.id));
    }
  } catch (const std::exception& e) {
    setMessage(tr("Run store %1: %2").arg(m_storePath, QString::fromUtf8(e.what())), true);
  }
  selectData(m_teacherRun, QString::number(teacherWas));
  selectData(m_resumeRun, QString::number(resumeWas));
  widenPopup(m_teacherRun);
  widenPopup(m_resumeRun);
  updateEnabledState();
}

// --- slow checks off the GUI thread -------------------------------------------------------------------------

void ExperimentPanel::checkDataset() {
  m_dataTimer->stop();
  const rkd::DataConfig data = dataConfig();
  const int64_t seed = m_seed->value();
  m_dataStatus->setText(tr("Reading the dataset..."));
  m_dataStatus->setStyleSheet(QStringLiteral("color: #555555;"));
  m_dataPending = true;
  m_dataWatcher.setFuture(QtConcurrent::run([data, seed] { return rkd::studio::inspectDataset(data, seed); }));
}

void ExperimentPanel::showDatasetReport(const rkd::studio::DatasetReport& report) {
  m_dataPending = false;
  m_datasetReport = report;
  m_dataStatus->setText(QString::fromStdString(report.ok ? report.summary() + "; " + report.normalization
                                                         : report.summary()));
  m_dataStatus->setStyleSheet(report.ok ? QStringLiteral("color: #1b5e20;") : QStringLiteral("color: #b00020;"));
  if (report.ok && !rkd::studio::knownShape(dataConfig())) scheduleLevels();  // folder: shape known only now
  Q_EMIT datasetChecked(report);
}

std::optional<rkd::studio::DataShape> ExperimentPanel::currentShape() const {
  if (auto s = rkd::studio::knownShape(dataConfig())) return s;
  if (m_datasetReport.ok) return m_datasetReport.shape;
  return std::nullopt;
}

void ExperimentPanel::onPairChanged() {
  if (m_filling) return;
  const std::string t = m_teacherArch->currentData().toString().toStdString();
  const std::string s = m_studentArch->currentData().toString().toStdString();
  // The published pair table's review weight (the spec's 5.0 start for pairs the paper does not list).
  m_reviewWeight->setValue(rkd::referenceReviewWeight(t, s));
  scheduleLevels();
}

void ExperimentPanel::scheduleLevels() { m_levelTimer->start(); }

void ExperimentPanel::updateLevels() {
  const auto shape = currentShape();
  const std::string t = m_teacherArch->currentData().toString().toStdString();
  const std::string s = m_studentArch->currentData().toString().toStdString();
  if (!shape) {
    m_levels->setRowCount(0);
    m_levelNote->setText(tr("The level table appears once the dataset has been read (its image size is needed)."));
    return;
  }
  m_levelNote->setText(tr("Deriving the levels of %1 -> %2...").arg(QString::fromStdString(t), QString::fromStdString(s)));
  const rkd::studio::DataShape sh = *shape;
  m_levelPending = true;
  m_levelWatcher.setFuture(QtConcurrent::run([t, s, sh] { return rkd::studio::levelTable(t, s, sh); }));
}

void ExperimentPanel::showLevels(const rkd::studio::LevelTable& table) {
  m_levelPending = false;
  m_levels->setRowCount(0);
  if (!table.ok()) {
    m_levelNote->setText(QString::fromStdString(table.error));
    m_levelNote->setStyleSheet(QStringLiteral("color: #b00020;"));
    Q_EMIT levelsUpdated();
    return;
  }
  m_levelNote->setStyleSheet(QString());
  m_levels->setRowCount(static_cast<int>(table.rows.size()));
  for (int i = 0; i < static_cast<int>(table.rows.size()); ++i) {
    const auto& r = table.rows[static_cast<size_t>(i)];
    QString note;
    if (r.pooled) note = tr("pooled embedding");
    if (r.resized) note += (note.isEmpty() ? QString() : QStringLiteral(", ")) + tr("student resized to teacher size");
    if (r.teacherLevel != r.studentLevel)
      note += (note.isEmpty() ? QString() : QStringLiteral(", ")) +
              tr("teacher level %1 <- student level %2").arg(r.teacherLevel).arg(r.studentLevel);
    const QStringList cells{QString::number(i + 1), shapeText(r.teacherChannels, r.teacherHeight, r.teacherWidth),
                            shapeText(r.studentChannels, r.studentHeight, r.studentWidth), note};
    for (int c = 0; c < cells.size(); ++c) m_levels->setItem(i, c, new QTableWidgetItem(cells[c]));
  }
  QString note = QString::fromStdString(table.note);
  note += tr(" Review head: %1 levels, %2 fused channels.").arg(table.rows.size()).arg(table.midChannels);
  if (m_method->currentData().toString() != QLatin1String("reviewkd")) note += tr(" (Only ReviewKD uses the levels.)");
  m_levelNote->setText(note);
  Q_EMIT levelsUpdated();
}

void ExperimentPanel::inspectImport() {
  const std::string path = m_importPath->text().trimmed().toStdString();
  const std::string arch = m_teacherArch->currentData().toString().toStdString();
  m_acceptedImport.clear();
  m_importAccept->setEnabled(false);
  const auto shape = currentShape();
  if (path.empty()) {
    m_importReport->setPlainText(tr("Choose a checkpoint file first."));
    return;
  }
  if (!shape) {
    m_importReport->setPlainText(tr("The dataset must be readable first: the network is built for its classes and channels."));
    return;
  }
  m_importReport->setPlainText(tr("Reading %1...").arg(QString::fromStdString(path)));
  const rkd::studio::DataShape sh = *shape;
  const std::string channels = m_channels->currentData().toString().toStdString();
  m_importWatcher.setFuture(QtConcurrent::run(
      [path, arch, sh, channels] { return rkd::studio::inspectCheckpoint(path, arch, sh, channels); }));
}

}  // namespace rkd::gui
