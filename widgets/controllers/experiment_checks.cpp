#include "widgets/controllers/experiment_checks.h"

#include <QTimer>
#include <QtConcurrent/QtConcurrent>

namespace rkd::gui {

ExperimentChecks::ExperimentChecks(QObject* parent) : QObject(parent) {
  m_dataTimer = new QTimer(this);
  m_dataTimer->setSingleShot(true);
  m_dataTimer->setInterval(400);
  connect(m_dataTimer, &QTimer::timeout, this, &ExperimentChecks::datasetDue);
  m_levelTimer = new QTimer(this);
  m_levelTimer->setSingleShot(true);
  m_levelTimer->setInterval(250);
  connect(m_levelTimer, &QTimer::timeout, this, &ExperimentChecks::levelsDue);
  connect(&m_dataWatcher, &QFutureWatcher<rkd::services::DatasetReport>::finished, this, [this] {
    m_dataPending = false;
    m_datasetReport = m_dataWatcher.result();
    Q_EMIT datasetChecked(m_datasetReport);
  });
  connect(&m_levelWatcher, &QFutureWatcher<rkd::services::LevelTable>::finished, this, [this] {
    m_levelPending = false;
    Q_EMIT levelsDerived(m_levelWatcher.result());
  });
  connect(&m_importWatcher, &QFutureWatcher<rkd::services::ImportReport>::finished, this,
          [this] { Q_EMIT checkpointInspected(m_importWatcher.result()); });
}

ExperimentChecks::~ExperimentChecks() {
  m_dataWatcher.waitForFinished();
  m_levelWatcher.waitForFinished();
  m_importWatcher.waitForFinished();
}

void ExperimentChecks::scheduleDataset() { m_dataTimer->start(); }

void ExperimentChecks::scheduleLevels() { m_levelTimer->start(); }

void ExperimentChecks::checkDataset(const rkd::DataConfig& data, int64_t seed) {
  m_dataTimer->stop();
  m_dataPending = true;
  m_dataWatcher.setFuture(QtConcurrent::run([data, seed] { return rkd::services::inspectDataset(data, seed); }));
}

void ExperimentChecks::deriveLevels(const std::string& teacher, const std::string& student,
                                    const rkd::services::DataShape& shape) {
  m_levelPending = true;
  m_levelWatcher.setFuture(QtConcurrent::run([teacher, student, shape] {
    return rkd::services::levelTable(teacher, student, shape);
  }));
}

void ExperimentChecks::inspectCheckpoint(const std::string& path, const std::string& arch,
                                         const rkd::services::DataShape& shape, const std::string& channels) {
  m_importWatcher.setFuture(QtConcurrent::run(
      [path, arch, shape, channels] { return rkd::services::inspectCheckpoint(path, arch, shape, channels); }));
}

bool ExperimentChecks::isChecking() const {
  // Pending flags, not QFuture::isRunning: a finished future's result is delivered only when the watcher's queued
  // signal arrives.
  return m_dataTimer->isActive() || m_dataPending || m_levelTimer->isActive() || m_levelPending;
}

std::optional<rkd::services::DataShape> ExperimentChecks::shapeOf(const rkd::DataConfig& data) const {
  if (auto s = rkd::services::knownShape(data)) return s;
  if (m_datasetReport.ok) return m_datasetReport.shape;
  return std::nullopt;
}

}  // namespace rkd::gui
