#pragma once
// How a RunConfig's plain values become the engine's settings. Shared by the trainer and the studio facade,
// so a dataset inspected in the studio is cut exactly as the run will cut it.
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/distill/objective.h"
#include "core/vocabulary/run_config.h"

namespace rkd {

/// The dataset spec of a data config (seed drives the subset and split choices).
DatasetSpec datasetSpecOf(const DataConfig& data, int64_t seed);
/// Crop and flip of a data config (the kind's defaults unless flip / cropPadding override them).
AugmentOptions augmentationOf(const DataConfig& data);
/// Method, switches and weights of a run config; validated (throws InputError).
DistillSettings distillSettingsOf(const RunConfig& config);

}  // namespace rkd
