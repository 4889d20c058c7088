#pragma once
// The experiment form's slow checks, each on a worker thread: reading the dataset (debounced 400 ms after the
// last edit), deriving the pair's level table (debounced 250 ms) and inspecting a checkpoint to import. It
// knows no widget: when a debounce ends it asks for the inputs (datasetDue, levelsDue), and it hands the
// results back as signals.
#include <QFutureWatcher>
#include <QObject>
#include <optional>
#include <string>

#include "core/services/inspect.h"
#include "widgets/controllers/metatypes.h"

class QTimer;

namespace rkd::gui {

class ExperimentChecks : public QObject {
  Q_OBJECT

 public:
  explicit ExperimentChecks(QObject* parent);
  /// Waits for the checks in flight.
  ~ExperimentChecks() override;

  /// (Re)starts the dataset debounce; datasetDue follows unless another edit comes first.
  void scheduleDataset();
  /// (Re)starts the level-table debounce; levelsDue follows.
  void scheduleLevels();

  /// Reads the dataset now (ends its debounce); datasetChecked follows.
  void checkDataset(const rkd::DataConfig& data, int64_t seed);
  /// Derives the level table now; levelsDerived follows.
  void deriveLevels(const std::string& teacher, const std::string& student, const rkd::services::DataShape& shape);
  /// Inspects a checkpoint file against a network; checkpointInspected follows.
  void inspectCheckpoint(const std::string& path, const std::string& arch, const rkd::services::DataShape& shape,
                         const std::string& channels);

  /// A dataset or level check is due or running (its result not delivered yet).
  bool isChecking() const;
  /// The last dataset check (ok false with the reader's message when it failed).
  const rkd::services::DatasetReport& datasetReport() const { return m_datasetReport; }
  /// The images' shape: known from the settings alone, else from the last successful dataset check.
  std::optional<rkd::services::DataShape> shapeOf(const rkd::DataConfig& data) const;

 Q_SIGNALS:
  void datasetDue();
  void levelsDue();
  void datasetChecked(const rkd::services::DatasetReport& report);
  void levelsDerived(const rkd::services::LevelTable& table);
  void checkpointInspected(const rkd::services::ImportReport& report);

 private:
  QTimer* m_dataTimer = nullptr;
  QTimer* m_levelTimer = nullptr;
  QFutureWatcher<rkd::services::DatasetReport> m_dataWatcher;
  QFutureWatcher<rkd::services::LevelTable> m_levelWatcher;
  QFutureWatcher<rkd::services::ImportReport> m_importWatcher;
  bool m_dataPending = false;  // a dataset check was started and its result is not delivered yet
  bool m_levelPending = false;
  rkd::services::DatasetReport m_datasetReport;
};

}  // namespace rkd::gui
