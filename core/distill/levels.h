#pragma once
// Which student level is distilled against which teacher level, derived from one dummy forward pass.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/models/backbone.h"

namespace rkd {

/// One aligned level of a teacher/student pair (spec section 3): the student map that goes into the review
/// head and the teacher map its output is compared with.
struct LevelInfo {
  int studentIndex = 0;          ///< index into the student's distilledLevels() (shallow to deep)
  int teacherIndex = 0;          ///< index into the teacher's distilledLevels() (shallow to deep)
  int64_t studentChannels = 0;   ///< ABF in_c
  int64_t studentHeight = 0;
  int64_t studentWidth = 0;
  int64_t teacherChannels = 0;   ///< ABF out_c
  int64_t teacherHeight = 0;
  int64_t teacherWidth = 0;
};

/// The aligned levels of a pair, shallow to deep (the last entry is the pooled embedding, 1 x 1).
/// When the two networks have different level counts, levels are aligned from the deepest (pooled) level
/// upward and the extra shallow levels of the longer side are dropped. That rule is the studio's own: the
/// reference only pairs networks with equal level counts.
struct PairLevels {
  std::string studentName;       ///< arch of the student, for describe()
  std::string teacherName;       ///< arch of the teacher, for describe()
  int64_t inputChannels = 3;     ///< input the levels were derived at
  int64_t inputSize = 32;
  int studentLevelCount = 0;     ///< distilled levels the student has (before alignment)
  int teacherLevelCount = 0;     ///< distilled levels the teacher has (before alignment)
  std::vector<LevelInfo> levels; ///< aligned levels, shallow to deep
  /// Channels of the review head's fused maps: min(512, student channels of the deepest level).
  int64_t midChannels = 0;

  /// Number of aligned levels.
  int size() const { return static_cast<int>(levels.size()); }
  /// The aligned levels deep to shallow (the reference's order: level 0 = pooled embedding).
  std::vector<LevelInfo> deepToShallow() const { return {levels.rbegin(), levels.rend()}; }
  /// Multi-line human-readable account of the alignment: every aligned level with channels@HxW on both
  /// sides, and which shallow levels were dropped and why.
  std::string describe() const;
  /// One sentence on how unequal level counts were aligned (which shallow levels are not distilled); empty when
  /// both networks have the same number of levels. Part of describe(); the studio shows it under its level table.
  std::string alignmentNote() const;
};

/// Builds PairLevels from explicit per-level shapes (each {C, H, W}, shallow to deep), applying the
/// deepest-upward alignment. Throws rkd::InputError when either list is empty or a shape is not 3-D.
PairLevels alignLevels(const std::vector<std::vector<int64_t>>& studentShapes,
                       const std::vector<std::vector<int64_t>>& teacherShapes,
                       const std::string& studentName = "student", const std::string& teacherName = "teacher");

/// Derives the aligned levels of a pair from ONE dummy forward pass of each network (a zero batch of
/// inputChannels x imageSize x imageSize on each network's own device), in eval mode under no-grad, so no
/// BatchNorm statistic moves; every module's train flag is restored afterwards. Student side: plain
/// features; teacher side: preact features where the family has them (spec section 2).
PairLevels derivePairLevels(BackboneImpl& student, BackboneImpl& teacher, int64_t inputChannels = 3,
                            int64_t imageSize = 32);

/// Keeps the last `count` entries of `levels` (the deepest-upward alignment applied to one side's
/// distilledLevels()). Throws rkd::InputError when fewer than `count` are given.
std::vector<torch::Tensor> alignedTail(const std::vector<torch::Tensor>& levels, int count);

}  // namespace rkd
