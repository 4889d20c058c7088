// ShuffleNetV1 (3 groups) and ShuffleNetV2 (1x) for CIFAR, with the parameter names of the widely used PyTorch
// zoo (RepDistiller's ShuffleNetv1.py / ShuffleNetv2.py).
#include "core/models/zoo_internal.h"

namespace rkd {

using Pairs = std::vector<std::pair<std::string, std::string>>;

namespace {
/// [N, C, H, W] -> [N, g, C/g, H, W] -> [N, C/g, g, H, W] -> [N, C, H, W]; reshape, so channels-last input works.
torch::Tensor channelShuffle(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.reshape({n, groups, c / groups, h, w}).permute({0, 2, 1, 3, 4}).reshape({n, c, h, w});
}
}  // namespace

// ---- ShuffleNetV1 ------------------------------------------------------------------------------------------

/// Grouped 1x1 (+BN+ReLU), shuffle, depthwise 3x3 (+BN+ReLU), grouped 1x1 (+BN); + identity, or at stride 2
/// concatenated with AvgPool(3, 2, 1) of the input. Returns (out, preact = before the final ReLU).
class ShuffleV1UnitImpl : public torch::nn::Module {
 public:
  ShuffleV1UnitImpl(int64_t in, int64_t out, int64_t stride, int64_t groups, bool firstUnit, bool fused,
                    const std::string& prefix, Pairs& pairs)
      : m_stride(stride), m_g1(firstUnit ? 1 : groups) {
    const int64_t mid = out / 4;
    conv1 = register_module("conv1", zoo::makeConv(in, mid, 1, 1, 0, m_g1, fused));
    bn1 = zoo::foldableBn(*this, prefix, "conv1", "bn1", mid, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(mid, mid, 3, stride, 1, mid, fused));
    bn2 = zoo::foldableBn(*this, prefix, "conv2", "bn2", mid, fused, pairs);
    conv3 = register_module("conv3", zoo::makeConv(mid, out, 1, 1, 0, groups, fused));
    bn3 = zoo::foldableBn(*this, prefix, "conv3", "bn3", out, fused, pairs);
  }

  std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) {
    auto out = torch::relu(r.convBn(conv1, bn1, x));
    out = channelShuffle(out, m_g1);
    out = torch::relu(r.convBn(conv2, bn2, out));
    out = r.convBn(conv3, bn3, out);
    torch::Tensor preact;
    if (m_stride == 2) {
      auto res = torch::avg_pool2d(x, 3, 2, 1);
      preact = torch::cat({out, res}, 1);
    } else {
      preact = out + x;
    }
    return {torch::relu(preact), preact};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};

 private:
  int64_t m_stride;
  int64_t m_g1;
};

class ShuffleV1Impl : public BackboneImpl {
 public:
  ShuffleV1Impl(const BackboneOptions& o, bool fused) : BackboneImpl(o, fused) {
    const std::array<int64_t, 3> outPlanes = {240, 480, 960};
    const std::array<int, 3> counts = {4, 8, 4};
    const int64_t groups = 3;
    conv1 = register_module("conv1", zoo::makeConv(o.inChannels, 24, 1, 1, 0, 1, fused));
    bn1 = zoo::foldableBn(*this, "", "conv1", "bn1", 24, fused, m_foldPairs);
    int64_t in = 24;
    for (int s = 0; s < 3; ++s) {
      const std::string name = "layer" + std::to_string(s + 1);
      auto list = torch::nn::ModuleList();
      for (int i = 0; i < counts[s]; ++i) {
        const int64_t stride = i == 0 ? 2 : 1;
        const int64_t catPlanes = i == 0 ? in : 0;
        auto unit = std::make_shared<ShuffleV1UnitImpl>(in, outPlanes[s] - catPlanes, stride, groups,
                                                        /*firstUnit=*/in == 24, fused,
                                                        name + "." + std::to_string(i) + ".", m_foldPairs);
        list->push_back(unit);
        m_units[s].push_back(unit);
        in = outPlanes[s];
      }
      register_module(name, list);
    }
    linear = register_module("linear", torch::nn::Linear(in, o.numClasses));
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    return zoo::stemStagesForward(runner(), conv1, bn1, m_units, linear, input, wantPreact);
  }

  std::string classifierName() const override { return "linear"; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear linear{nullptr};

 private:
  std::array<std::vector<std::shared_ptr<ShuffleV1UnitImpl>>, 3> m_units;
};

// ---- ShuffleNetV2 ------------------------------------------------------------------------------------------

/// Common interface of the two V2 unit kinds (they share one ModuleList per stage).
class ShuffleV2UnitImpl : public torch::nn::Module {
 public:
  /// (out, preact); preact is only meaningful for basic units (before the ReLU and before the shuffle).
  virtual std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) = 0;
};

