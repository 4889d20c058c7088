#include "widgets/teacher_group.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

#include "widgets/form_fields.h"

namespace rkd::gui {

namespace {

// Where a teacher-run item keeps the run's network (its data is the run id).
constexpr int kArchRole = Qt::UserRole + 1;

}  // namespace

TeacherGroup::TeacherGroup(QWidget* parent) : QGroupBox(tr("Teacher"), parent) {
  auto* layout = new QVBoxLayout(this);
  m_sources = new QButtonGroup(this);
  auto* trainNew = new QRadioButton(tr("Train a new teacher (reuses a finished one with the same recipe)"), this);
  auto* fromRun = new QRadioButton(tr("A finished run from history"), this);
  auto* import = new QRadioButton(tr("Import a PyTorch checkpoint"), this);
  m_sources->addButton(trainNew, static_cast<int>(Source::TrainNew));
  m_sources->addButton(fromRun, static_cast<int>(Source::FromRun));
  m_sources->addButton(import, static_cast<int>(Source::Import));
  trainNew->setChecked(true);
  auto* form = new QFormLayout;
  m_arch = new QComboBox(this);
  for (const auto& n : rkd::services::networks()) m_arch->addItem(QString::fromStdString(n.name), QString::fromStdString(n.name));
  form->addRow(tr("Network"), m_arch);
  m_mode = new QComboBox(this);
  m_mode->addItem(tr("Frozen, eval mode (default)"), QStringLiteral("eval"));
  m_mode->addItem(tr("Batch statistics (the reference's quirk)"), QStringLiteral("batch-stats"));
  form->addRow(tr("Mode"), m_mode);
  layout->addWidget(trainNew);
  layout->addWidget(fromRun);
  m_run = new QComboBox(this);
  m_run->setPlaceholderText(tr("no finished run in the store yet"));
  layout->addWidget(m_run);
  layout->addWidget(import);
  auto* importRow = new QHBoxLayout;
  m_importPath = new QLineEdit(this);
  m_importPath->setPlaceholderText(tr("checkpoint file (.pt / .pth)"));
  m_importBrowse = new QPushButton(tr("Browse..."), this);
  m_inspect = new QPushButton(tr("Inspect"), this);
  m_accept = new QPushButton(tr("Accept"), this);
  m_accept->setEnabled(false);
  importRow->addWidget(m_importPath, 1);
  importRow->addWidget(m_importBrowse);
  layout->addLayout(importRow);
  auto* importButtons = new QHBoxLayout;
  importButtons->addStretch(1);
  importButtons->addWidget(m_inspect);
  importButtons->addWidget(m_accept);
  layout->addLayout(importButtons);
  m_report = new QPlainTextEdit(this);
  m_report->setReadOnly(true);
  m_report->setMaximumHeight(150);
  m_report->setPlaceholderText(tr("Inspect shows which parameters match the chosen network by name and shape"));
  layout->addWidget(m_report);
  layout->addLayout(form);

  connect(m_sources, &QButtonGroup::idClicked, this, [this] { Q_EMIT sourceClicked(); });
  connect(m_arch, &QComboBox::currentIndexChanged, this, [this] {
    if (m_loading) return;
    forgetAcceptedImport();  // the report was about another network
    Q_EMIT pairChanged();
  });
  connect(m_run, &QComboBox::currentIndexChanged, this, [this] {
    if (m_loading) return;
    // The network of a teacher run is the run's own network.
    const QString arch = runArch();
    if (!arch.isEmpty()) selectData(m_arch, arch);
    Q_EMIT pairChanged();
  });
  connect(m_importPath, &QLineEdit::textChanged, this, [this] {
    forgetAcceptedImport();
    m_report->clear();
    Q_EMIT importPathEdited();
  });
  connect(m_importBrowse, &QPushButton::clicked, this, [this] {
    const QString file = QFileDialog::getOpenFileName(this, tr("Choose a PyTorch checkpoint"), m_importPath->text(),
                                                      tr("PyTorch checkpoints (*.pt *.pth *.tar);;All files (*)"));
    if (file.isEmpty()) return;
    m_importPath->setText(file);
    Q_EMIT inspectRequested();
  });
  connect(m_inspect, &QPushButton::clicked, this, [this] { Q_EMIT inspectRequested(); });
  connect(m_accept, &QPushButton::clicked, this, [this] {
    m_acceptedImport = m_importPath->text();
    m_accept->setEnabled(false);
    Q_EMIT importAccepted(m_acceptedImport);
  });
}

void TeacherGroup::forgetAcceptedImport() {
  m_acceptedImport.clear();
  m_accept->setEnabled(false);
}

void TeacherGroup::load(const rkd::RunConfig& c) {
  m_loading = true;
  selectData(m_arch, QString::fromStdString(c.teacher.arch));
  selectData(m_mode, QString::fromStdString(c.teacher.mode));
  Source source = Source::TrainNew;
  if (c.teacher.run > 0) {
    source = Source::FromRun;
    selectData(m_run, QString::number(c.teacher.run));
    if (m_run->currentData().toLongLong() != c.teacher.run) {
      m_run->addItem(tr("run %1 (not in this store)").arg(c.teacher.run), QString::number(c.teacher.run));
      m_run->setCurrentIndex(m_run->count() - 1);
    }
  } else if (!c.teacher.checkpoint.empty()) {
    source = Source::Import;
    m_importPath->setText(QString::fromStdString(c.teacher.checkpoint));
  }
  sourceButton(source)->setChecked(true);
  m_loading = false;
}

void TeacherGroup::apply(rkd::RunConfig& c) const {
  c.teacher = rkd::TeacherSource{};
  c.teacher.arch = arch().toStdString();
  c.teacher.mode = m_mode->currentData().toString().toStdString();
  switch (source()) {
    case Source::TrainNew: break;
    case Source::FromRun: c.teacher.run = m_run->currentData().toLongLong(); break;
    case Source::Import: c.teacher.checkpoint = importPath().toStdString(); break;
  }
}

void TeacherGroup::updateEnabled(bool editable, bool needsTeacher) {
  const Source s = source();
  for (QAbstractButton* b : m_sources->buttons()) b->setEnabled(editable && needsTeacher);
  m_run->setEnabled(editable && needsTeacher && s == Source::FromRun);
  m_arch->setEnabled(editable && needsTeacher && s != Source::FromRun);
  m_mode->setEnabled(editable && needsTeacher);
  const bool import = editable && needsTeacher && s == Source::Import;
  m_importPath->setEnabled(import);
  m_importBrowse->setEnabled(import);
  m_inspect->setEnabled(import);
  m_report->setEnabled(needsTeacher && s == Source::Import);
}

void TeacherGroup::setFinishedRuns(const std::vector<RunSummary>& runs) {
  const QSignalBlocker block(m_run);
  const qint64 was = m_run->currentData().toLongLong();
  m_run->clear();
  for (const auto& r : runs) {
    if (r.status != rkd::RunStatus::Finished) continue;
    const QString label = QStringLiteral("#%1 %2 (%3, best %4 %)")
                              .arg(r.id)
                              .arg(QString::fromStdString(r.name))
                              .arg(QString::fromStdString(r.studentArch))
                              .arg(r.bestTop1 ? QString::number(*r.bestTop1, 'f', 2) : QStringLiteral("-"));
    m_run->addItem(label, QString::number(r.id));
    m_run->setItemData(m_run->count() - 1, QString::fromStdString(r.studentArch), kArchRole);
  }
  selectData(m_run, QString::number(was));
  widenPopup(m_run);
}

bool TeacherGroup::selectRun(qint64 runId) {
  selectData(m_run, QString::number(runId));
  if (m_run->currentData().toLongLong() != runId) return false;
  sourceButton(Source::FromRun)->setChecked(true);
  const QString a = runArch();
  if (!a.isEmpty()) selectData(m_arch, a);
  return true;
}

TeacherGroup::Source TeacherGroup::source() const { return static_cast<Source>(m_sources->checkedId()); }

QString TeacherGroup::arch() const { return m_arch->currentData().toString(); }

QString TeacherGroup::runArch() const { return m_run->currentData(kArchRole).toString(); }

QString TeacherGroup::importPath() const { return m_importPath->text().trimmed(); }

QRadioButton* TeacherGroup::sourceButton(Source s) const {
  return qobject_cast<QRadioButton*>(m_sources->button(static_cast<int>(s)));
}

bool TeacherGroup::startInspection(bool shapeKnown) {
  forgetAcceptedImport();
  if (importPath().isEmpty()) {
    m_report->setPlainText(tr("Choose a checkpoint file first."));
    return false;
  }
  if (!shapeKnown) {
    m_report->setPlainText(tr("The dataset must be readable first: the network is built for its classes and channels."));
    return false;
  }
  m_report->setPlainText(tr("Reading %1...").arg(importPath()));
  return true;
}

void TeacherGroup::showImportReport(const rkd::services::ImportReport& r) {
  m_report->setPlainText(QString::fromStdString(r.describe()));
  m_report->setStyleSheet(r.complete() ? QString() : QStringLiteral("color: #b00020;"));
  m_accept->setEnabled(r.complete());
  m_accept->setToolTip(r.complete() ? tr("Use this checkpoint as the frozen teacher")
                                    : tr("Only a checkpoint whose every entry matches the network can be a teacher"));
}

}  // namespace rkd::gui
