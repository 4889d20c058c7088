#include "core/data/augment.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/common/errors.h"

namespace rkd {

uint64_t mixSeed(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

AugmentOptions defaultAugmentation(DatasetKind kind) {
  AugmentOptions o;
  o.cropPadding = 4;
  o.horizontalFlip = kind != DatasetKind::Mnist;  // digits are not left-right symmetric; clothes and objects are
  return o;
}

torch::Tensor normalizeImages(const torch::Tensor& images, const Normalization& norm) {
  TORCH_CHECK(images.dim() == 4, "normalizeImages: expected N x C x H x W images, got ", images.sizes());
  const int64_t c = images.size(1);
  TORCH_CHECK(int64_t(norm.mean.size()) == c && int64_t(norm.std.size()) == c, "normalizeImages: ", c,
              " channels but ", norm.mean.size(), " mean and ", norm.std.size(), " std values");
  // (x / 255 - m) / s = x * (1 / (255 s)) + (-m / s): one multiply-add; the two C-element tensors are the only
  // host-to-device copies.
  std::vector<float> scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) {
    scale[size_t(k)] = float(1.0 / (255.0 * norm.std[size_t(k)]));
    shift[size_t(k)] = float(-norm.mean[size_t(k)] / norm.std[size_t(k)]);
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  auto s = torch::tensor(scale).view({1, c, 1, 1}).to(opts);
  auto b = torch::tensor(shift).view({1, c, 1, 1}).to(opts);
  return torch::addcmul(b, images.to(torch::kFloat32), s);
}

Augmenter::Augmenter(const AugmentOptions& options, const Normalization& norm, uint64_t seed)
    : m_options(options), m_norm(norm), m_generator(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  if (options.cropPadding < 0)
    throw InputError("augmentation crop padding must be >= 0, found " + std::to_string(options.cropPadding));
}

void Augmenter::reseed(uint64_t seed) { m_generator = at::make_generator<at::CPUGeneratorImpl>(seed); }

Augmenter::Draws Augmenter::Draws::slice(int64_t start, int64_t length) const {
  return {dy.narrow(0, start, length), dx.narrow(0, start, length), flip.narrow(0, start, length)};
}

Augmenter::Draws Augmenter::draw(int64_t n, const torch::Device& device) {
  // Random numbers on the CPU from our generator (same stream on any device), then one copy each.
  const int64_t p = m_options.cropPadding;
  auto cpuLong = torch::TensorOptions().dtype(torch::kInt64);
  auto dy = torch::randint(0, 2 * p + 1, {n}, m_generator, cpuLong);
  auto dx = torch::randint(0, 2 * p + 1, {n}, m_generator, cpuLong);
  auto flip = m_options.horizontalFlip ? torch::randint(0, 2, {n}, m_generator, cpuLong) : torch::zeros({n}, cpuLong);
  return {dy.to(device), dx.to(device), flip.to(device)};
}

torch::Tensor Augmenter::augmentRaw(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4, "Augmenter: expected N x C x H x W images, got ", images.sizes());
  if (images.size(0) == 0 || (m_options.cropPadding == 0 && !m_options.horizontalFlip)) return images;
  return augmentRaw(images, draw(images.size(0), images.device()));
}

torch::Tensor Augmenter::augmentRaw(const torch::Tensor& images, const Draws& draws) const {
  TORCH_CHECK(images.dim() == 4, "Augmenter: expected N x C x H x W images, got ", images.sizes());
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t p = m_options.cropPadding;
  if (n == 0 || (p == 0 && !m_options.horizontalFlip)) return images;
  TORCH_CHECK(draws.dy.size(0) == n, "Augmenter: ", draws.dy.size(0), " draws for ", n, " images");
  const auto dev = images.device();
  const auto& dy = draws.dy;
  const auto& dx = draws.dx;
  const auto& flip = draws.flip;

  // Pad with raw zeros, then crop (and flip) with two gathers: rows first, then columns. A flipped image
  // reads column dx + (w - 1 - j) of the padded image instead of dx + j.
  auto padded = p > 0 ? torch::constant_pad_nd(images, {p, p, p, p}, 0) : images;
  auto ar = torch::arange(h, torch::TensorOptions().dtype(torch::kInt64).device(dev));
  auto ac = torch::arange(w, torch::TensorOptions().dtype(torch::kInt64).device(dev));
  auto rows = (dy.view({n, 1}) + ar.view({1, h}));                                        // n x h
  auto colsFwd = ac.view({1, w});
  auto cols = dx.view({n, 1}) + torch::where(flip.view({n, 1}).to(torch::kBool), (w - 1) - colsFwd, colsFwd);  // n x w
  auto rowIdx = rows.view({n, 1, h, 1}).expand({n, c, h, w + 2 * p});
  auto tmp = padded.gather(2, rowIdx);  // n x c x h x (w + 2p)
  auto colIdx = cols.view({n, 1, 1, w}).expand({n, c, h, w});
  return tmp.gather(3, colIdx);
}

torch::Tensor Augmenter::operator()(const torch::Tensor& images) { return normalizeImages(augmentRaw(images), m_norm); }

BatchLoader::BatchLoader(const TensorDataset& data, const Normalization& norm, const BatchLoaderOptions& options)
    : m_norm(norm), m_options(options) {
  if (options.batchSize <= 0)
    throw InputError("batch size must be > 0, found " + std::to_string(options.batchSize));
  if (data.size() > 0 && (int64_t(norm.mean.size()) != data.channels() || int64_t(norm.std.size()) != data.channels()))
    throw InputError(data.name + ": normalisation has " + std::to_string(norm.mean.size()) + " mean values, expected " +
                     std::to_string(data.channels()) + " (one per channel)");
  m_data = data.to(options.device);  // once: every batch is then gathered on the device
  if (options.worldSize < 1 || options.rank < 0 || options.rank >= options.worldSize)
    throw InputError("rank " + std::to_string(options.rank) + " is not in a world of " +
                     std::to_string(options.worldSize));
  if (options.augment) m_augmenter.emplace(*options.augment, norm, mixSeed(options.seed, 100));
  startEpoch(0);
}

int64_t BatchLoader::shardSize() const {
  const int64_t n = m_data.size(), w = m_options.worldSize, r = m_options.rank;
  if (w == 1) return n;
  if (m_options.pad) return (n + w - 1) / w;
  return n > r ? (n - r + w - 1) / w : 0;
}

int64_t BatchLoader::batchesPerEpoch() const {
  return (shardSize() + m_options.batchSize - 1) / m_options.batchSize;
}

void BatchLoader::startEpoch(int64_t epoch) {
  const uint64_t e = uint64_t(epoch);
  const int64_t n = m_data.size();
  auto longOnDevice = torch::TensorOptions().dtype(torch::kInt64).device(m_options.device);
  if (m_options.shuffle) {
    // The permutation is drawn on the CPU from a generator seeded by (seed, epoch) and moved once per epoch,
    // so the order is the same on every device and after a resume.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mixSeed(m_options.seed, 2 * e + 1));
    m_order = torch::randperm(n, gen, torch::kInt64).to(m_options.device);
  } else {
    m_order = torch::arange(n, longOnDevice);
  }
  const int64_t w = m_options.worldSize;
  if (w > 1 && n > 0) {
    torch::Tensor order = m_order;
    if (m_options.pad && n % w != 0) {
      // Repeat the permutation's start until the length is a multiple of the world size (as DistributedSampler).
      const int64_t total = (n + w - 1) / w * w;
      std::vector<torch::Tensor> parts{order};
      for (int64_t have = n; have < total; have += std::min(n, total - have))
        parts.push_back(order.narrow(0, 0, std::min(n, total - have)));
      order = torch::cat(parts);
    }
    m_order = order.slice(0, m_options.rank, order.size(0), w).contiguous();
  }
  if (m_augmenter) {
    const uint64_t stream = mixSeed(m_options.seed, 2 * e + 2);
    m_augmenter->reseed(m_options.rank == 0 ? stream : mixSeed(stream, static_cast<uint64_t>(m_options.rank)));
    m_draws = m_augmenter->draw(m_order.size(0), m_options.device);
  }
  m_position = 0;
}

bool BatchLoader::next(Batch& batch) {
  const int64_t n = m_order.size(0);
  if (m_position >= n) return false;
  const int64_t len = std::min(m_options.batchSize, n - m_position);  // the last partial batch is kept
  auto idx = m_order.narrow(0, m_position, len);
  auto raw = m_data.images.index_select(0, idx);
  batch.labels = m_data.labels.index_select(0, idx);
  batch.images = normalizeImages(m_augmenter ? m_augmenter->augmentRaw(raw, m_draws.slice(m_position, len)) : raw, m_norm);
  m_position += len;
  return true;
}

}  // namespace rkd
