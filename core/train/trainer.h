#pragma once
// The trainer: runs one RunConfig to the end (or to a stop request), recording everything in the run store
// as it goes. Runs on the caller's thread; the GUI calls it from a worker thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/store/run_store.h"
#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_config.h"

namespace rkd {

/// Trains teachers and students. One Trainer per run at a time; callbacks are called on the calling thread.
class Trainer {
 public:
  /// `stop` (optional) is polled after every step; set it from any thread to stop after the current step.
  Trainer(RunStore& store, TrainerCallbacks callbacks = {}, const StopFlag* stop = nullptr);

  /// Starts a new run. Bad input found before the run exists (config, dataset, teacher) throws
  /// rkd::InputError; anything that goes wrong once the run is in the store marks it failed (or diverged)
  /// with the message and is returned in the outcome, never thrown.
  RunOutcome start(const RunConfig& config);

  /// Continues a stopped or interrupted run from its last checkpoint (weights, optimizer state, schedule
  /// position, data order). `epochs` > 0 changes the total epoch count (to extend a finished run use it too).
  RunOutcome resume(int64_t runId, int64_t epochs = 0);

  /// Test-set index of the probe image of feature snapshots, read before every snapshot (clamped to the test
  /// set). When its value changes during a run, a snapshot is taken after the next step. nullptr = image 0.
  void setProbe(const std::atomic<int64_t>* probe) { m_probe = probe; }

  /// Steps whose scalars (losses, accuracy) are read from the device in one copy. 0 (default) = 1 on the CPU,
  /// where reading costs nothing, and 16 on CUDA, so the GPU is not synchronised after every step. Callbacks and
  /// metrics are the same either way; they arrive in groups. A snapshot, a stop request or the epoch's end reads
  /// what has queued up first.
  void setReadEvery(int64_t steps) { m_readEvery = steps; }

  /// Folder of a run's checkpoints: <store folder>/checkpoints/run-<id>.
  std::string checkpointDir(int64_t runId) const;

 private:
  friend int followDistributedJob(const StopFlag* stop);
  Trainer(TrainerCallbacks callbacks, const StopFlag* stop);  // a follower rank: no run store
  struct Impl;
  RunStore* m_store;
  TrainerCallbacks m_callbacks;
  const StopFlag* m_stop;
  const std::atomic<int64_t>* m_probe = nullptr;
  int64_t m_readEvery = 0;
};

/// Several processes (a process group set with dist::setCurrent): rank 0 runs the command as one process does,
/// alone writing the run store, checkpoints and logs, and announces every run it starts or resumes; the other
/// ranks call followDistributedJob() instead of the command, which joins each announced run (data shard,
/// collectives, no store) until rank 0 calls endDistributedJob(). Returns rank 0's exit code.
int followDistributedJob(const StopFlag* stop);
/// On rank 0, when its command ends: releases the followers with the command's exit code. Never throws.
void endDistributedJob(int exitCode);

/// The learning rate of `epoch` (from 0) under the config's schedule: multistep drops by gamma after each
/// milestone epoch has finished; cosine anneals from lr to 0 over the run.
double scheduledLr(const OptimConfig& optim, int64_t epoch);

}  // namespace rkd
