#include "core/data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include <ATen/CPUGeneratorImpl.h>

#include "core/common/errors.h"
#include "core/common/memory.h"
#include "core/common/logging.h"
#include "core/data/augment.h"
#include "core/data/readers.h"

namespace rkd {
namespace fs = std::filesystem;

namespace {

std::string lowerNoSep(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (c != '-' && c != '_' && c != ' ') out += char(std::tolower(c));
  return out;
}

/// Indices of each class, each class's list in the data's order.
std::vector<std::vector<int64_t>> classIndices(const TensorDataset& data) {
  auto labels = data.labels.to(torch::kCPU).contiguous();
  const int64_t* lp = labels.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> perClass(size_t(std::max<int64_t>(data.numClasses, 0)));
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (lp[i] < 0 || lp[i] >= data.numClasses)
      throw InputError(data.name + ": label " + std::to_string(lp[i]) + " outside 0.." +
                       std::to_string(data.numClasses - 1));
    perClass[size_t(lp[i])].push_back(i);
  }
  return perClass;
}

/// Indices of each class, each class's list in a seeded random order.
std::vector<std::vector<int64_t>> shuffledClassIndices(const TensorDataset& data, uint64_t seed) {
  std::vector<std::vector<int64_t>> perClass = classIndices(data);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& idx : perClass) {
    if (idx.size() < 2) continue;
    auto perm = torch::randperm(int64_t(idx.size()), gen, torch::kInt64);
    const int64_t* pp = perm.data_ptr<int64_t>();
    std::vector<int64_t> shuffled(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) shuffled[k] = idx[size_t(pp[k])];
    idx.swap(shuffled);
  }
  return perClass;
}

torch::Tensor sortedIndexTensor(std::vector<int64_t> idx) {
  std::sort(idx.begin(), idx.end());
  return torch::tensor(idx, torch::kInt64);
}

std::string withSplit(const std::string& name, const std::string& split) {
  auto slash = name.find('/');
  return (slash == std::string::npos ? name : name.substr(0, slash)) + "/" + split;
}

void checkNormalization(const Normalization& n, int64_t channels, const std::string& what) {
  if (n.mean.size() != n.std.size() || int64_t(n.mean.size()) != channels)
    throw InputError(what + ": expected " + std::to_string(channels) + " mean and std values (one per channel), found " +
                         std::to_string(n.mean.size()) + " mean and " + std::to_string(n.std.size()) + " std values",
                     "give one value per image channel");
  for (double s : n.std)
    if (!(s > 0))
      throw InputError(what + ": std values must be > 0, found " + std::to_string(s));
}

}  // namespace

int64_t TensorDataset::size() const { return images.defined() ? images.size(0) : 0; }
int64_t TensorDataset::channels() const { return images.defined() ? images.size(1) : 0; }
int64_t TensorDataset::height() const { return images.defined() ? images.size(2) : 0; }
int64_t TensorDataset::width() const { return images.defined() ? images.size(3) : 0; }

TensorDataset TensorDataset::select(const torch::Tensor& indices) const {
  TensorDataset d = *this;
  auto idx = indices.to(images.device(), torch::kInt64);
  d.images = images.index_select(0, idx);
  d.labels = labels.index_select(0, idx.to(labels.device()));
  return d;
}

TensorDataset TensorDataset::to(const torch::Device& device) const {
  TensorDataset d = *this;
  if (images.defined()) d.images = images.to(device);
  if (labels.defined()) d.labels = labels.to(device);
  return d;
}

std::vector<int64_t> TensorDataset::classCounts() const {
  std::vector<int64_t> counts(size_t(std::max<int64_t>(numClasses, 0)), 0);
  if (!labels.defined() || labels.numel() == 0) return counts;
  auto bc = torch::bincount(labels.to(torch::kCPU), {}, numClasses);
  for (int64_t c = 0; c < numClasses && c < bc.numel(); ++c) counts[size_t(c)] = bc[c].item<int64_t>();
  return counts;
}

std::string toString(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::FashionMnist: return "fashion-mnist";
    case DatasetKind::Mnist: return "mnist";
    case DatasetKind::Cifar10: return "cifar10";
    case DatasetKind::Cifar100: return "cifar100";
    case DatasetKind::Folder: return "folder";
  }
  return "unknown";
}

DatasetKind datasetKindFromString(const std::string& name) {
  const std::string s = lowerNoSep(name);
  if (s == "fashionmnist" || s == "fmnist") return DatasetKind::FashionMnist;
  if (s == "mnist") return DatasetKind::Mnist;
  if (s == "cifar10") return DatasetKind::Cifar10;
  if (s == "cifar100") return DatasetKind::Cifar100;
  if (s == "folder" || s == "imagefolder") return DatasetKind::Folder;
  throw InputError("unknown dataset \"" + name + "\"; expected one of fashion-mnist, mnist, cifar10, cifar100, folder");
}

