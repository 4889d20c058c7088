// The trainer's entry points: start, resume, and the followers of a distributed job. What a run does while it
// trains is in trainer_run.h and the files it names.
#include "core/train/trainer.h"

#include <cmath>
#include <optional>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/common/memory.h"
#include "core/store/run_store.h"
#include "core/train/teacher_loader.h"
#include "core/train/trainer_run.h"

namespace rkd {

double scheduledLr(const OptimConfig& optim, int64_t epoch) {
  if (optim.schedule == "cosine")
    return optim.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(optim.epochs)));
  double lr = optim.lr;
  for (int64_t m : optim.milestones)
    if (epoch > m) lr *= optim.gamma;
  return lr;
}

void Trainer::Impl::status(const std::string& s) {
  if (!primary()) {
    logger("core.train")->debug("rank {}: {}", group->rank(), s);
    return;
  }
  logger("core.train")->info("{}", s);
  notify([&](LoopObserver& o) { o.statusLine(s); });
}

void Trainer::Impl::announceCreated(bool resumed) {
  const RunRecord r = record();
  RunCreated created;
  created.runId = runId;
  created.name = r.name;
  created.kind = r.kind;
  created.method = r.method;
  created.config = r.config;
  created.resumed = resumed;
  created.epoch = pos.epoch;
  created.globalStep = pos.globalStep;
  notify([&](LoopObserver& o) { o.runCreated(created); });
}

namespace {

// Builds the run (data, networks, step); an allocation that fails there is a refusal naming the settings.
template <typename Run>
void buildOrRefuse(Run& run) {
  try {
    run.build();
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    if (const std::optional<uint64_t> bytes = failedAllocation(e))
      throw outOfMemory(run.config, *bytes, e, "while loading the data and building the networks");
    throw;
  }
}

}  // namespace

Trainer::Trainer(RunStore& store, TrainerCallbacks callbacks, const StopFlag* stop)
    : m_store(&store), m_callbacks(std::move(callbacks)), m_stop(stop) {}

Trainer::Trainer(TrainerCallbacks callbacks, const StopFlag* stop)
    : m_store(nullptr), m_callbacks(std::move(callbacks)), m_stop(stop) {}

std::string Trainer::checkpointDir(int64_t runId) const {
  return RunStore::runFolder(m_store->path(), runId);
}

namespace {

// A stop asked for while the data and the networks loaded (Ctrl-C, SIGTERM): the run is not created (a start) or
// not claimed (a resume), and the process ends as a stop during training does. A job of several processes
// decides its stops together at the first step instead.
std::optional<RunOutcome> stoppedWhileLoading(const StopFlag* stop, bool distributed, int64_t runId) {
  if (distributed || !stop || !stop->load()) return std::nullopt;
  RunOutcome o;
  o.runId = runId;
  o.status = RunStatus::Stopped;
  o.message = runId > 0 ? "stopped on request while loading, before the resume trained; the run is as it was"
                        : "stopped on request while loading, before training began; no run was recorded";
  logger("core.train")->info("{}", o.message);
  return o;
}

}  // namespace

RunOutcome Trainer::start(const RunConfig& config) {
  Impl run(*this);
  run.config = config;
  buildOrRefuse(run);
  if (auto stopped = stoppedWhileLoading(m_stop, run.group != nullptr, 0)) return *stopped;
  if (const std::string warning = weakTeacherWarning(*m_store, run.config); !warning.empty()) run.status(warning);
  run.recorder = RunRecorder::create(*m_store, run.record());
  run.runId = run.recorder->runId();
  run.announceCreated(false);
  if (run.group) run.channel.syncState(*run.step, run.pos, false);
  run.started = TrainerClock::now();
  return run.guardedLoop();
}

