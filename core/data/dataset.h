#pragma once
// In-memory datasets and the one entry point that loads train/validation/test splits from a DatasetSpec.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace rkd {

/// A whole dataset held in memory. Pixels stay raw uint8 as loaded, so augmentation can pad with raw zeros
/// before normalisation (spec section 5); normalisation happens per batch (see augment.h).
struct TensorDataset {
  torch::Tensor images;                 ///< N x C x H x W, uint8, raw pixel values
  torch::Tensor labels;                 ///< N, int64, in [0, numClasses)
  int64_t numClasses = 0;               ///< number of classes (labels may not cover all of them in a subset)
  std::vector<std::string> classNames;  ///< numClasses names, index = label
  std::string name;                     ///< "fashion-mnist", "cifar10", ... plus the split ("fashion-mnist/train")
  std::string source;                   ///< the file(s) or folder it was read from

  /// Number of images (0 for an empty dataset).
  int64_t size() const;
  int64_t channels() const;
  int64_t height() const;
  int64_t width() const;
  /// The images at `indices` (int64, any device), same metadata.
  TensorDataset select(const torch::Tensor& indices) const;
  /// A copy with images and labels on `device` (a no-op copy when already there).
  TensorDataset to(const torch::Device& device) const;
  /// Images per class, numClasses entries.
  std::vector<int64_t> classCounts() const;
};

/// Per-channel normalisation in [0, 1] pixel units: x_norm = (x / 255 - mean[c]) / std[c].
struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;
};

/// The datasets this layer reads.
enum class DatasetKind { FashionMnist, Mnist, Cifar10, Cifar100, Folder };

/// "fashion-mnist", "mnist", "cifar10", "cifar100", "folder".
std::string toString(DatasetKind kind);
/// Parses the names toString gives (also "cifar-10", "cifar-100", "fashion_mnist", "fmnist", case-insensitive);
/// throws InputError naming the allowed values.
DatasetKind datasetKindFromString(const std::string& name);

/// The default location of a dataset kind: /usr/share/datasets/fashion-mnist for Fashion-MNIST, "" otherwise.
std::string defaultDatasetPath(DatasetKind kind);

/// CIFAR preset of the spec: mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255 (used for CIFAR-10 and -100).
Normalization cifarNormalization();
/// The usual published statistics: MNIST (0.1307, 0.3081), Fashion-MNIST (0.2860, 0.3530), CIFAR as above.
/// Throws InputError for Folder (no preset: compute it).
Normalization presetNormalization(DatasetKind kind);

/// Where the normalisation statistics come from when DatasetSpec::mean/std are empty.
enum class StatsSource {
  Auto,      ///< preset for CIFAR-10/100, computed from the training split for everything else
  Preset,    ///< presetNormalization(kind)
  Computed,  ///< computeNormalization(training split)
};

/// How a per-class subset is chosen.
enum class SubsetChoice {
  Random,  ///< stratified, seeded
  First,   ///< the first N images of each class in the file's order
};

/// What to load and how to cut it. Validated in loadDataset (InputError naming the field).
struct DatasetSpec {
  DatasetKind kind = DatasetKind::FashionMnist;
  /// Folder or file location; empty = defaultDatasetPath(kind). For CIFAR either the binary folder
  /// (cifar-10-batches-bin, cifar-100-binary) or its parent; for Folder the root with one folder per class
  /// (or with train/ and test/ folders, each with one folder per class).
  std::string path;
  /// Training images kept per class (stratified, seeded); 0 = all.
  int64_t perClass = 0;
  /// Test images kept per class (stratified, seeded); 0 = all.
  int64_t testPerClass = 0;
  /// How the training and test subsets (perClass, testPerClass) are chosen.
  SubsetChoice subset = SubsetChoice::Random;
  /// Validation images held out of the (subset) training set, stratified and seeded: a count ...
  int64_t valCount = 0;
  /// ... or a fraction in [0, 1) of it (used when valCount is 0).
  double valFraction = 0.0;
  /// Seed of every random choice here (subset, validation split, folder test split).
  uint64_t seed = 0;
  /// Zero-pad smaller images (centered) to padTo x padTo, e.g. 28x28 MNIST to the CIFAR nets' 32; 0 = off.
  int64_t padTo = 0;
  /// Given normalisation (both or neither; one value per channel, [0, 1] units). Empty = statsSource.
  std::vector<double> mean;
  std::vector<double> std;
  StatsSource statsSource = StatsSource::Auto;
  /// Folder only: resize every image (nearest) to folderImageSize x folderImageSize; 0 = all must share one size.
  int64_t folderImageSize = 0;
  /// Folder only: 1 (grayscale) or 3 (RGB); 0 = 1 when every image is grayscale, else 3.
  int64_t folderChannels = 0;
  /// Folder without train/ and test/ folders: fraction held out as the test split (stratified, seeded).
  double folderTestFraction = 0.2;
  /// 1 or 3: convert every image to that many channels (see convertChannels); 0 = as stored.
  int64_t channels = 0;
};

/// The result of loadDataset: splits with raw uint8 images on the CPU, and the normalisation to use.
struct DatasetSplits {
  TensorDataset train;
  TensorDataset val;   ///< empty (size() == 0) when no validation split was asked for
  TensorDataset test;
  Normalization normalization;
  bool normalizationComputed = false;  ///< true when computed from `train`, false for a preset or given values
};

/// Reads the dataset of `spec` and cuts it: pad (padTo), training subset (perClass), validation hold-out
/// from that subset, test subset, then normalisation (given, preset, or computed on the final training split).
/// Throws InputError for a bad spec or bad files (the message names the file and what was expected/found).
DatasetSplits loadDataset(const DatasetSpec& spec);

/// `perClass` images of each class, chosen with `seed` (deterministic), or the first `perClass` of each class
/// (SubsetChoice::First, `seed` unused); kept in their original order. A class with fewer images keeps all of
/// them (logged as a warning).
TensorDataset stratifiedSubset(const TensorDataset& data, int64_t perClass, uint64_t seed,
                               SubsetChoice choice = SubsetChoice::Random);

/// Splits off `holdOut` images, stratified (each class gives its share, largest remainders first) and seeded.
/// Returns {kept, heldOut}; both keep the original order and are disjoint.
std::pair<TensorDataset, TensorDataset> stratifiedSplit(const TensorDataset& data, int64_t holdOut, uint64_t seed);

/// Per-channel mean and std over every pixel of `data`, in [0, 1] units (population std).
Normalization computeNormalization(const TensorDataset& data);

/// The images with `channels` channels (1 or 3): grey replicated into R, G and B (how PyTorch users usually feed
/// Fashion-MNIST to a 3-channel network), or RGB reduced to grey with PIL's convert('L') weights (ITU-R 601-2
/// luma, rounded as PIL does). The same dataset when it already has that many channels.
TensorDataset convertChannels(const TensorDataset& data, int64_t channels);

/// Zero-pads images (centered; an odd remainder goes right/bottom) to size x size. Throws InputError when
/// an image is larger than that.
TensorDataset padImages(const TensorDataset& data, int64_t size);

}  // namespace rkd
