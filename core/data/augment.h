#pragma once
// Batch augmentation and the epoch batch loader. Everything runs on the tensors' own device (CPU or CUDA);
// random numbers come from a CPU generator this code owns (so a seed gives the same batches on any device),
// and a loader copies only the epoch's permutation and its crop offsets and flips to the device, once per
// epoch: no per-batch host-to-device copies.
#include <cstdint>
#include <optional>

#include <torch/torch.h>

#include "core/data/dataset.h"

namespace rkd {

/// Training augmentation: random crop with zero padding, then an optional horizontal flip.
struct AugmentOptions {
  int64_t cropPadding = 4;      ///< pad this many raw-zero pixels on each side, crop back at a random offset; 0 = off
  bool horizontalFlip = true;   ///< flip each image left-right with probability 1/2
};

/// Defaults per dataset: flip on for CIFAR, folders and Fashion-MNIST (clothes are left-right symmetric), off
/// for MNIST digits; crop padding 4 everywhere.
AugmentOptions defaultAugmentation(DatasetKind kind);

/// Raw uint8 N x C x H x W (any device) -> float (x / 255 - mean) / std, on the same device.
torch::Tensor normalizeImages(const torch::Tensor& images, const Normalization& norm);

/// Seeded batch augmentation. Crop and flip are one gather on the padded batch (no per-image loop).
class Augmenter {
 public:
  Augmenter(const AugmentOptions& options, const Normalization& norm, uint64_t seed);

  /// Crop offsets (dy, dx in [0, 2 * padding]) and flips (0/1) for `n` images, drawn from the stream on the
  /// CPU and copied to `device` in one go (a loader draws a whole epoch at once: no per-batch copies).
  struct Draws {
    torch::Tensor dy, dx, flip;
    /// Rows [start, start + length).
    Draws slice(int64_t start, int64_t length) const;
  };
  Draws draw(int64_t n, const torch::Device& device);

  /// Raw uint8 batch -> augmented raw uint8 batch (same shape, same device), drawing from the stream.
  torch::Tensor augmentRaw(const torch::Tensor& images);
  /// Raw uint8 batch augmented with given draws (one row per image, on the images' device).
  torch::Tensor augmentRaw(const torch::Tensor& images, const Draws& draws) const;
  /// Raw uint8 batch -> augmented, normalised float batch.
  torch::Tensor operator()(const torch::Tensor& images);
  /// Restarts the random stream (same seed -> same sequence of batches).
  void reseed(uint64_t seed);

  const AugmentOptions& options() const { return m_options; }
  const Normalization& normalization() const { return m_norm; }

 private:
  AugmentOptions m_options;
  Normalization m_norm;
  torch::Generator m_generator;
};

/// One batch: float normalised images N x C x H x W and int64 labels N, on the loader's device.
struct Batch {
  torch::Tensor images;
  torch::Tensor labels;
};

/// Options of a BatchLoader.
struct BatchLoaderOptions {
  int64_t batchSize = 128;
  bool shuffle = true;                   ///< a fresh seeded permutation every epoch
  std::optional<AugmentOptions> augment; ///< none = normalise only (evaluation)
  uint64_t seed = 0;
  torch::Device device = torch::kCPU;    ///< the dataset is moved here once
  /// Data-parallel sharding as PyTorch's DistributedSampler: the epoch's permutation (the same on every rank),
  /// padded by repeating its start to a multiple of worldSize (when `pad`), then every worldSize-th index from
  /// `rank`. Augmentation draws come from a stream derived from (seed, epoch, rank); rank 0's is the
  /// one-process stream, so one rank reads exactly what a one-process run reads. `batchSize` is per rank.
  int rank = 0;
  int worldSize = 1;
  bool pad = true;                       ///< false for evaluation: each sample is seen once over all ranks
};

/// Yields the batches of one epoch at a time; the last partial batch is kept. Shuffle and augmentation are
/// deterministic per (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.
///
///   BatchLoader loader(splits.train, splits.normalization, opts);
///   for (int64_t e = 0; e < epochs; ++e) { loader.startEpoch(e); Batch b; while (loader.next(b)) {...} }
class BatchLoader {
 public:
  BatchLoader(const TensorDataset& data, const Normalization& norm, const BatchLoaderOptions& options);

  /// Starts `epoch`: new permutation and augmentation stream derived from (seed, epoch).
  void startEpoch(int64_t epoch);
  /// The next batch of the current epoch; false when the epoch is done.
  bool next(Batch& batch);

  int64_t size() const { return m_data.size(); }
  /// Samples this rank reads per epoch (size() for one rank).
  int64_t shardSize() const;
  int64_t batchesPerEpoch() const;
  const TensorDataset& data() const { return m_data; }
  const BatchLoaderOptions& options() const { return m_options; }

 private:
  TensorDataset m_data;  // on m_options.device
  Normalization m_norm;
  BatchLoaderOptions m_options;
  std::optional<Augmenter> m_augmenter;
  Augmenter::Draws m_draws;  // the current epoch's crop offsets and flips, in batch order, on the device
  torch::Tensor m_order;  // this rank's indices of the current epoch, on the device
  int64_t m_position = 0;
};

/// A seed derived from (seed, salt) with splitmix64, for independent seeded streams.
uint64_t mixSeed(uint64_t seed, uint64_t salt);

}  // namespace rkd
