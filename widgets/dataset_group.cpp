#include "widgets/dataset_group.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include "widgets/form_fields.h"

namespace rkd::gui {
namespace {

// Data kinds in the order the combo shows them, with their labels.
const std::pair<const char*, const char*> kDataKinds[] = {
    {"fashion-mnist", "Fashion-MNIST (built in)"}, {"mnist", "MNIST"},      {"cifar10", "CIFAR-10"},
    {"cifar100", "CIFAR-100"},                     {"folder", "Image folder"}};

}  // namespace

DatasetGroup::DatasetGroup(QWidget* parent) : QGroupBox(tr("Dataset"), parent) {
  auto* form = new QFormLayout(this);
  m_kind = new QComboBox(this);
  for (const auto& [id, label] : kDataKinds) m_kind->addItem(tr(label), QString::fromLatin1(id));
  form->addRow(tr("Data"), m_kind);
  auto* pathRow = new QHBoxLayout;
  m_path = new QLineEdit(this);
  m_browse = new QPushButton(tr("Browse..."), this);
  pathRow->addWidget(m_path, 1);
  pathRow->addWidget(m_browse);
  form->addRow(tr("Location"), pathRow);
  m_perClass = makeSpin(this, 0, 1000000, 0, tr("all"));
  m_perClass->setToolTip(tr("Training images kept per class (stratified, seeded); 'all' keeps every image"));
  m_testPerClass = makeSpin(this, 0, 1000000, 0, tr("all"));
  m_validation = makeSpin(this, 0, 1000000, 0, tr("none"));
  m_validation->setToolTip(tr("Images held out of the training subset for validation (stratified)"));
  m_padTo = makeSpin(this, 0, 512, 0, tr("off"));
  m_padTo->setToolTip(tr("Zero-pad images to this size, e.g. 28x28 Fashion-MNIST to the CIFAR networks' 32x32"));
  auto* subsetRow = new QHBoxLayout;
  subsetRow->addWidget(m_perClass);
  subsetRow->addWidget(new QLabel(tr("test"), this));
  subsetRow->addWidget(m_testPerClass);
  form->addRow(tr("Per class"), subsetRow);
  auto* sizeRow = new QHBoxLayout;
  sizeRow->addWidget(m_validation);
  sizeRow->addWidget(new QLabel(tr("pad to"), this));
  sizeRow->addWidget(m_padTo);
  form->addRow(tr("Validation"), sizeRow);
  m_channels = new QComboBox(this);
  m_channels->addItem(tr("auto"), QStringLiteral("auto"));
  m_channels->addItem(tr("1 (grey)"), QStringLiteral("1"));
  m_channels->addItem(tr("3 (RGB)"), QStringLiteral("3"));
  m_channels->setToolTip(tr("Input channels of the networks. auto: as the images are stored, except that a student "
                            "distilled from an imported teacher takes what the teacher takes (grey images are "
                            "replicated to RGB for a teacher trained that way in PyTorch). 1: RGB images become "
                            "grey. 3: grey images are replicated to RGB."));
  // After the channels: Tab goes channels -> image size, as it always has.
  m_imageSize = makeSpin(this, 0, 512, 0, tr("as stored"));
  m_imageSize->setToolTip(tr("Image folders: resize every image to this size"));
  auto* imageRow = new QHBoxLayout;
  imageRow->addWidget(m_imageSize);
  imageRow->addWidget(new QLabel(tr("channels"), this));
  imageRow->addWidget(m_channels);
  form->addRow(tr("Image size"), imageRow);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form->addRow(m_status);

  connect(m_browse, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose the dataset folder"), m_path->text());
    if (!dir.isEmpty()) m_path->setText(dir);
  });
  connect(m_kind, &QComboBox::currentIndexChanged, this, [this] {
    if (m_loading) return;
    m_path->clear();
    Q_EMIT kindChanged();
  });
  for (QSpinBox* s : {m_perClass, m_testPerClass, m_validation, m_padTo, m_imageSize})
    connect(s, &QSpinBox::valueChanged, this, [this] {
      if (!m_loading) Q_EMIT edited(true);
    });
  connect(m_path, &QLineEdit::textChanged, this, [this] {
    if (!m_loading) Q_EMIT edited(false);
  });
  connect(m_channels, &QComboBox::currentIndexChanged, this, [this] {
    if (!m_loading) Q_EMIT edited(true);
  });
}

void DatasetGroup::load(const rkd::RunConfig& c) {
  m_loading = true;
  m_base = c.data;
  selectData(m_kind, QString::fromStdString(c.data.kind));
  m_path->setText(QString::fromStdString(c.data.path));
  m_perClass->setValue(static_cast<int>(c.data.perClass));
  m_testPerClass->setValue(static_cast<int>(c.data.testPerClass));
  m_validation->setValue(static_cast<int>(c.data.validation));
  m_padTo->setValue(static_cast<int>(c.data.padTo));
  m_imageSize->setValue(static_cast<int>(c.data.imageSize));
  selectData(m_channels, QString::fromStdString(c.data.channels));
  m_loading = false;
}

rkd::DataConfig DatasetGroup::dataConfig() const {
  rkd::DataConfig d = m_base;
  d.kind = m_kind->currentData().toString().toStdString();
  d.path = m_path->text().trimmed().toStdString();
  d.perClass = m_perClass->value();
  d.testPerClass = m_testPerClass->value();
  d.validation = m_validation->value();
  d.padTo = m_padTo->value();
  d.imageSize = m_imageSize->value();
  d.channels = m_channels->currentData().toString().toStdString();
  return d;
}

void DatasetGroup::updateEnabled(bool editable) {
  const QString kind = m_kind->currentData().toString();
  m_imageSize->setEnabled(editable && kind == QLatin1String("folder"));
  m_path->setPlaceholderText(kind == QLatin1String("folder")
                                 ? tr("folder with one subfolder per class (required)")
                                 : tr("default: %1").arg(QString::fromStdString(rkd::services::defaultDataPath(kind.toStdString()))));
  for (QWidget* w : std::initializer_list<QWidget*>{m_kind, m_path, m_browse, m_perClass, m_testPerClass, m_validation, m_padTo})
    w->setEnabled(editable);
}

void DatasetGroup::showChecking() {
  m_status->setText(tr("Reading the dataset..."));
  m_status->setStyleSheet(QStringLiteral("color: #555555;"));
}

void DatasetGroup::showReport(const rkd::services::DatasetReport& report) {
  m_status->setText(QString::fromStdString(report.ok ? report.summary() + "; " + report.normalization : report.summary()));
  m_status->setStyleSheet(report.ok ? QStringLiteral("color: #1b5e20;") : QStringLiteral("color: #b00020;"));
}

}  // namespace rkd::gui
