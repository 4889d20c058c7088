#pragma once
// The experiment form's "Training" group: epochs, batch, optimizer and schedule, device, seed, threads and how
// often stage features are snapshotted.
#include <QGroupBox>
#include <QString>

#include "core/vocabulary/run_config.h"

class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace rkd::gui {

class TrainingGroup : public QGroupBox {
  Q_OBJECT

 public:
  explicit TrainingGroup(QWidget* parent);

  /// A device this machine does not have is kept, as "not found on this machine".
  void load(const rkd::RunConfig& config);
  /// Writes the optimizer settings, device, seed, threads and snapshot interval onto `config`.
  void apply(rkd::RunConfig& config) const;
  /// Empty, or what is wrong with a field: milestones that do not parse, a batch that does not divide among the
  /// processes.
  QString fieldError() const;
  /// While a job runs nothing is editable; milestones and gamma only for the multi-step schedule.
  void updateEnabled(bool editable);

  int seed() const;
  /// Worker processes of the chosen device entry: 1 trains in the studio, N > 1 launches N processes
  /// (`reviewkd launch`). Kept by the studio, not in RunConfig (whose device stays "cpu" or "cuda").
  int processes() const;
  /// Selects the entry of the current device with that many processes (the plain device for 1); false when the
  /// menu has no such entry.
  bool setProcesses(int processes);

  QSpinBox* epochsSpin() const { return m_epochs; }
  QSpinBox* batchSpin() const { return m_batch; }
  QComboBox* deviceCombo() const { return m_device; }
  QSpinBox* seedSpin() const { return m_seed; }
  QSpinBox* threadsSpin() const { return m_threads; }
  QSpinBox* snapshotSpin() const { return m_snapshotEvery; }

 Q_SIGNALS:
  /// The schedule changed (also while loading: the milestones' state follows it at once).
  void scheduleChanged();
  /// A number changed.
  void edited();
  /// The seed changed: the dataset subset it draws changes with it.
  void seedChanged();

 private:
  bool m_loading = false;  // load() in progress: no per-field reactions

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
};

}  // namespace rkd::gui
