#pragma once
// The one table of metric keys: what the trainer writes to the store's `metrics` table, and what the follower,
// the views and the CLI read back. Nothing else spells a key.
#include <string>
#include <vector>

namespace rkd::metric {

// Per training step (epoch and global step set).
inline constexpr const char* kTrainLoss = "train/loss";      ///< the whole objective
inline constexpr const char* kTrainCe = "train/ce";          ///< cross-entropy with the labels (weighted)
inline constexpr const char* kTrainReview = "train/review";  ///< the review loss (weighted, warm-up applied)
inline constexpr const char* kTrainKd = "train/kd";          ///< Hinton KD (weighted)
inline constexpr const char* kLr = "lr";                     ///< the learning rate of the step
/// One distilled level's HCL loss: kTrainLevelPrefix + the level's label ("train/level/s1<-t1").
inline constexpr const char* kTrainLevelPrefix = "train/level/";
inline std::string trainLevel(const std::string& label) { return std::string(kTrainLevelPrefix) + label; }

// Per epoch (step -1).
inline constexpr const char* kEpochTrainLoss = "epoch/train_loss";
inline constexpr const char* kEpochTrainTop1 = "epoch/train_top1";
inline constexpr const char* kEpochLr = "epoch/lr";
inline constexpr const char* kEpochSeconds = "epoch/seconds";
inline constexpr const char* kTestLoss = "test/loss";
inline constexpr const char* kTestTop1 = "test/top1";
inline constexpr const char* kTestTop5 = "test/top5";
inline constexpr const char* kValTop1 = "val/top1";  ///< only with a validation split

/// The keys a user may plot against each other (the history's overlay, the run detail), in the order pickers
/// list them: the epoch keys first, then the per-step ones.
inline const std::vector<const char*>& plottableKeys() {
  static const std::vector<const char*> keys = {kTestTop1, kTestTop5,  kTestLoss,    kValTop1, kEpochTrainTop1,
                                                kEpochTrainLoss, kTrainLoss, kTrainCe, kTrainReview, kTrainKd, kLr};
  return keys;
}

}  // namespace rkd::metric
