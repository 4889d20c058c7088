#pragma once
// Feature snapshots: one test image (the probe) through the teacher, the student and the review head, and per
// level the teacher's feature, the review output, the ABF attention maps and that level's loss.
#include <cstdint>
#include <optional>

#include "core/data/dataset.h"
#include "core/vocabulary/progress.h"
#include "core/train/training_step.h"

namespace rkd {

/// Takes feature snapshots of one run's step. Keeps references: the step and the test set outlive it.
class FeatureProbe {
 public:
  FeatureProbe(TrainingStep& step, const TensorDataset& test, const Normalization& normalization,
               torch::Device device);

  /// Whether the step has what a snapshot shows: a review head and a teacher.
  bool available() const;
  /// The snapshot of test image `wanted` (clamped to the test set), labelled with the run's position; nullopt
  /// when the test set is empty. Runs under no-grad in eval mode and puts the step back in train mode.
  std::optional<FeatureSnapshot> take(int64_t wanted, int64_t runId, int epoch, int64_t globalStep);

 private:
  TrainingStep& m_step;
  const TensorDataset& m_test;
  const Normalization& m_normalization;
  torch::Device m_device;
};

}  // namespace rkd
