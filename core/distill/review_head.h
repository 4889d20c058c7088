#pragma once
// The student-side review head of ReviewKD (spec sections 3 and 6): one transform per distilled level,
// fused deep to shallow through the residual path with attention based fusion (ABF).
//
// Ablation variants (spec section 6). The reference implementation has NO code for them: the definitions
// below are the studio's own, written to follow the paper's figures.
//  - review on, residual on, ABF on : the full method. `abfs.<k>` (k = 0 deepest), each fusing the deeper
//    residual with attention; outputs one map per level, compared with the same teacher level.
//  - review on, residual on, ABF off: same structure, fusion is the plain sum conv1(x) + y (no att_conv).
//  - review on, residual off ("review without residual"): student level i gets its own transform per teacher
//    level j <= i (j shallower or equal): conv1 -> nearest resize to teacher level j's size -> conv2. They
//    live in `reviews.<i>.<j>` (i, j counted shallow to deep); the review loss sums over every (i, j) pair.
//  - review off (then residual and ABF must be off): same-level distillation. `abfs.<k>` without any fusion:
//    conv1 -> resize to the teacher size -> conv2, level i against teacher level i only.
//  - ABF with residual off is refused (ABF fuses the residual path); residual with review off is refused
//    (the residual path is the review mechanism). See DistillSettings::validate().
// Parts a variant does not use are never created, so they hold no parameters.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distill/levels.h"

namespace rkd {

/// Options of one attention based fusion block (spec section 3).
struct AttentionFusionOptions {
  int64_t inChannels = 0;    ///< student channels at this level (in_c)
  int64_t midChannels = 0;   ///< fused-map channels (mid_c)
  int64_t outChannels = 0;   ///< teacher channels at this level (out_c)
  int64_t teacherHeight = 0; ///< the output is resized to the teacher size when it differs
  int64_t teacherWidth = 0;
  bool fuse = false;         ///< fuse a deeper residual (every level but the deepest)
  bool attention = true;     ///< with fuse: attention fusion (att_conv); false = plain sum conv1(x) + y
};

/// The two attention maps of the last forward of one ABF (each N x 1 x H x W, detached), for feature
/// snapshots. Undefined when the block does not fuse with attention or has not run yet.
struct AttentionMaps {
  torch::Tensor current;   ///< a0: weight of this level's transformed student features
  torch::Tensor residual;  ///< a1: weight of the deeper residual
};

/// Output of one ABF.
struct FusionResult {
  torch::Tensor output;    ///< conv2 output, compared with the teacher (teacher size, out_c)
  torch::Tensor residual;  ///< fused mid_c map at the teacher size, passed to the next shallower level
};

/// Attention based fusion: conv1 (1x1 + BN), optional fusion with the deeper residual, nearest resize to the
/// teacher size, conv2 (3x3 + BN). Submodule names follow the reference: conv1.{0,1}, conv2.{0,1},
/// att_conv.0 (only when fusing with attention).
class AttentionFusionImpl : public torch::nn::Module {
 public:
  explicit AttentionFusionImpl(const AttentionFusionOptions& options);

  /// x: student features of this level; residual: the deeper level's fused map (required when fusing,
  /// ignored otherwise).
  FusionResult forward(const torch::Tensor& x, const torch::Tensor& residual = {});

  /// Attention maps of the last forward (see AttentionMaps).
  const AttentionMaps& lastAttention() const { return m_lastAttention; }
  const AttentionFusionOptions& options() const { return m_options; }

 private:
  AttentionFusionOptions m_options;
  torch::nn::Sequential m_conv1{nullptr};
  torch::nn::Sequential m_conv2{nullptr};
  torch::nn::Sequential m_attConv{nullptr};
  AttentionMaps m_lastAttention;
};
TORCH_MODULE(AttentionFusion);

/// Which head variant to build (spec section 6). Checked by validateHeadSwitches().
struct HeadSwitches {
  bool review = true;    ///< off: same-level distillation only
  bool residual = true;  ///< off (with review on): review without residual, one transform per (i, j)
  bool abf = true;       ///< off (with residual on): plain-sum fusion
};

/// Throws rkd::InputError for the combinations the studio refuses (ABF without residual, residual without
/// review), saying why.
void validateHeadSwitches(const HeadSwitches& switches);

/// One comparison the head produces: output of student level `studentLevel` against teacher level
/// `teacherLevel` (indices into PairLevels::levels, shallow to deep).
struct LevelMatch {
  int studentLevel = 0;
  int teacherLevel = 0;
};

/// The review head. Parameter names match the reference (`abfs.1.conv1.0.weight`, ...), so a reference
/// checkpoint's `model.abfs.*` entries load by name.
class ReviewHeadImpl : public torch::nn::Module {
 public:
  ReviewHeadImpl(const PairLevels& levels, const HeadSwitches& switches = {});

  /// studentLevels: the aligned student levels, shallow to deep (PairLevels::size() of them). Returns one
  /// output per entry of matches(), in that order; for every variant but review-without-residual that is
  /// one output per level, shallow to deep.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& studentLevels);

  /// Which (student level, teacher level) each forward output belongs to.
  const std::vector<LevelMatch>& matches() const { return m_matches; }
  /// Short label per match for curves, e.g. "level 2" or "s2->t1".
  std::vector<std::string> matchLabels() const;
  /// Attention maps of the last forward, one per level shallow to deep (undefined maps where a level has
  /// no attention fusion).
  std::vector<AttentionMaps> lastAttention() const;

  const PairLevels& levels() const { return m_levels; }
  const HeadSwitches& switches() const { return m_switches; }

 private:
  PairLevels m_levels;
  HeadSwitches m_switches;
  std::vector<LevelMatch> m_matches;
  /// residual and same-level variants: abfs.0 = deepest level.
  torch::nn::ModuleList m_abfs{nullptr};
  /// review without residual: reviews.<i>.<k>, the k-th teacher level (k <= i) of student level i.
  torch::nn::ModuleList m_reviews{nullptr};
};
TORCH_MODULE(ReviewHead);

}  // namespace rkd