RunOutcome Trainer::resume(int64_t runId, int64_t epochs) {
  // A run left "running" by a writer that is gone (crashed, or gave the run up because it could not close it)
  // is marked interrupted first, so that it can be resumed without reopening the store.
  try {
    m_store->recoverInterruptedRuns();
  } catch (const StoreError& e) {
    logger("core.train")->warn("resume: interrupted runs could not be recovered: {}", e.what());
  }
  auto rec = m_store->getRun(runId);
  if (!rec) throw InputError("run " + std::to_string(runId) + " does not exist in " + m_store->path(), "see: reviewkd runs list");
  if (rec->status == RunStatus::Running)
    throw InputError("run " + std::to_string(runId) + " is still running (pid " + std::to_string(rec->pid) + " on " +
                         rec->hostname + ")",
                     "stop it first, or wait for it to end");
  const std::string last = m_store->checkpointPath(runId, CheckpointKind::Last);
  if (last.empty())
    throw InputError("run " + std::to_string(runId) + " has no checkpoint to resume from",
                     "it stopped before finishing its first epoch; start it again");
  Impl run(*this);
  run.config = runConfigFromJson(rec->config, "run " + std::to_string(runId) + " config");
  if (epochs > 0) run.config.optim.epochs = epochs;
  buildOrRefuse(run);
  run.runId = runId;
  try {
    run.pos = loadTrainerCheckpoint(*run.step, run.checkpointOwner(), last);
    // The position must be one this run can be at: its steps per epoch with this data and world size.
    const TrainingPosition& p = run.pos;
    const int64_t perEpoch = run.trainLoader->batchesPerEpoch();
    const bool sameLayout = rec->worldSize == run.worldSize();
    std::string wrong;
    // A stop on an epoch's last step leaves step_in_epoch == steps per epoch: the epoch is trained but not yet
    // evaluated, and the resume evaluates it first. Only a count past that is impossible.
    if (p.stepInEpoch > perEpoch)
      wrong = "meta.step_in_epoch " + std::to_string(p.stepInEpoch) + " is more than the " + std::to_string(perEpoch) +
              " steps of an epoch";
    else if (p.epochsDone != p.epoch)
      wrong = "meta.epochs_done " + std::to_string(p.epochsDone) + " does not match meta.epoch " + std::to_string(p.epoch);
    else if (sameLayout && p.globalStep != p.epoch * perEpoch + p.stepInEpoch)
      wrong = "meta.global_step " + std::to_string(p.globalStep) + " is not epoch x steps per epoch + step (" +
              std::to_string(p.epoch * perEpoch + p.stepInEpoch) + ")";
    else if (p.bestTop1 < 0 || p.bestTop1 > 100 || p.lastTop1 < 0 || p.lastTop1 > 100)
      wrong = "a top-1 outside 0..100";
    if (!wrong.empty())
      throw InputError("checkpoint '" + last + "' of run " + std::to_string(runId) + " holds a position this run cannot be at: " +
                           wrong,
                       "the file was damaged or edited; restore it, or start the run again");
    if (run.pos.epoch >= run.config.optim.epochs)
      throw InputError("run " + std::to_string(runId) + " has already done " + std::to_string(run.pos.epoch) + " of " +
                           std::to_string(run.config.optim.epochs) + " epochs",
                       "give a larger epoch count to extend it (reviewkd resume " + std::to_string(runId) +
                           " --epochs N)");
  } catch (const std::exception& e) {
    if (run.group) run.channel.refuseState(firstLine(e.what()));
    throw;
  }
  if (run.group && rec->worldSize != run.worldSize())
    run.status("run " + std::to_string(runId) + " was trained by " + std::to_string(rec->worldSize) +
               " process(es) and continues with " + std::to_string(run.worldSize()) +
               ": the data order changes, so it is not bit-exact with an uninterrupted run");
  if (auto stopped = stoppedWhileLoading(m_stop, run.group != nullptr, runId)) return *stopped;
  // The claim (refused when another process resumed the run meanwhile), with the layout this resume trains on.
  const RunRecord layout = run.record();
  try {
    const nlohmann::json config = toJson(run.config);
    run.recorder = RunRecorder::claim(*m_store, runId, run.pos.epoch, run.pos.globalStep, "resumed from " + last, layout,
                                      epochs > 0 ? &config : nullptr);
  } catch (const std::exception& e) {
    if (run.group) run.channel.refuseState(firstLine(e.what()));
    throw;
  }
  run.announceCreated(true);
  if (run.group) run.channel.syncState(*run.step, run.pos, true);
  run.started = TrainerClock::now();
  run.status("resuming run " + std::to_string(runId) + " at epoch " + std::to_string(run.pos.epoch) + ", step " +
             std::to_string(run.pos.stepInEpoch));
  return run.guardedLoop();
}

int followDistributedJob(const StopFlag* stop) {
  const auto group = dist::current();
  if (!group || group->primary()) throw std::logic_error("followDistributedJob: not a follower rank");
  for (;;) {
    Trainer trainer({}, stop);
    Trainer::Impl run(trainer);
    const JobChannel::Next next = JobChannel::receiveNext(group, run.channel);
    if (next.kind == JobChannel::Next::Kind::Done) return next.exitCode;
    if (next.kind == JobChannel::Next::Kind::Skipped) {
      logger("core.train")->debug("rank {}: rank 0 could not prepare a run: {}", group->rank(), next.error);
      continue;
    }
    try {
      try {
        const RunPlan plan = JobChannel::readPlan(next.plan);
        run.config = plan.config;
        run.plannedChannels = plan.channels;
        run.plannedTeacherArch = plan.teacherArch;
      } catch (const std::exception& e) {
        run.channel.refuse(firstLine(e.what()));  // rank 0 names this rank and calls the run off
        throw;
      }
      buildOrRefuse(run);
      run.channel.syncState(*run.step, run.pos, false);  // rank 0's message decides
    } catch (const dist::CollectiveError&) {
      throw;
    } catch (const std::exception& e) {
      // Rank 0 knows (the rank's ready message or its own refusal) and decides how the job goes on.
      logger("core.train")->warn("rank {}: {}", group->rank(), firstLine(e.what()));
      continue;
    }
    const RunOutcome o = run.guardedLoop();
    if (o.status == RunStatus::Interrupted) return 1;  // the job lost a rank: no further plan will come
  }
}

void endDistributedJob(int exitCode) {
  const auto group = dist::current();
  if (!group || !group->primary()) return;
  JobChannel::endJob(*group, exitCode);
}

}  // namespace rkd
