#pragma once
// The catalog: the presets (the published pairs and the quick CPU demo), the paper's numbers and the review
// weights of the reference scripts, for both front ends and the trainer's teacher recipes.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/vocabulary/run_config.h"

namespace rkd {

/// Published pairs (spec section 7) and the quick CPU demo.
struct Preset {
  std::string name;         ///< e.g. "resnet56-resnet20", "quick"
  std::string description;
  RunConfig teacher;        ///< how to train the teacher of this preset
  RunConfig student;        ///< the ReviewKD student run (all switches on)
};
const std::vector<Preset>& presets();
/// Throws InputError listing the preset names when unknown.
const Preset& findPreset(const std::string& name);

/// The paper's CIFAR-100 numbers for a published pair (spec sections 6-7), empty when the pair is not published.
struct PublishedNumbers {
  double teacher = 0, student = 0, kd = 0, crd = 0, reviewkd = 0;
  /// Ablation rows (review, residual, abf, hcl) -> top-1; only resnet56 -> resnet20 has them.
  std::vector<std::pair<std::vector<bool>, double>> ablation;
};
std::optional<PublishedNumbers> publishedNumbers(const std::string& teacher, const std::string& student);

/// The review loss weight the reference scripts use for a pair; 5.0 (the spec's sane start) when unknown.
double referenceReviewWeight(const std::string& teacher, const std::string& student);

}  // namespace rkd
