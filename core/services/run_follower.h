#pragma once
// Following a run that another process writes to the store (a `reviewkd train` job, a torchrun job, the studio's
// own launched workers): each poll reads the metric rows that are new since the last poll and the run's status,
// and turns them into the same StepProgress / EpochProgress values the in-process trainer reports, so a front
// end renders a followed run exactly like its own. Also the command lines of the studio's distributed jobs
// (`reviewkd launch ...`) and the stop request for a followed run (SIGINT to its writer when it runs here).
//
// Threading: a RunFollower is one store connection; use it from one thread at a time (a poll reads the store
// and may take a while on a long run: the studio polls on a worker thread).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_records.h"

namespace rkd {
class RunStore;
}

namespace rkd::services {

class RunHistory;

/// What one poll of a followed run found.
struct FollowUpdate {
  int64_t runId = 0;
  /// New steps since the last poll, in step order (the first poll returns the run's whole history).
  std::vector<StepProgress> steps;
  /// Epochs whose evaluation became complete since the last poll, in epoch order.
  std::vector<EpochProgress> epochs;
  RunStatus status = RunStatus::Running;
  std::string message;     ///< the run's message (why it stopped, failed, was interrupted)
  /// The run left "running" (finished, stopped, failed, diverged, interrupted): `outcome` says how. Every metric
  /// it wrote before that is in this update or an earlier one. A run deleted from the store while followed ends
  /// too (as interrupted, with a message saying it was deleted).
  bool ended = false;
  RunOutcome outcome;
  /// Its writer (on another host) has not written for a while: seconds since its last write, else 0.
  double silentSeconds = 0;
  /// The run's latest feature snapshot, when its writer saved a new one since the last poll.
  std::optional<FeatureSnapshot> snapshot;
};

/// Who writes a run and whether this process can ask it to stop.
struct RunWriter {
  int64_t pid = 0;
  std::string hostname;
  bool thisHost = false;   ///< the writer's host is this machine
  bool alive = false;      ///< thisHost and a process with that pid exists
};

/// What a stop request did.
struct StopRequest {
  bool sent = false;       ///< SIGINT was delivered to the writer
  std::string message;     ///< what happened, or why it cannot be stopped from here and what to do instead
};

/// Follows one run of a store by polling it. Never throws from poll(): store errors come back as a status
/// message (the run keeps being followed; a later poll may succeed).
class RunFollower {
 public:
  /// Opens its own connection to the store at `storePath` (without interrupted-run recovery at open). Throws
  /// rkd::UserError (InputError for an unknown run id) naming the store or the run.
  RunFollower(const std::string& storePath, int64_t runId);
  ~RunFollower();
  RunFollower(const RunFollower&) = delete;
  RunFollower& operator=(const RunFollower&) = delete;

  int64_t runId() const { return m_runId; }
  /// The run as read at construction (name, config, world size, writer ...).
  const RunRecord& record() const { return m_record; }
  /// "run 12: quick-student (resnet20 -> resnet8)".
  std::string title() const;

  /// Reads what is new. The run's status is read before its metrics, so the update that reports the end also
  /// holds every metric written before the end. A run still marked running whose writer on this host is gone is
  /// marked interrupted (the store's own recovery, checked every few seconds) and reported as ended.
  FollowUpdate poll();
  /// The last error of a poll ("" after a successful one).
  const std::string& lastError() const { return m_lastError; }

  /// Whose process writes the run (as of the last poll or construction).
  RunWriter writer() const;
  /// Asks the run's writer to stop after its step in flight (SIGINT: `reviewkd train` then writes a checkpoint
  /// and marks the run stopped). Only for a writer on this host; otherwise the message says it cannot be stopped
  /// from here and how to stop it where it runs.
  StopRequest requestStop();

 private:
  struct State;
  void readMetrics(FollowUpdate& update);
  void readSnapshot(FollowUpdate& update);
  void finishEpochs(FollowUpdate& update, bool runEnded);

  std::unique_ptr<RunStore> m_store;
  int64_t m_runId = 0;
  RunRecord m_record;
  std::unique_ptr<State> m_state;
  std::string m_lastError;
};

/// The run a job started after `afterRunId` (the highest run id of the store before the job began): the newest
/// run with a larger id that is running; when none runs, the newest such run (it may already have ended);
/// nullopt when the job has not created one yet. A student config without a teacher first creates the teacher's
/// run, then the student's: this picks whichever runs now. With `launcherPid` (the job's process on this host),
/// a run whose writer still runs here as neither that process nor one of its children belongs to another job
/// and is passed over. Throws rkd::UserError for a store that cannot be read.
std::optional<RunSummary> newestRunOfJob(RunHistory& history, int64_t afterRunId, int64_t launcherPid = 0);
/// The highest run id of the store (0 when it has none). Throws rkd::UserError for a store that cannot be read.
int64_t highestRunId(RunHistory& history);

/// The arguments (after the executable) that start `nproc` local workers of one distributed job with
/// `reviewkd launch`, each running `reviewkd --db <storePath> <command...>`:
/// {"launch", "--nproc-per-node", N, "--", "--db", store, command...}.
std::vector<std::string> launchArguments(int nproc, const std::string& storePath, const std::vector<std::string>& command);
/// `launchArguments` of a training job: command = {"train", "--config", configPath}.
std::vector<std::string> launchTrainArguments(int nproc, const std::string& storePath, const std::string& configPath);
/// `launchArguments` of a resume: command = {"resume", <runId>}.
std::vector<std::string> launchResumeArguments(int nproc, const std::string& storePath, int64_t runId);

/// The `threads` a config gets when `processes` workers share a machine of `cores` logical cores: a config's
/// own count is kept; 0 ("every core") becomes the cores shared among the processes (at least 1 each), so that
/// N processes do not each start a thread per core.
int64_t threadsPerProcess(int64_t configThreads, int processes, int cores);

/// "cpu", or "cpu ×2 (gloo)" for a run trained by several processes.
std::string deviceText(const RunSummary& run);

/// The name of this host as the store records writers' hosts.
std::string thisHostName();

}  // namespace rkd::services
