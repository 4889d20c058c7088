#pragma once
// Private to core/train: one run while it trains (Trainer::Impl). Its parts live in their own files: the run
// builder (run_builder.cpp: validates the config, loads the data, builds the networks and the step), the training
// loop (training_loop.cpp: steps, evaluation, checkpoint files, stop and divergence), and the entry points
// (trainer.cpp: start, resume, the followers of a distributed job). What the run writes to the store is its
// recorder's (run_recorder.cpp), the rank-0/follower protocol its job channel's (job_channel.cpp).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/errors.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/distributed/process_group.h"
#include "core/train/feature_probe.h"
#include "core/train/job_channel.h"
#include "core/train/loop_events.h"
#include "core/train/run_recorder.h"
#include "core/train/trainer.h"
#include "core/train/trainer_checkpoint.h"
#include "core/train/training_step.h"

namespace rkd {

using TrainerClock = std::chrono::steady_clock;
inline double secondsSince(TrainerClock::time_point t) {
  return std::chrono::duration<double>(TrainerClock::now() - t).count();
}

/// Running out of memory, said as what it is, with the settings that size a step; not the allocator's message.
InputError outOfMemory(const RunConfig& c, uint64_t bytes, const std::exception& e, const std::string& when);

struct Trainer::Impl {
  Trainer& owner;
  RunConfig config;
  int64_t runId = 0;
  torch::Device device = torch::kCPU;
  DatasetSplits splits;
  std::unique_ptr<TrainingStep> step;
  std::unique_ptr<BatchLoader> trainLoader;
  std::unique_ptr<FeatureProbe> probe;
  TrainingPosition pos;  // checkpointed
  TrainerClock::time_point started = TrainerClock::now();
  int64_t lastProbe = 0;  // probe index of the last snapshot
  int64_t readEvery = 1;  // steps whose scalars are read from the device together
  // A step whose scalars are still on the device.
  struct PendingStep {
    torch::Tensor values;  // double: total, ce, review, kd, correct, level losses...
    int64_t images = 0;
    int64_t epoch = 0, stepInEpoch = 0, globalStep = 0;
    double reviewFactor = 0;
    std::vector<std::string> levelLabels;
    bool logReview = false;
  };
  std::vector<PendingStep> pending;
  double smoothedImagesPerSecond = 0;
  double evalSeconds = 0;
  // Who observes the loop on rank 0: the recorder (once the run is in the store) and the caller's callbacks.
  std::unique_ptr<RunRecorder> recorder;
  CallbackObserver callbacks{owner.m_callbacks};
  // Distributed: the job's group (null for one process), this run's channel to the other ranks, the devices of
  // all ranks and the stop decision of the last all-reduce (every rank stops at the same step).
  std::shared_ptr<dist::ProcessGroup> group = dist::current();
  JobChannel channel{group};
  std::vector<std::string> rankDevices;
  bool collectiveStop = false;
  // A follower's announced run: the resolved input channels and the teacher network.
  int64_t plannedChannels = 0;
  std::string plannedTeacherArch;

  explicit Impl(Trainer& t) : owner(t) {}

  bool primary() const { return !group || group->primary(); }
  int worldSize() const { return group ? group->size() : 1; }
  bool stopRequested() const { return owner.m_stop && owner.m_stop->load(); }

  /// Tells every observer (rank 0 only; the followers neither record nor call back).
  template <typename F>
  void notify(F&& event) {
    if (!primary()) return;
    if (recorder) event(static_cast<LoopObserver&>(*recorder));
    event(static_cast<LoopObserver&>(callbacks));
  }
  void status(const std::string& s);
  /// The run is in the store (created or claimed): every observer learns who it is.
  void announceCreated(bool resumed);

  // run_builder.cpp
  void build();
  void buildParts();
  RunRecord record() const;
  CheckpointOwner checkpointOwner() const { return {owner.m_store->storeId(), runId, config.student}; }

  // training_loop.cpp
  RunOutcome guardedLoop();
  RunOutcome loop();
  std::optional<RunOutcome> report(const PendingStep& q, const double* v, double lr, int64_t perEpoch,
                                   int64_t totalSteps, int64_t stepsAtStart, TrainerClock::time_point& rateMark,
                                   int64_t& rateImages);
  std::optional<RunOutcome> drain(double lr, int64_t perEpoch, int64_t totalSteps, int64_t stepsAtStart,
                                  TrainerClock::time_point& rateMark, int64_t& rateImages);
  void queueStep(const LossParts& parts, const Batch& batch);
  std::optional<RunOutcome> endEpoch(double lr, TrainerClock::time_point epochStart);
  std::string saveCheckpoint(const std::string& name);
  void snapshot();
  RunOutcome finish(RunStatus st, const std::string& message);
};

}  // namespace rkd