std::string defaultDatasetPath(DatasetKind kind) {
  return kind == DatasetKind::FashionMnist ? "/usr/share/datasets/fashion-mnist" : "";
}

Normalization cifarNormalization() {
  return {{125.3 / 255, 123.0 / 255, 113.9 / 255}, {63.0 / 255, 62.1 / 255, 66.7 / 255}};
}

Normalization presetNormalization(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::Cifar10:
    case DatasetKind::Cifar100: return cifarNormalization();
    case DatasetKind::Mnist: return {{0.1307}, {0.3081}};
    case DatasetKind::FashionMnist: return {{0.2860}, {0.3530}};
    case DatasetKind::Folder: break;
  }
  throw InputError("no preset normalisation for dataset kind " + toString(kind),
                   "compute the statistics from the training set or give mean and std");
}

TensorDataset stratifiedSubset(const TensorDataset& data, int64_t perClass, uint64_t seed, SubsetChoice choice) {
  if (perClass < 0) throw InputError("per-class subset must be >= 0, found " + std::to_string(perClass));
  if (perClass == 0) return data;
  auto classes = choice == SubsetChoice::First ? classIndices(data) : shuffledClassIndices(data, seed);
  std::vector<int64_t> keep;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto& idx = classes[c];
    if (int64_t(idx.size()) < perClass && !idx.empty())
      logger("core.data")->warn("{}: class {} has only {} images, fewer than the {} asked for; keeping all",
                                data.name, c, idx.size(), perClass);
    keep.insert(keep.end(), idx.begin(), idx.begin() + std::min<int64_t>(perClass, int64_t(idx.size())));
  }
  return data.select(sortedIndexTensor(std::move(keep)));
}

std::pair<TensorDataset, TensorDataset> stratifiedSplit(const TensorDataset& data, int64_t holdOut, uint64_t seed) {
  const int64_t n = data.size();
  if (holdOut < 0 || holdOut >= n)
    throw InputError(data.name + ": validation/test hold-out must be between 0 and " + std::to_string(n - 1) +
                     " images, found " + std::to_string(holdOut));
  auto classes = shuffledClassIndices(data, seed);
  // Largest-remainder apportionment: each class gives floor(count * holdOut / n), the remainder goes to the
  // classes with the largest fractional parts (ties: lower class index), so the total is exactly holdOut.
  std::vector<int64_t> take(classes.size());
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t c = 0; c < classes.size(); ++c) {
    const double exact = double(classes[c].size()) * double(holdOut) / double(n);
    take[c] = int64_t(std::floor(exact));
    assigned += take[c];
    remainders.push_back({exact - double(take[c]), c});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < holdOut && k < remainders.size(); ++k) {
    size_t c = remainders[k].second;
    if (take[c] < int64_t(classes[c].size())) {
      ++take[c];
      ++assigned;
    }
  }
  std::vector<int64_t> kept, held;
  for (size_t c = 0; c < classes.size(); ++c) {
    held.insert(held.end(), classes[c].begin(), classes[c].begin() + take[c]);
    kept.insert(kept.end(), classes[c].begin() + take[c], classes[c].end());
  }
  return {data.select(sortedIndexTensor(std::move(kept))), data.select(sortedIndexTensor(std::move(held)))};
}

Normalization computeNormalization(const TensorDataset& data) {
  if (data.size() == 0) throw InputError(data.name + ": cannot compute normalisation statistics of an empty set");
  const int64_t c = data.channels();
  auto sum = torch::zeros({c}, torch::kFloat64);
  auto sumSq = torch::zeros({c}, torch::kFloat64);
  const int64_t chunk = 4096;  // bounded memory: float64 copies of a few thousand images at a time
  for (int64_t start = 0; start < data.size(); start += chunk) {
    auto x = data.images.narrow(0, start, std::min(chunk, data.size() - start)).to(torch::kCPU, torch::kFloat64);
    sum += x.sum({0, 2, 3});
    sumSq += x.pow(2).sum({0, 2, 3});
  }
  const double count = double(data.size()) * double(data.height()) * double(data.width());
  auto mean = sum / count;
  auto var = (sumSq / count - mean.pow(2)).clamp_min(0);
  Normalization n;
  for (int64_t k = 0; k < c; ++k) {
    n.mean.push_back(mean[k].item<double>() / 255.0);
    n.std.push_back(std::max(std::sqrt(var[k].item<double>()) / 255.0, 1e-6));
  }
  return n;
}

