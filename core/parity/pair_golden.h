#pragma once
// Parity of the whole ReviewKD pipeline with a reference golden pair file (shared/golden/pairs/).
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/tensor_check.h"
#include "core/io/tensor_file.h"

namespace rkd {

/// Golden keys of one pair file whose reference value is ill-conditioned: float32 rounding that depends on the
/// BLAS library, its CPU kernel and the thread count moves them by far more than the README's tolerance, in the
/// PyTorch reference as much as in the engine. Each rule's tolerance comes from a measured spread (the numbers
/// are in pair_golden.cpp and in README "Parity"); every other key keeps the README's tolerance.
struct IllConditionedKeys {
  std::string teacher;
  std::string student;
  std::string keyPrefix;  ///< a key is covered when it starts with keyPrefix ...
  std::string keySuffix;  ///< ... and ends with keySuffix
  double tolerance = 0;
  std::string because;    ///< the measurement behind the tolerance, printed by `reviewkd parity`
};

/// Every rule; a key is covered by at most one.
const std::vector<IllConditionedKeys>& illConditionedGoldenKeys();

/// The rule that covers `key` of the pair file teacher -> student, or nullptr (the README's tolerance applies).
const IllConditionedKeys* illConditionedRule(const std::string& teacher, const std::string& student,
                                             const std::string& key);

/// Checks one golden pair file (keys of shared/golden/README.md, "pairs/"): builds teacher and student by zoo
/// name (100 classes, channels of the file's input), loads `teacher.*`, `model.student.*` and
/// `model.abfs.*` by name, derives the levels at the input's size, compares the eval-mode features, head
/// outputs, logits and HCL, then runs one training step (student and head in train mode, teacher eval under
/// no-grad, CE + reviewWeight x HCL, SGD lr 0.1, momentum 0.9, Nesterov, weight decay 5e-4 on every student
/// and head parameter) and compares the losses and every `after_step.model.*` entry present.
/// Returns one TensorCheck per compared tensor (tolerances of the README, except the keys of
/// illConditionedGoldenKeys, whose checks carry their own tolerance and say why in relaxedBecause).
/// Throws rkd::InputError when a network name is unknown or the file's weights do not load by name.
/// channelsLast: run everything in channels-last layout, the engine's CPU training layout (on the CPU this is
/// also the path of the fused ABF attention kernel); the default runs NCHW, as the reference.
std::vector<TensorCheck> checkPairGolden(const std::string& teacher, const std::string& student,
                                         double reviewWeight, const TensorMap& file,
                                         torch::Device device = torch::kCPU, bool channelsLast = false);

}  // namespace rkd
