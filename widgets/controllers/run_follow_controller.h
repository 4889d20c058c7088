#pragma once
// Follows runs that another process writes to the store (History > Follow live, and the studio's own
// distributed jobs): polls services::RunFollower on a worker thread every poll interval and turns what it reads
// into the same signals the in-process TrainingController emits, so the live view renders both alike.
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QThread>
#include <QTimer>
#include <memory>
#include <vector>

#include "core/vocabulary/progress.h"
#include "widgets/controllers/metatypes.h"

namespace rkd::gui {

class RunFollowController : public QObject {
  Q_OBJECT
 public:
  explicit RunFollowController(QObject* parent = nullptr);
  /// Quits and waits for the polling thread (the followed runs go on: following never stops a run).
  ~RunFollowController() override;

  void setStorePath(const QString& path);
  QString storePath() const { return m_storePath; }
  /// Milliseconds between polls (default 500); a poll that takes longer than a quarter of it (a long run's
  /// history is read again by every poll) spaces the next one out to four times its own duration.
  void setPollInterval(int ms);
  /// How long to wait, after a job's processes ended, for its run to leave "running" (default 15 s).
  void setEndGrace(int ms) { m_endGraceMs = ms; }

  bool isFollowing() const { return m_mode != Mode::Idle; }
  /// Following a job's runs (followJob) rather than one run (followRun).
  bool isFollowingJob() const { return m_mode == Mode::Job; }
  /// The run now followed (0 while a job has not created one yet).
  qint64 currentRunId() const { return m_runId; }
  /// Completed polls since the last follow started (for tests).
  int polls() const { return m_polls; }

  /// Follows one run until its status leaves "running" (then followEnded). Replaces what was followed.
  void followRun(qint64 runId);
  /// Follows the runs a job creates after `afterRunId` (the store's highest id before it started): the newest
  /// running one, switching to a newer one when it appears (a teacher, then its student). With `resumeRunId`
  /// the job resumes that run: it is followed once it runs again. `launcherPid`: the job's process, so that a run
  /// another process starts meanwhile in the same store is not taken for the job's. Ends after
  /// jobProcessesEnded().
  void followJob(qint64 afterRunId, qint64 resumeRunId = 0, qint64 launcherPid = 0);
  /// The job's processes exited: the next polls read the last rows; followEnded comes when the followed run has
  /// left "running" (or after the end grace, when it has not).
  void jobProcessesEnded();
  /// Stops following without touching the run.
  void stopFollowing();
  /// Asks the followed run's writer to stop (SIGINT when it runs on this host); the answer comes as message().
  void requestStop();

 Q_SIGNALS:
  void followingChanged(bool following);
  /// A run is followed from now on (with its title: "run 12: name (teacher -> student)").
  void runStarted(qint64 runId, const QString& title);
  void stepsReady(const std::vector<rkd::StepProgress>& steps);
  void epochReady(const rkd::EpochProgress& epoch);
  /// The run's latest feature snapshot, as its writer saved it.
  void snapshotReady(const rkd::FeatureSnapshot& snapshot);
  void statusChanged(const QString& text);
  /// A stop request's answer, a poll that failed, a writer that went silent; `error` for failures.
  void message(const QString& text, bool error);
  /// A followed run left "running" (a job may go on with its next run).
  void runEnded(const rkd::RunOutcome& outcome);
  /// Following is over: the run ended (followRun), or the job's processes ended (followJob, `job` true;
  /// `followedAny` false when the job never created a run, and then `outcome` is empty). Everything read was
  /// delivered first.
  void followEnded(const rkd::RunOutcome& outcome, bool followedAny, bool job);

 public:
  struct Work;  // the worker thread's state of one follow (store connections, the follower)

 private:
  enum class Mode { Idle, Run, Job };
  void begin(Mode mode, qint64 runId, qint64 afterRunId, qint64 resumeRunId, qint64 launcherPid);
  void schedulePoll();
  void finish(const rkd::RunOutcome& outcome, bool followedAny);

  QString m_storePath;
  QThread m_thread;
  QObject* m_worker = nullptr;  // lives on m_thread; the context of polls
  QTimer m_timer;
  int m_pollInterval = 500;
  std::shared_ptr<Work> m_work;
  Mode m_mode = Mode::Idle;
  int m_generation = 0;     // results of an older follow are dropped
  bool m_inFlight = false;
  qint64 m_runId = 0;
  bool m_runEnded = false;
  rkd::RunOutcome m_lastOutcome;
  bool m_followedAny = false;
  bool m_processesEnded = false;
  QElapsedTimer m_sinceProcessesEnded;
  int m_endGraceMs = 15000;
  int m_polls = 0;
  bool m_silentReported = false;
  QString m_lastError;      // the last poll's error, said once
};

}  // namespace rkd::gui