TensorDataset convertChannels(const TensorDataset& data, int64_t channels) {
  if (channels != 1 && channels != 3)
    throw InputError("images can be converted to 1 or 3 channels, not " + std::to_string(channels));
  const int64_t have = data.channels();
  if (have == channels || data.size() == 0) return data;
  TensorDataset out = data;
  if (have == 1 && channels == 3) {
    out.images = data.images.expand({-1, 3, -1, -1}).contiguous();
  } else if (have == 3 && channels == 1) {
    // PIL: L = (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16
    torch::Tensor x = data.images.to(torch::kInt32);
    torch::Tensor l = torch::div(x.select(1, 0) * 19595 + x.select(1, 1) * 38470 + x.select(1, 2) * 7471 + 0x8000,
                                 65536, "floor");
    out.images = l.unsqueeze(1).to(torch::kUInt8).contiguous();
  } else {
    throw InputError(data.name + ": images with " + std::to_string(have) + " channels cannot be converted to " +
                     std::to_string(channels));
  }
  return out;
}

TensorDataset padImages(const TensorDataset& data, int64_t size) {
  if (size <= 0) return data;
  const int64_t h = data.height(), w = data.width();
  if (h > size || w > size)
    throw InputError(data.name + ": cannot pad " + std::to_string(h) + "x" + std::to_string(w) + " images to " +
                         std::to_string(size) + "x" + std::to_string(size) + "; expected images at most that size",
                     "use a pad size of at least the image size, or 0 to keep the size");
  if (h == size && w == size) return data;
  // The padded copy is made at once, for every image: refuse one the memory cannot hold before trying.
  const uint64_t bytes = static_cast<uint64_t>(data.images.numel() / (h * w)) * static_cast<uint64_t>(size * size) *
                         data.images.element_size();
  if (const MemoryInfo m = machineMemory(); m.available > 0 && bytes > m.available)
    throw InputError(data.name + ": padding its " + std::to_string(data.size()) + " images to " + std::to_string(size) +
                         "x" + std::to_string(size) + " takes " + memoryText(bytes) + ", more than the " +
                         memoryText(m.available) + " of memory available (of " + memoryText(m.total) + ")",
                     "lower the pad size (data.pad_to; 0 keeps the images' " + std::to_string(h) + "x" +
                         std::to_string(w) + ") or use fewer images (data.per_class)");
  const int64_t top = (size - h) / 2, left = (size - w) / 2;
  TensorDataset d = data;
  d.images = torch::constant_pad_nd(data.images, {left, size - w - left, top, size - h - top}, 0);
  return d;
}

