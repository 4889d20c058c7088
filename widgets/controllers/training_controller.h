#pragma once
// Runs training jobs on a worker thread and turns the trainer's callbacks into queued Qt signals, coalesced so
// the GUI thread repaints at most about 25 times a second however fast steps arrive.
#include <QObject>
#include <QString>
#include <QThread>
#include <QTimer>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/services/log.h"
#include "core/services/training_service.h"
#include "widgets/controllers/metatypes.h"

namespace rkd::gui {

class TrainingController : public QObject {
  Q_OBJECT
 public:
  explicit TrainingController(QObject* parent = nullptr);
  /// Requests a stop, then quits and waits for the worker thread.
  ~TrainingController() override;

  void setStorePath(const QString& path);
  QString storePath() const { return m_storePath; }
  /// Interval of the coalescing timer (default 40 ms).
  void setCoalesceInterval(int ms);

  bool isBusy() const { return m_busy; }
  /// The run currently training (0 while none has been created yet).
  qint64 currentRunId() const { return m_currentRun; }

  /// Starts a run (and its teacher first when the config names none). False when a job is already running.
  bool start(const rkd::RunConfig& config);
  /// Resumes a stopped or interrupted run; epochs > 0 changes its total. False when a job is already running.
  bool resume(qint64 runId, qint64 epochs = 0);
  /// Stops after the step in flight; the run keeps its checkpoint and can be resumed.
  void stop();
  void setProbeIndex(qint64 index);

  /// Number of times the coalescing timer delivered a batch (for tests and the benchmark).
  int deliveries() const { return m_deliveries; }

 Q_SIGNALS:
  void busyChanged(bool busy);
  /// A run appeared in the store (the teacher of a job, then its student), before its first step: its id and
  /// "run <id>: <name>", from the trainer's own announcement.
  void runStarted(qint64 runId, const QString& title);
  void stepsReady(const std::vector<rkd::StepProgress>& steps);
  void epochReady(const rkd::EpochProgress& epoch);
  void snapshotReady(const rkd::FeatureSnapshot& snapshot);
  void statusChanged(const QString& text);
  void logLine(const QString& level, const QString& text);
  /// The job ended (finished, stopped, failed or diverged); everything it reported was delivered before this.
  void jobFinished(const rkd::RunOutcome& outcome);

 private:
  using Job = std::function<rkd::RunOutcome(rkd::services::TrainingService&, const rkd::TrainerCallbacks&)>;
  bool launch(Job job);
  void post();
  void deliver();
  void onJobDone(const rkd::RunOutcome& outcome);

  // What the worker thread has reported and the GUI thread has not yet delivered.
  struct Pending {
    /// Order of arrival: 0 = next step, 1 = next epoch, 2 = next new run, 3 = next status line.
    std::vector<unsigned char> order;
    std::vector<rkd::StepProgress> steps;
    std::vector<rkd::EpochProgress> epochs;
    std::optional<rkd::FeatureSnapshot> snapshot;  // only the latest is worth drawing
    std::vector<QString> statuses;
    std::vector<std::pair<QString, QString>> logs;
    std::vector<rkd::RunCreated> newRuns;
  };
  std::mutex m_mutex;
  Pending m_pending;
  std::atomic<bool> m_scheduled{false};

  QString m_storePath;
  QThread m_thread;
  QObject* m_worker = nullptr;  // lives on m_thread (jobs are invoked on it), deleted when the thread finishes
  QTimer m_timer;
  std::shared_ptr<rkd::services::TrainingService> m_session;
  std::shared_ptr<void> m_logSubscription;
  bool m_busy = false;
  qint64 m_currentRun = 0;
  int m_deliveries = 0;
  qint64 m_probe = 0;
};

}  // namespace rkd::gui
