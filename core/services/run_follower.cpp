#include "core/services/run_follower.h"
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <signal.h>
#include <unistd.h>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/services/guarded.h"
#include "core/vocabulary/snapshot_codec.h"
#include "core/services/run_history.h"
#include "core/store/run_store.h"
#include "core/vocabulary/metric_keys.h"

namespace rkd::services {
using detail::guarded;

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// How often a run still marked running on this host is checked for a writer that is gone.
constexpr auto kRecoveryEvery = std::chrono::seconds(3);
/// A writer on another host that has not written for this long is reported as silent.
constexpr int64_t kSilentAfterMs = 60000;


template <typename T>
T configValue(const nlohmann::json& config, const char* section, const char* key, T fallback) {
  try {
    const nlohmann::json* node = &config;
    if (section) {
      auto it = config.find(section);
      if (it == config.end()) return fallback;
      node = &*it;
    }
    auto it = node->find(key);
    if (it == node->end() || it->is_null()) return fallback;
    return it->get<T>();
  } catch (const std::exception&) {
    return fallback;  // a foreign or damaged config: the follower shows what the metrics say
  }
}

// The command line of a process of this host (arguments separated by NUL in /proc), empty when unknown.
std::vector<std::string> commandLine(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

// The parent of a process of this host (0 when unknown), from /proc/<pid>/stat ("pid (comm) S ppid ...").
int64_t parentOf(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  int64_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// Whether a command line is a launcher that forwards SIGINT to its workers: `reviewkd launch` or torchrun
// (`torchrun`, `python -m torch.distributed.run`).
bool isLauncher(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const auto base = [](const std::string& path) { return path.substr(path.find_last_of('/') + 1); };
  if (base(args[0]) == "reviewkd" && std::find(args.begin(), args.end(), "launch") != args.end()) return true;
  for (const auto& a : args) {
    const std::string b = base(a);
    if (b == "torchrun" || a == "torch.distributed.run" || a == "torch.distributed.launch") return true;
  }
  return false;
}

bool processExists(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// One step being assembled from its metric rows (rows of one step may arrive in two polls).
struct StepRows {
  int epoch = 0;
  double loss = kNaN, ce = kNaN, review = kNaN, kd = kNaN, lr = kNaN;
  std::map<std::string, double> levels;
};

// One epoch's evaluation rows.
struct EpochRows {
  double trainLoss = kNaN, trainTop1 = kNaN, testLoss = kNaN, testTop1 = kNaN, testTop5 = kNaN;
  double valTop1 = -1, lr = kNaN, seconds = kNaN;
  bool complete = false;  // epoch/seconds, the last row the trainer writes per epoch, arrived
};

}  // namespace

// What the follower has read so far.
struct RunFollower::State {
  bool firstPoll = true;
  int64_t lastRow = 0;                        // the newest metric row read so far
  std::filesystem::file_time_type snapshotTime{};  // of the snapshot file last read
  std::map<int64_t, StepRows> pendingSteps;   // read, not yet reported
  std::map<int, EpochRows> pendingEpochs;     // read, not yet reported
  std::map<int, int64_t> firstStepOfEpoch;
  int newestStepEpoch = -1;                   // the highest epoch any step row had
  std::vector<std::string> levelLabels;       // every level seen, in first-seen order
  int64_t lastReportedStep = -1;
  int lastReportedEpoch = -1;
  double bestTop1 = 0;
  // throughput of the followed writer, measured from the polls that brought steps
  Clock::time_point lastDelivery;
  bool haveDelivery = false;
  double stepsPerSecond = 0;
  Clock::time_point lastRecovery{};
};

RunFollower::RunFollower(const std::string& storePath, int64_t runId) : m_runId(runId), m_state(std::make_unique<State>()) {
  RunStoreOptions options;
  options.recoverInterrupted = false;  // the studio's own connection recovers at open; this one only reads
  m_store = std::make_unique<RunStore>(storePath, options);
  auto run = m_store->getRun(runId);
  if (!run)
    throw InputError("run " + std::to_string(runId) + " is not in the run store " + storePath,
                     "choose a run from History (reviewkd runs list shows the runs of a store)");
  m_record = std::move(*run);
}

RunFollower::~RunFollower() = default;

std::string RunFollower::title() const {
  std::string pair = m_record.teacherArch.empty() || m_record.kind == RunKind::Teacher
                         ? m_record.studentArch
                         : m_record.teacherArch + " -> " + m_record.studentArch;
  std::string t = "run " + std::to_string(m_runId) + ": " + m_record.name;
  if (!pair.empty()) t += " (" + pair + ")";
  return t;
}

RunWriter RunFollower::writer() const {
  RunWriter w;
  w.pid = m_record.pid;
  w.hostname = m_record.hostname;
  w.thisHost = m_record.hostname.empty() || m_record.hostname == thisHostName();
  w.alive = w.thisHost && processExists(w.pid);
  return w;
}

StopRequest RunFollower::requestStop() {
  StopRequest r;
  const RunWriter w = writer();
  const std::string run = "run " + std::to_string(m_runId);
  if (m_record.status != RunStatus::Running) {
    r.message = run + " is not running (it is " + toString(m_record.status) + "); nothing to stop";
    return r;
  }
  if (!w.thisHost) {
    r.message = run + " is trained by process " + std::to_string(w.pid) + " on host " + w.hostname +
                ", not on this machine, so it cannot be stopped from here: press Ctrl-C where it runs, or run `kill -INT " +
                std::to_string(w.pid) + "` on " + w.hostname;
    return r;
  }
  if (!w.alive) {
    r.message = run + ": its process " + std::to_string(w.pid) + " is gone; the run will show as interrupted and can be resumed";
    return r;
  }
  // A distributed run is written by its rank 0; its launcher (reviewkd launch, torchrun) forwards SIGINT to every
  // local worker, so the whole job stops together. Without one, rank 0 alone is asked.
  int64_t target = w.pid;
  std::string whom = "process " + std::to_string(w.pid);
  if (m_record.worldSize > 1) {
    const int64_t parent = parentOf(w.pid);
    if (parent > 1 && isLauncher(commandLine(parent))) {
      target = parent;
      whom = "the launcher (pid " + std::to_string(parent) + ") of its " + std::to_string(m_record.worldSize) + " workers";
    } else {
      whom = "rank 0 (pid " + std::to_string(w.pid) + ") of its " + std::to_string(m_record.worldSize) + " workers";
    }
  }
  if (::kill(static_cast<pid_t>(target), SIGINT) != 0) {
    r.message = run + ": could not send SIGINT to " + whom + " (" +
                (errno == EPERM ? "it belongs to another user" : "errno " + std::to_string(errno)) +
                "); stop it where it was started (Ctrl-C)";
    return r;
  }
  r.sent = true;
  r.message = "asked " + run + "'s " + whom +
              " to stop (SIGINT): the run stops after the step in flight, writes a checkpoint and is marked stopped";
  return r;
}

FollowUpdate RunFollower::poll() {
  FollowUpdate u;
  u.runId = m_runId;
  u.status = m_record.status;
  bool gone = false;
  const bool ok = guarded(
      [&] {
        // Status first: the metrics read afterwards then hold everything written before a terminal status.
        auto run = m_store->getRun(m_runId);
        if (!run) {
          gone = true;
          return;
        }
        m_record = std::move(*run);
        if (m_record.status == RunStatus::Running && writer().thisHost &&
            Clock::now() - m_state->lastRecovery >= kRecoveryEvery) {
          // A writer that died (kill -9) leaves its run "running": the store's own rule (pid gone or reused)
          // decides and marks it interrupted in its transaction, as the next open of the store would.
          m_state->lastRecovery = Clock::now();
          if (m_store->recoverInterruptedRuns() > 0)
            if (auto again = m_store->getRun(m_runId)) m_record = std::move(*again);
        }
        readMetrics(u);
        readSnapshot(u);
      },
      m_lastError);
  if (!ok) u.message = m_lastError;
  if (ok) m_lastError.clear();
  if (gone) {
    // Deleted (History > Delete refuses a running run, so its writer was gone): nothing more will come.
    u.ended = true;
    u.status = RunStatus::Interrupted;
    u.message = "run " + std::to_string(m_runId) + " was deleted from the run store while it was followed";
    u.outcome.runId = m_runId;
    u.outcome.status = u.status;
    u.outcome.message = u.message;
    u.outcome.epochsDone = m_record.epochsDone;
    return u;
  }
  u.status = m_record.status;
  if (ok) u.message = m_record.message;
  if (ok && m_record.status == RunStatus::Running && !writer().thisHost) {
    const int64_t silentMs = nowUnixMs() - m_record.updatedAt;
    if (silentMs > kSilentAfterMs) u.silentSeconds = static_cast<double>(silentMs) / 1000.0;
  }
  if (ok && m_record.status != RunStatus::Running) {
    u.ended = true;
    RunOutcome& o = u.outcome;
    o.runId = m_runId;
    o.status = m_record.status;
    o.message = m_record.message;
    o.epochsDone = m_record.epochsDone;
    o.bestTop1 = m_record.bestTop1.value_or(0);
    o.lastTop1 = m_record.lastTop1.value_or(0);
    if (m_record.endedAt && *m_record.endedAt > m_record.startedAt)
      o.seconds = static_cast<double>(*m_record.endedAt - m_record.startedAt) / 1000.0;
  }
  return u;
}

void RunFollower::readSnapshot(FollowUpdate& u) {
  const std::filesystem::path file =
      std::filesystem::path(RunStore::runFolder(m_store->path(), m_runId)) / kSnapshotFileName;
  std::error_code ec;
  const auto time = std::filesystem::last_write_time(file, ec);
  if (ec || time == m_state->snapshotTime || !regularFileExists(file.string())) return;
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (!in.good() && !in.eof()) return;
  m_state->snapshotTime = time;
  try {
    u.snapshot = decodeSnapshot(bytes, file.string());
  } catch (const InputError& e) {
    u.message = e.full();  // shown once; the next snapshot replaces the file
  }
}

void RunFollower::readMetrics(FollowUpdate& u) {
  State& s = *m_state;
  const bool first = s.firstPoll;
  s.firstPoll = false;
  bool anyStepRow = false;
  // The rows written since the last poll, filtered to what was not reported yet. Rows already reported are
  // skipped, so a step or an epoch that a resumed run logs again keeps the values shown first.
  s.lastRow = m_store->visitMetricsSince(m_runId, s.lastRow, [&](const MetricPoint& p) {
    if (p.step == kEpochStep) {
      if (p.epoch <= s.lastReportedEpoch) return;
      EpochRows& e = s.pendingEpochs[p.epoch];
      if (p.key == metric::kEpochTrainLoss) e.trainLoss = p.value;
      else if (p.key == metric::kEpochTrainTop1) e.trainTop1 = p.value;
      else if (p.key == metric::kTestLoss) e.testLoss = p.value;
      else if (p.key == metric::kTestTop1) e.testTop1 = p.value;
      else if (p.key == metric::kTestTop5) e.testTop5 = p.value;
      else if (p.key == metric::kValTop1) e.valTop1 = p.value;
      else if (p.key == metric::kEpochLr) e.lr = p.value;
      else if (p.key == metric::kEpochSeconds) {
        e.seconds = p.value;
        e.complete = true;
      }
      return;
    }
    auto firstStep = s.firstStepOfEpoch.find(p.epoch);
    if (firstStep == s.firstStepOfEpoch.end() || p.step < firstStep->second) s.firstStepOfEpoch[p.epoch] = p.step;
    s.newestStepEpoch = std::max(s.newestStepEpoch, p.epoch);
    if (p.step <= s.lastReportedStep) return;
    anyStepRow = true;
    StepRows& r = s.pendingSteps[p.step];
    r.epoch = p.epoch;
    if (p.key == metric::kTrainLoss) r.loss = p.value;
    else if (p.key == metric::kTrainCe) r.ce = p.value;
    else if (p.key == metric::kTrainReview) r.review = p.value;
    else if (p.key == metric::kTrainKd) r.kd = p.value;
    else if (p.key == metric::kLr) r.lr = p.value;
    else if (p.key.rfind(metric::kTrainLevelPrefix, 0) == 0) {
      const std::string label = p.key.substr(std::char_traits<char>::length(metric::kTrainLevelPrefix));
      r.levels[label] = p.value;
      if (std::find(s.levelLabels.begin(), s.levelLabels.end(), label) == s.levelLabels.end()) s.levelLabels.push_back(label);
    }
  });

  const bool ended = m_record.status != RunStatus::Running;
  const nlohmann::json& config = m_record.config;
  const int epochs = static_cast<int>(configValue<int64_t>(config, "optim", "epochs", 0));
  const int64_t batch = configValue<int64_t>(config, "optim", "batch_size", 0);
  const bool reviewKd = configValue<std::string>(config, nullptr, "method", "") == "reviewkd";
  const int64_t warmup = configValue<int64_t>(config, "review", "warmup_epochs", 0);
  // Steps per epoch: the distance between the first steps of two consecutive epochs, once two were seen.
  int64_t perEpoch = 0;
  for (auto it = s.firstStepOfEpoch.begin(); it != s.firstStepOfEpoch.end(); ++it) {
    auto next = std::next(it);
    if (next != s.firstStepOfEpoch.end() && next->first == it->first + 1) perEpoch = std::max(perEpoch, next->second - it->second);
  }
  // Every step below the newest one read is complete (the writer logs steps in order; a batch of rows may end in
  // the middle of a step); the newest one only when the run ended, or its epoch's evaluation or a later epoch's
  // steps arrived.
  int64_t releaseUpTo = -1;
  if (!s.pendingSteps.empty()) {
    const auto newest = std::prev(s.pendingSteps.end());
    const int epoch = newest->second.epoch;
    const bool newestDone = ended || s.pendingEpochs.count(epoch) > 0 || epoch <= s.lastReportedEpoch ||
                            s.newestStepEpoch > epoch;
    releaseUpTo = newestDone ? newest->first : newest->first - 1;
  }
  int64_t released = 0;
  for (auto it = s.pendingSteps.begin(); it != s.pendingSteps.end() && it->first <= releaseUpTo;) {
    const StepRows& r = it->second;
    StepProgress p;
    p.runId = m_runId;
    p.epoch = r.epoch;
    p.epochs = epochs;
    p.step = it->first;
    p.stepsPerEpoch = perEpoch;
    const int64_t inEpoch = it->first - static_cast<int64_t>(r.epoch) * perEpoch;
    if (perEpoch > 0 && inEpoch >= 0 && inEpoch < perEpoch) {
      p.stepInEpoch = inEpoch;
    } else {
      auto firstStep = s.firstStepOfEpoch.find(r.epoch);
      p.stepInEpoch = firstStep == s.firstStepOfEpoch.end() ? 0 : it->first - firstStep->second;
    }
    p.loss = r.loss;
    p.ce = r.ce;
    p.review = r.review;
    p.kd = std::isnan(r.kd) ? 0 : r.kd;
    p.lr = r.lr;
    if (reviewKd)
      p.reviewFactor = warmup > 0 ? std::min(1.0, static_cast<double>(r.epoch) / static_cast<double>(warmup)) : 1.0;
    if (!r.levels.empty())
      for (const std::string& label : s.levelLabels) {
        auto v = r.levels.find(label);
        p.levelLabels.push_back(label);
        p.levelLosses.push_back(v == r.levels.end() ? kNaN : v->second);
      }
    u.steps.push_back(std::move(p));
    s.lastReportedStep = it->first;
    ++released;
    it = s.pendingSteps.erase(it);
  }

  // Throughput from the polls that brought steps (not the first one: that one reads the run's history).
  const auto now = Clock::now();
  if (released > 0) {
    if (!first && s.haveDelivery) {
      const double dt = std::chrono::duration<double>(now - s.lastDelivery).count();
      if (dt > 0.05) {
        const double rate = static_cast<double>(released) / dt;
        s.stepsPerSecond = s.stepsPerSecond == 0 ? rate : 0.7 * s.stepsPerSecond + 0.3 * rate;
      }
    }
    s.lastDelivery = now;
    s.haveDelivery = true;
    StepProgress& last = u.steps.back();
    if (s.stepsPerSecond > 0 && !ended) {
      last.imagesPerSecond = s.stepsPerSecond * static_cast<double>(batch);
      if (perEpoch > 0 && epochs > 0) {
        const double remaining = static_cast<double>(static_cast<int64_t>(epochs) * perEpoch - last.step - 1);
        last.etaSeconds = std::max(0.0, remaining / s.stepsPerSecond);
      }
    }
  } else if (anyStepRow && !s.haveDelivery) {
    s.lastDelivery = now;
    s.haveDelivery = true;
  }

  // Epochs: complete once their last row arrived, or a later epoch's steps did, or the run ended.
  for (auto it = s.pendingEpochs.begin(); it != s.pendingEpochs.end();) {
    const bool done = it->second.complete || ended || s.newestStepEpoch > it->first;
    if (!done) break;
    const EpochRows& r = it->second;
    EpochProgress e;
    e.runId = m_runId;
    e.epoch = it->first;
    e.epochs = epochs;
    e.trainLoss = r.trainLoss;
    e.trainTop1 = r.trainTop1;
    e.testLoss = r.testLoss;
    e.testTop1 = r.testTop1;
    e.testTop5 = r.testTop5;
    e.valTop1 = r.valTop1;
    if (std::isfinite(r.testTop1)) s.bestTop1 = std::max(s.bestTop1, r.testTop1);
    e.bestTop1 = s.bestTop1;
    e.lr = r.lr;
    e.seconds = std::isnan(r.seconds) ? 0 : r.seconds;
    u.epochs.push_back(e);
    s.lastReportedEpoch = it->first;
    it = s.pendingEpochs.erase(it);
  }
}

// --- jobs -----------------------------------------------------------------------------------------------------

std::optional<RunSummary> newestRunOfJob(RunHistory& history, int64_t afterRunId, int64_t launcherPid) {
  RunFilter filter;
  filter.limit = 50;  // the job's runs are the newest of the store
  std::optional<RunSummary> newestRunning, newest;
  const std::string host = thisHostName();
  // Another job's run: its writer lives on this host and is neither the launcher nor a child of it. (A writer
  // that is gone cannot be told apart: its run is taken, as the job's own short run would be.)
  const auto otherJobs = [&](const RunSummary& r) {
    if (launcherPid <= 0 || r.status != RunStatus::Running) return false;
    const auto record = history.run(r.id);
    if (!record || record->hostname != host || !processExists(record->pid)) return false;
    return record->pid != launcherPid && parentOf(record->pid) != launcherPid;
  };
  for (const RunSummary& r : history.list(filter)) {
    if (r.id <= afterRunId || otherJobs(r)) continue;
    if (!newest || r.id > newest->id) newest = r;
    if (r.status == RunStatus::Running && (!newestRunning || r.id > newestRunning->id)) newestRunning = r;
  }
  return newestRunning ? newestRunning : newest;
}

int64_t highestRunId(RunHistory& history) {
  int64_t highest = 0;
  for (const RunSummary& r : history.list()) highest = std::max(highest, r.id);
  return highest;
}

std::vector<std::string> launchArguments(int nproc, const std::string& storePath, const std::vector<std::string>& command) {
  std::vector<std::string> args{"launch", "--nproc-per-node", std::to_string(nproc), "--", "--db", storePath};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

std::vector<std::string> launchTrainArguments(int nproc, const std::string& storePath, const std::string& configPath) {
  return launchArguments(nproc, storePath, {"train", "--config", configPath});
}

std::vector<std::string> launchResumeArguments(int nproc, const std::string& storePath, int64_t runId) {
  return launchArguments(nproc, storePath, {"resume", std::to_string(runId)});
}

int64_t threadsPerProcess(int64_t configThreads, int processes, int cores) {
  if (configThreads > 0 || processes <= 1) return configThreads;
  return std::max(1, cores / processes);
}

std::string deviceText(const RunSummary& run) {
  if (run.worldSize <= 1) return run.device;
  std::string text = run.device + " \u00d7" + std::to_string(run.worldSize);
  if (!run.backend.empty()) text += " (" + run.backend + ")";
  return text;
}

std::string thisHostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

}  // namespace rkd::services
