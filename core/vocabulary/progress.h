#pragma once
// Plain value structs the trainer reports through its callbacks (no torch types: the GUI and CLI use them).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/vocabulary/run_records.h"

namespace rkd {

/// After every optimizer step.
struct StepProgress {
  int64_t runId = 0;
  int epoch = 0;                 ///< counted from 0
  int epochs = 0;                ///< total epochs of the run
  int64_t step = 0;              ///< global optimizer step, from 0
  int64_t stepInEpoch = 0;       ///< from 0
  int64_t stepsPerEpoch = 0;
  double loss = 0;               ///< total objective
  double ce = 0;
  double review = 0;             ///< unweighted review loss (sum over levels)
  double kd = 0;
  double reviewFactor = 0;       ///< warm-up factor applied this epoch
  std::vector<double> levelLosses;        ///< per level (or per (i, j) pair), shallow to deep
  std::vector<std::string> levelLabels;
  double lr = 0;
  double imagesPerSecond = 0;    ///< smoothed over recent steps
  double etaSeconds = 0;         ///< for the whole run
};

/// After every epoch's evaluation.
struct EpochProgress {
  int64_t runId = 0;
  int epoch = 0;
  int epochs = 0;
  double trainLoss = 0;          ///< mean over the epoch's steps
  double trainTop1 = 0;          ///< percent, on the augmented training batches
  double testLoss = 0;
  double testTop1 = 0;           ///< percent
  double testTop5 = 0;           ///< percent
  double valTop1 = -1;           ///< percent, -1 when there is no validation split
  double bestTop1 = 0;
  double lr = 0;
  double seconds = 0;            ///< wall time of the epoch (train + evaluation)
};

/// One C x H x W float map (row-major) of a feature snapshot.
struct FeatureMap {
  std::vector<int64_t> shape;    ///< {C, H, W}; empty when absent
  std::vector<float> values;
  bool empty() const { return values.empty(); }
};

/// One distilled level of a feature snapshot (for the probe image).
struct LevelSnapshot {
  std::string label;             ///< "level 1 (16@32x32 <- 16@32x32)"
  FeatureMap teacher;            ///< teacher feature (what the review output is compared with)
  FeatureMap reviewOutput;       ///< the head's output for this level
  FeatureMap attentionCurrent;   ///< ABF map a0 (1 x H x W), empty when the level does not fuse with attention
  FeatureMap attentionResidual;  ///< ABF map a1
  double loss = 0;               ///< this level's HCL (or MSE) for the probe image
};

/// Every `snapshot_every` steps: the probe image through teacher, student and head.
struct FeatureSnapshot {
  int64_t runId = 0;
  int epoch = 0;
  int64_t step = 0;
  int64_t probeIndex = 0;        ///< index of the probe image in the test set
  int probeLabel = 0;
  FeatureMap probeImage;         ///< the raw image, C x H x W in [0, 1]
  std::vector<LevelSnapshot> levels;
};

/// A run the trainer created (or claimed for a resume), before its first step: who it is. Every observer learns a
/// run's identity from this, not from a change of id in the steps.
struct RunCreated {
  int64_t runId = 0;
  std::string name;  ///< as the history shows it (the config's name, else its summary)
  RunKind kind = RunKind::Student;
  std::string method;       ///< the config's method
  nlohmann::json config;    ///< the run's config as JSON (what the store holds)
  bool resumed = false;     ///< a resume of a run the store already held
  int64_t epoch = 0;        ///< the epoch it starts (or continues) at, from 0
  int64_t globalStep = 0;   ///< the step it starts (or continues) at
};

/// What the trainer calls (on its own thread). Any may be empty.
struct TrainerCallbacks {
  /// Once per start or resume, after the run is in the store and before its first step.
  std::function<void(const RunCreated&)> onRunCreated;
  std::function<void(const StepProgress&)> onStep;
  std::function<void(const EpochProgress&)> onEpoch;
  std::function<void(const FeatureSnapshot&)> onSnapshot;
  /// Free-text status changes ("loading Fashion-MNIST", "training teacher", ...).
  std::function<void(const std::string&)> onStatus;
};

/// How a run ended.
struct RunOutcome {
  int64_t runId = 0;
  RunStatus status = RunStatus::Failed;  ///< Finished, Stopped, Failed, Diverged (Failed with runId 0: nothing started)
  std::string message;           ///< why, for anything but finished
  int epochsDone = 0;
  double bestTop1 = 0;
  double lastTop1 = 0;
  double seconds = 0;
  /// The run never started because the input was wrong (a config field, a file, a name): the message says
  /// which and what to do. The CLI exits with 2 for these, 1 for runs that failed while training.
  bool badInput = false;
  /// For a call that never started a run: the exit code of what refused it (kExitBadInput with badInput,
  /// kExitStoreFailed when the run store failed); 0 otherwise.
  int refusedWith = 0;
  bool ok() const { return status == RunStatus::Finished || status == RunStatus::Stopped; }
  /// "finished", "stopped", ...
  std::string statusText() const { return toString(status); }
};

/// Polled by the trainer after every step; set from any thread.
using StopFlag = std::atomic<bool>;

}  // namespace rkd
