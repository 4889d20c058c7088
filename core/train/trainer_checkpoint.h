#pragma once
// The trainer's own checkpoint: the student, the review head and the optimizer state, with the run's position
// (meta.* entries), so that a resumed run continues exactly where it stopped.
#include <cstdint>
#include <string>

#include "core/io/tensor_file.h"
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

/// Whose a checkpoint is: the store (its id), the run and the run's network. Recorded as meta.store_id,
/// meta.run_id and meta.network, and checked when a checkpoint is loaded for a run.
struct CheckpointOwner {
  std::string storeId;
  int64_t runId = 0;
  std::string network;
};

/// Writes the step's student, head and optimizer state, `position` and `owner` to `path` (atomically: a
/// temporary file, then a rename). `seed` is recorded as meta.seed.
void saveTrainerCheckpoint(TrainingStep& step, const TrainingPosition& position, int64_t seed,
                           const CheckpointOwner& owner, const std::string& path);

/// Throws InputError naming the file, what it belongs to and what was expected when the checkpoint `m` (read
/// from `path`) was written for another store, run or network. A checkpoint written before owners were
/// recorded (no meta.store_id) passes, with a warning in the log.
void checkCheckpointOwner(const TensorMap& m, const std::string& path, const CheckpointOwner& expected);
/// The same for a file: reads only what it needs to (the whole file, for this format).
void checkCheckpointOwner(const std::string& path, const CheckpointOwner& expected);

/// Loads a checkpoint that saveTrainerCheckpoint wrote for `owner` into `step` (strictly, by name) and returns
/// its position. Throws InputError naming the file when it belongs to another owner (checkCheckpointOwner),
/// lacks an entry or does not fit the step's networks.
TrainingPosition loadTrainerCheckpoint(TrainingStep& step, const CheckpointOwner& owner, const std::string& path);

}  // namespace rkd
