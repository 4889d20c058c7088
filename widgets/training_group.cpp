#include "widgets/training_group.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

#include "core/services/inspect.h"
#include "widgets/form_fields.h"

namespace rkd::gui {

namespace {
constexpr int kProcessesRole = Qt::UserRole + 1;
}

TrainingGroup::TrainingGroup(QWidget* parent) : QGroupBox(tr("Training"), parent) {
  auto* form = new QFormLayout(this);
  m_epochs = makeSpin(this, 1, 100000, 240);
  m_batch = makeSpin(this, 1, 65536, 128);
  auto* row1 = new QHBoxLayout;
  row1->addWidget(m_epochs);
  row1->addWidget(new QLabel(tr("batch"), this));
  row1->addWidget(m_batch);
  form->addRow(tr("Epochs"), row1);
  m_lr = makeDoubleSpin(this, 1e-6, 10, 5, 0.01, 0.1);
  m_momentum = makeDoubleSpin(this, 0, 0.999, 3, 0.05, 0.9);
  auto* row2 = new QHBoxLayout;
  row2->addWidget(m_lr);
  row2->addWidget(new QLabel(tr("momentum"), this));
  row2->addWidget(m_momentum);
  form->addRow(tr("Learning rate"), row2);
  m_weightDecay = makeDoubleSpin(this, 0, 1, 6, 1e-4, 5e-4);
  form->addRow(tr("Weight decay"), m_weightDecay);
  m_schedule = new QComboBox(this);
  m_schedule->addItem(tr("Multi-step"), QStringLiteral("multistep"));
  m_schedule->addItem(tr("Cosine"), QStringLiteral("cosine"));
  m_milestones = new QLineEdit(this);
  m_milestones->setToolTip(tr("Epochs after which the learning rate is multiplied by gamma, e.g. 150, 180, 210"));
  m_gamma = makeDoubleSpin(this, 0.001, 1, 3, 0.05, 0.1);
  form->addRow(tr("Schedule"), m_schedule);
  auto* row3 = new QHBoxLayout;
  row3->addWidget(m_milestones, 1);
  row3->addWidget(new QLabel(tr("gamma"), this));
  row3->addWidget(m_gamma);
  form->addRow(tr("Milestones"), row3);
  m_device = new QComboBox(this);
  for (const auto& d : rkd::services::deviceOptions()) {
    m_device->addItem(QString::fromStdString(d.label), QString::fromStdString(d.id));
    m_device->setItemData(m_device->count() - 1, d.processes, kProcessesRole);
    if (d.processes > 1)
      m_device->setItemData(m_device->count() - 1,
                            tr("%1 worker processes of one distributed job (reviewkd launch, %2), followed live from "
                               "the run store; the batch is split among them")
                                .arg(d.processes)
                                .arg(QString::fromStdString(d.backend).toUpper()),
                            Qt::ToolTipRole);
  }
  form->addRow(tr("Device"), m_device);
  m_seed = makeSpin(this, 0, 2147483647, 1);
  m_threads = makeSpin(this, 0, 1024, 0, tr("all (%1)").arg(rkd::services::hardwareThreads()));
  auto* row4 = new QHBoxLayout;
  row4->addWidget(m_seed);
  row4->addWidget(new QLabel(tr("threads"), this));
  row4->addWidget(m_threads);
  form->addRow(tr("Seed"), row4);
  m_snapshotEvery = makeSpin(this, 0, 100000, 50, tr("off"));
  m_snapshotEvery->setToolTip(tr("Steps between stage-feature snapshots of the probe image"));
  form->addRow(tr("Features every"), m_snapshotEvery);

  connect(m_schedule, &QComboBox::currentIndexChanged, this, [this] { Q_EMIT scheduleChanged(); });
  connect(m_device, &QComboBox::currentIndexChanged, this, [this] {
    if (!m_loading) Q_EMIT edited();
  });
  for (QSpinBox* s : {m_epochs, m_batch, m_seed, m_threads, m_snapshotEvery})
    connect(s, &QSpinBox::valueChanged, this, [this] {
      if (!m_loading) Q_EMIT edited();
    });
  for (QDoubleSpinBox* s : {m_lr, m_momentum, m_weightDecay, m_gamma})
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] {
      if (!m_loading) Q_EMIT edited();
    });
  connect(m_seed, &QSpinBox::valueChanged, this, [this] {
    if (!m_loading) Q_EMIT seedChanged();
  });
}

void TrainingGroup::load(const rkd::RunConfig& c) {
  m_loading = true;
  m_epochs->setValue(static_cast<int>(c.optim.epochs));
  m_batch->setValue(static_cast<int>(c.optim.batchSize));
  m_lr->setValue(c.optim.lr);
  m_momentum->setValue(c.optim.momentum);
  m_weightDecay->setValue(c.optim.weightDecay);
  selectData(m_schedule, QString::fromStdString(c.optim.schedule));
  m_milestones->setText(joinInts(c.optim.milestones));
  m_gamma->setValue(c.optim.gamma);
  // The one-process entry of the device (a config never says how many processes: setProcesses does).
  const QString device = QString::fromStdString(c.device);
  int index = -1;
  for (int i = 0; i < m_device->count() && index < 0; ++i)
    if (m_device->itemData(i).toString() == device && m_device->itemData(i, kProcessesRole).toInt() <= 1) index = i;
  if (index < 0) {
    m_device->addItem(tr("%1 (not found on this machine)").arg(device), device);
    index = m_device->count() - 1;
    m_device->setItemData(index, 1, kProcessesRole);
  }
  m_device->setCurrentIndex(index);
  m_seed->setValue(static_cast<int>(c.seed));
  m_threads->setValue(static_cast<int>(c.threads));
  m_snapshotEvery->setValue(static_cast<int>(c.snapshotEvery));
  m_loading = false;
}

void TrainingGroup::apply(rkd::RunConfig& c) const {
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
}

QString TrainingGroup::fieldError() const {
  if (!parseInts(m_milestones->text()))
    return tr("optim.milestones: '%1' is not a list of epochs; write e.g. 150, 180, 210").arg(m_milestones->text());
  const int n = processes();
  if (n > 1 && m_batch->value() % n != 0)
    return tr("optim.batch_size: %1 is the global batch and does not divide among %2 processes; choose a multiple of "
              "%2 (e.g. %3) or another device entry")
        .arg(m_batch->value())
        .arg(n)
        .arg(std::max(n, m_batch->value() / n * n));
  return {};
}

int TrainingGroup::processes() const {
  const QVariant v = m_device->currentData(kProcessesRole);
  return v.isValid() ? std::max(1, v.toInt()) : 1;
}

bool TrainingGroup::setProcesses(int processes) {
  const QString device = m_device->currentData().toString();
  for (int i = 0; i < m_device->count(); ++i) {
    const QVariant n = m_device->itemData(i, kProcessesRole);
    if (m_device->itemData(i).toString() == device && (n.isValid() ? n.toInt() : 1) == processes) {
      m_device->setCurrentIndex(i);
      return true;
    }
  }
  return false;
}

void TrainingGroup::updateEnabled(bool editable) {
  m_milestones->setEnabled(editable && m_schedule->currentData().toString() == QLatin1String("multistep"));
  m_gamma->setEnabled(m_milestones->isEnabled());
  for (QWidget* w : std::initializer_list<QWidget*>{m_epochs, m_batch, m_lr, m_momentum, m_weightDecay, m_schedule,
                                                    m_device, m_seed, m_threads, m_snapshotEvery})
    w->setEnabled(editable);
}

int TrainingGroup::seed() const { return m_seed->value(); }

}  // namespace rkd::gui
