#pragma once
// Readers of the on-disk formats: IDX (MNIST, Fashion-MNIST; gzipped or plain), CIFAR-10/100 binary, image folders.
// Every reader throws rkd::InputError naming the file, what was expected and what was found.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/dataset.h"

namespace rkd {

/// The ten Fashion-MNIST class names (T-shirt/top ... Ankle boot).
const std::vector<std::string>& fashionMnistClassNames();
/// The ten CIFAR-10 class names (airplane ... truck).
const std::vector<std::string>& cifar10ClassNames();

/// Whole file content; a gzip file (magic 1f 8b) is decompressed with zlib. Throws InputError for a missing
/// or unreadable file and for a corrupt or truncated gzip stream.
std::vector<uint8_t> readMaybeGzip(const std::string& path);

/// An IDX image file (magic 2051, N x rows x cols uint8) and its label file (magic 2049, N uint8 in
/// [0, numClasses)). Images come back N x 1 x rows x cols.
TensorDataset readIdx(const std::string& imagesFile, const std::string& labelsFile, int64_t numClasses = 10);

/// MNIST-layout folder (`dir`, or dir/raw, dir/FashionMNIST/raw, dir/MNIST/raw): train-images-idx3-ubyte[.gz]
/// and train-labels-idx1-ubyte[.gz] (or t10k-* when !train; "images.idx3-ubyte" spelling accepted too).
/// kind chooses the class names (Fashion-MNIST names or digits).
TensorDataset readMnistFolder(const std::string& dir, bool train, DatasetKind kind = DatasetKind::FashionMnist);

/// CIFAR-10 binary version: data_batch_1..5.bin (train) or test_batch.bin, 3073-byte records (label, 3072 pixels),
/// in `path` or path/cifar-10-batches-bin. Class names from batches.meta.txt when present.
TensorDataset readCifar10(const std::string& path, bool train);

/// CIFAR-100 binary version: train.bin or test.bin, 3074-byte records (coarse label, fine label, 3072 pixels),
/// in `path` or path/cifar-100-binary. Fine labels (100 classes), names from fine_label_names.txt when present.
TensorDataset readCifar100(const std::string& path, bool train);

/// Image folder options (see DatasetSpec::folderImageSize / folderChannels).
struct ImageFolderOptions {
  int64_t imageSize = 0;  ///< resize (nearest) to imageSize x imageSize; 0 = all images must share one size
  int64_t channels = 0;   ///< 1 or 3; 0 = 1 when every image is grayscale, else 3
  /// Class names to use (label = index); empty = the sorted sub-folder names of root. A folder not in the list
  /// is an error (used to read a test/ folder with the classes of train/).
  std::vector<std::string> classNames;
};

/// root/<class>/*.png|jpg|jpeg (case-insensitive extensions), classes sorted by name, files sorted by name.
TensorDataset readImageFolder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace rkd
