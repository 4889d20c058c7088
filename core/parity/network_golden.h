#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/tensor_check.h"
#include "core/io/tensor_file.h"

namespace rkd {

/// Parity of one zoo network with a golden architecture file (shared/golden/architectures/<arch>.pt):
/// builds `arch` (classes and input channels taken from the file), loads `model.*` strictly by name (throws
/// rkd::InputError with the load report when any name or shape differs), runs `input` in eval mode on
/// `device`, and compares expected.logits, expected.pooled_feature, every expected.feature.<k> and
/// expected.preact_feature.<k> with kFeatureTolerance. A feature count that differs from the file's gives a
/// failing check named "expected.feature.count" / "expected.preact_feature.count".
/// With `fused`, the same comparisons run on fuseForInference of the loaded network instead.
std::vector<TensorCheck> checkArchitectureGolden(const std::string& arch, const TensorMap& file, torch::Device device,
                                                 bool fused = false);

}  // namespace rkd