/// Stride-2 unit: left = dw3x3(s2)+BN, 1x1+BN+ReLU; right = 1x1+BN+ReLU, dw3x3(s2)+BN, 1x1+BN+ReLU; concat, shuffle.
class ShuffleV2DownBlockImpl : public ShuffleV2UnitImpl {
 public:
  ShuffleV2DownBlockImpl(int64_t in, int64_t out, bool fused, const std::string& prefix, Pairs& pairs) {
    const int64_t mid = out / 2;
    conv1 = register_module("conv1", zoo::makeConv(in, in, 3, 2, 1, in, fused));
    bn1 = zoo::foldableBn(*this, prefix, "conv1", "bn1", in, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(in, mid, 1, 1, 0, 1, fused));
    bn2 = zoo::foldableBn(*this, prefix, "conv2", "bn2", mid, fused, pairs);
    conv3 = register_module("conv3", zoo::makeConv(in, mid, 1, 1, 0, 1, fused));
    bn3 = zoo::foldableBn(*this, prefix, "conv3", "bn3", mid, fused, pairs);
    conv4 = register_module("conv4", zoo::makeConv(mid, mid, 3, 2, 1, mid, fused));
    bn4 = zoo::foldableBn(*this, prefix, "conv4", "bn4", mid, fused, pairs);
    conv5 = register_module("conv5", zoo::makeConv(mid, mid, 1, 1, 0, 1, fused));
    bn5 = zoo::foldableBn(*this, prefix, "conv5", "bn5", mid, fused, pairs);
  }

  std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) override {
    auto out1 = r.convBn(conv1, bn1, x);
    out1 = torch::relu(r.convBn(conv2, bn2, out1));
    auto out2 = torch::relu(r.convBn(conv3, bn3, x));
    out2 = r.convBn(conv4, bn4, out2);
    out2 = torch::relu(r.convBn(conv5, bn5, out2));
    auto cat = torch::cat({out1, out2}, 1);
    return {channelShuffle(cat, 2), cat};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr}, bn5{nullptr};
};

/// Split in halves; the second goes through 1x1+BN+ReLU, dw3x3+BN, 1x1+BN (+ReLU); concat, shuffle.
class ShuffleV2BasicBlockImpl : public ShuffleV2UnitImpl {
 public:
  ShuffleV2BasicBlockImpl(int64_t channels, bool fused, const std::string& prefix, Pairs& pairs) {
    const int64_t c = channels / 2;
    conv1 = register_module("conv1", zoo::makeConv(c, c, 1, 1, 0, 1, fused));
    bn1 = zoo::foldableBn(*this, prefix, "conv1", "bn1", c, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(c, c, 3, 1, 1, c, fused));
    bn2 = zoo::foldableBn(*this, prefix, "conv2", "bn2", c, fused, pairs);
    conv3 = register_module("conv3", zoo::makeConv(c, c, 1, 1, 0, 1, fused));
    bn3 = zoo::foldableBn(*this, prefix, "conv3", "bn3", c, fused, pairs);
  }

  std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) override {
    const auto c = x.size(1) / 2;
    auto x1 = x.narrow(1, 0, c);
    auto x2 = x.narrow(1, c, x.size(1) - c);
    auto out = torch::relu(r.convBn(conv1, bn1, x2));
    out = r.convBn(conv2, bn2, out);
    auto pre = r.convBn(conv3, bn3, out);
    auto preact = torch::cat({x1, pre}, 1);
    auto plain = torch::cat({x1, torch::relu(pre)}, 1);
    return {channelShuffle(plain, 2), preact};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
};

class ShuffleV2Impl : public BackboneImpl {
 public:
  ShuffleV2Impl(const BackboneOptions& o, bool fused) : BackboneImpl(o, fused) {
    const std::array<int64_t, 4> outChannels = {116, 232, 464, 1024};
    const std::array<int, 3> basicCounts = {3, 7, 3};
    conv1 = register_module("conv1", zoo::makeConv(o.inChannels, 24, 1, 1, 0, 1, fused));
    bn1 = zoo::foldableBn(*this, "", "conv1", "bn1", 24, fused, m_foldPairs);
    int64_t in = 24;
    for (int s = 0; s < 3; ++s) {
      const std::string name = "layer" + std::to_string(s + 1);
      auto list = torch::nn::ModuleList();
      auto down = std::make_shared<ShuffleV2DownBlockImpl>(in, outChannels[s], fused, name + ".0.", m_foldPairs);
      list->push_back(down);
      m_units[s].push_back(down);
      for (int i = 0; i < basicCounts[s]; ++i) {
        auto unit = std::make_shared<ShuffleV2BasicBlockImpl>(outChannels[s], fused,
                                                              name + "." + std::to_string(i + 1) + ".", m_foldPairs);
        list->push_back(unit);
        m_units[s].push_back(unit);
      }
      in = outChannels[s];
      register_module(name, list);
    }
    conv2 = register_module("conv2", zoo::makeConv(in, outChannels[3], 1, 1, 0, 1, fused));
    bn2 = zoo::foldableBn(*this, "", "conv2", "bn2", outChannels[3], fused, m_foldPairs);
    linear = register_module("linear", torch::nn::Linear(outChannels[3], o.numClasses));
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    const auto r = runner();
    return zoo::stemStagesForward(r, conv1, bn1, m_units, linear, input, wantPreact,
                                  [&](const torch::Tensor& x) { return torch::relu(r.convBn(conv2, bn2, x)); });
  }

  std::string classifierName() const override { return "linear"; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Linear linear{nullptr};

 private:
  std::array<std::vector<std::shared_ptr<ShuffleV2UnitImpl>>, 3> m_units;
};

namespace zoo {
Backbone makeShuffleV1(const BackboneOptions& o, bool fused) { return std::make_shared<ShuffleV1Impl>(o, fused); }
Backbone makeShuffleV2(const BackboneOptions& o, bool fused) { return std::make_shared<ShuffleV2Impl>(o, fused); }
}  // namespace zoo

}  // namespace rkd