DatasetSplits loadDataset(const DatasetSpec& spec) {
  auto log = logger("core.data");
  // Validate the fields first, each error naming the field and the allowed values.
  if (spec.perClass < 0) throw InputError("dataset perClass must be >= 0 (0 = all), found " + std::to_string(spec.perClass));
  if (spec.testPerClass < 0)
    throw InputError("dataset testPerClass must be >= 0 (0 = all), found " + std::to_string(spec.testPerClass));
  if (spec.valCount < 0) throw InputError("dataset valCount must be >= 0, found " + std::to_string(spec.valCount));
  if (!(spec.valFraction >= 0.0 && spec.valFraction < 1.0))
    throw InputError("dataset valFraction must be in [0, 1), found " + std::to_string(spec.valFraction));
  if (spec.padTo < 0 || spec.padTo > 4096)
    throw InputError("dataset padTo must be 0 (off) or the target size, found " + std::to_string(spec.padTo));
  if (spec.channels != 0 && spec.channels != 1 && spec.channels != 3)
    throw InputError("dataset channels must be 1, 3 or 0 (as stored), found " + std::to_string(spec.channels));
  if (spec.mean.empty() != spec.std.empty())
    throw InputError("dataset normalisation: give both mean and std, or neither (found " +
                     std::to_string(spec.mean.size()) + " mean and " + std::to_string(spec.std.size()) + " std values)");

  std::string path = spec.path.empty() ? defaultDatasetPath(spec.kind) : spec.path;
  if (path.empty())
    throw InputError("dataset " + toString(spec.kind) + " has no default location; expected a dataset path",
                     "give the folder that holds the dataset files");
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (spec.path.empty() && spec.kind == DatasetKind::FashionMnist)
      throw InputError("the default Fashion-MNIST folder " + path +
                           " does not exist (expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                           "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz there)",
                       "run scripts/setup, which installs the Debian package dataset-fashion-mnist, or give a dataset path");
    throw InputError(toString(spec.kind) + " dataset path " + path + " does not exist", "check the dataset path");
  }

  TensorDataset train, test;
  switch (spec.kind) {
    case DatasetKind::FashionMnist:
    case DatasetKind::Mnist:
      train = readMnistFolder(path, true, spec.kind);
      test = readMnistFolder(path, false, spec.kind);
      break;
    case DatasetKind::Cifar10:
      train = readCifar10(path, true);
      test = readCifar10(path, false);
      break;
    case DatasetKind::Cifar100:
      train = readCifar100(path, true);
      test = readCifar100(path, false);
      break;
    case DatasetKind::Folder: {
      ImageFolderOptions opts;
      opts.imageSize = spec.folderImageSize;
      opts.channels = spec.folderChannels;
      if (fs::is_directory(fs::path(path) / "train") && fs::is_directory(fs::path(path) / "test")) {
        train = readImageFolder((fs::path(path) / "train").string(), opts);
        opts.classNames = train.classNames;
        // The test folder must share the training set's channel count and size.
        opts.channels = train.channels();
        test = readImageFolder((fs::path(path) / "test").string(), opts);
        if (test.height() != train.height() || test.width() != train.width())
          throw InputError("image folder " + (fs::path(path) / "test").string() + ": images are " +
                               std::to_string(test.height()) + "x" + std::to_string(test.width()) + ", expected " +
                               std::to_string(train.height()) + "x" + std::to_string(train.width()) +
                               " like the train/ folder",
                           "give an image size to resize every image to");
      } else {
        if (!(spec.folderTestFraction > 0.0 && spec.folderTestFraction < 1.0))
          throw InputError("dataset folderTestFraction must be in (0, 1) for a folder without train/ and test/, found " +
                           std::to_string(spec.folderTestFraction));
        TensorDataset all = readImageFolder(path, opts);
        const int64_t holdOut = std::max<int64_t>(1, std::llround(spec.folderTestFraction * double(all.size())));
        if (all.size() < 2)
          throw InputError("image folder " + path + ": expected at least 2 images to split into train and test, found " +
                           std::to_string(all.size()));
        std::tie(train, test) = stratifiedSplit(all, holdOut, mixSeed(spec.seed, 3));
      }
      train.name = "folder/train";
      test.name = "folder/test";
      break;
    }
  }

  const int64_t storedChannels = train.channels();
  if (spec.channels > 0 && spec.channels != storedChannels) {
    train = convertChannels(train, spec.channels);
    test = convertChannels(test, spec.channels);
    log->info("{}: images converted from {} to {} channels", toString(spec.kind), storedChannels, spec.channels);
  }
  if (spec.padTo > 0) {
    train = padImages(train, spec.padTo);
    test = padImages(test, spec.padTo);
  }

  DatasetSplits out;
  train = stratifiedSubset(train, spec.perClass, mixSeed(spec.seed, 1), spec.subset);
  int64_t valN = spec.valCount;
  if (valN == 0 && spec.valFraction > 0) valN = std::llround(spec.valFraction * double(train.size()));
  if (valN > 0) {
    if (valN >= train.size())
      throw InputError("dataset validation split of " + std::to_string(valN) + " images leaves no training images (" +
                           std::to_string(train.size()) + " in the training set)",
                       "ask for fewer validation images");
    std::tie(out.train, out.val) = stratifiedSplit(train, valN, mixSeed(spec.seed, 2));
    out.val.name = withSplit(train.name, "val");
  } else {
    out.train = train;
    out.val = train.select(torch::empty({0}, torch::kInt64));
    out.val.name = withSplit(train.name, "val");
  }
  out.test = stratifiedSubset(test, spec.testPerClass, mixSeed(spec.seed, 4), spec.subset);

  if (!spec.mean.empty()) {
    out.normalization = {spec.mean, spec.std};
    checkNormalization(out.normalization, out.train.channels(), "dataset normalisation");
  } else {
    const bool preset = spec.statsSource == StatsSource::Preset ||
                        (spec.statsSource == StatsSource::Auto &&
                         (spec.kind == DatasetKind::Cifar10 || spec.kind == DatasetKind::Cifar100));
    if (preset && storedChannels == 1 && out.train.channels() == 3) {
      // Grey replicated: each channel has the grey statistics.
      const Normalization grey = presetNormalization(spec.kind);
      out.normalization = {std::vector<double>(3, grey.mean.at(0)), std::vector<double>(3, grey.std.at(0))};
    } else if (preset && storedChannels != out.train.channels()) {
      out.normalization = computeNormalization(out.train);
      out.normalizationComputed = true;
    } else if (preset) {
      out.normalization = presetNormalization(spec.kind);
      checkNormalization(out.normalization, out.train.channels(), "preset normalisation of " + toString(spec.kind));
    } else {
      out.normalization = computeNormalization(out.train);
      out.normalizationComputed = true;
    }
  }
  log->info("{}: {} train, {} val, {} test images, {}x{}x{}, {} classes (from {})", toString(spec.kind),
            out.train.size(), out.val.size(), out.test.size(), out.train.channels(), out.train.height(),
            out.train.width(), out.train.numClasses, path);
  return out;
}

}  // namespace rkd
