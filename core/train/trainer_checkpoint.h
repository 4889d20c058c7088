#pragma once
// The trainer's own checkpoint: the student, the review head and the optimizer state, with the run's position
// (meta.* entries), so that a resumed run continues exactly where it stopped.
#include <cstdint>
#include <string>

#include "core/train/training_step.h"

namespace rkd {

/// Where a run stands: what a trainer checkpoint keeps beside the weights.
struct TrainingPosition {
  int64_t epoch = 0;        ///< epoch in progress (from 0)
  int64_t stepInEpoch = 0;  ///< steps already done in `epoch`
  int64_t globalStep = 0;
  double bestTop1 = 0;
  double lastTop1 = 0;
  int64_t epochsDone = 0;
  double epochLossSum = 0;  ///< running sums of the epoch in progress (a mid-epoch stop keeps them)
  double epochCorrect = 0;
  double epochSeen = 0;
};

/// Writes the step's student, head and optimizer state and `position` to `path` (atomically: a temporary file,
/// then a rename). `seed` is recorded as meta.seed.
void saveTrainerCheckpoint(TrainingStep& step, const TrainingPosition& position, int64_t seed,
                           const std::string& path);

/// Loads a checkpoint that saveTrainerCheckpoint wrote into `step` (strictly, by name) and returns its position.
/// Throws InputError naming the file when it lacks an entry or does not fit the step's networks.
TrainingPosition loadTrainerCheckpoint(TrainingStep& step, const std::string& path);

}  // namespace rkd
