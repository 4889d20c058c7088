// CIFAR ResNets (resnet8..110, resnet8x4, resnet32x4) and the CIFAR ResNet50, with the parameter names of the
// widely used PyTorch zoo (RepDistiller's resnet.py and resnetv2.py).
#include "core/common/errors.h"
#include "core/models/zoo_internal.h"

namespace rkd {

using Pairs = std::vector<std::pair<std::string, std::string>>;

/// conv3x3-BN-ReLU-conv3x3-BN (+ shortcut), ReLU. Returns (out, preact = sum before the ReLU).
class ResNetBasicBlockImpl : public torch::nn::Module {
 public:
  ResNetBasicBlockImpl(int64_t in, int64_t planes, int64_t stride, bool fused, const std::string& prefix, Pairs& pairs) {
    conv1 = register_module("conv1", zoo::makeConv(in, planes, 3, stride, 1, 1, fused));
    bn1 = zoo::foldableBn(*this, prefix, "conv1", "bn1", planes, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(planes, planes, 3, 1, 1, 1, fused));
    bn2 = zoo::foldableBn(*this, prefix, "conv2", "bn2", planes, fused, pairs);
    if (stride != 1 || in != planes) {
      downsample = torch::nn::Sequential();
      zoo::appendConvBn(downsample, prefix + "downsample.",
                        torch::nn::Conv2dOptions(in, planes, 1).stride(stride).bias(false), false, fused, pairs);
      register_module("downsample", downsample);
    }
  }

  std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) {
    auto out = torch::relu(r.convBn(conv1, bn1, x));
    out = r.convBn(conv2, bn2, out);
    auto preact = out + (downsample.is_empty() ? x : r.sequential(downsample, x));
    return {torch::relu(preact), preact};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};

class ResNetImpl : public BackboneImpl {
 public:
  ResNetImpl(const BackboneOptions& o, bool fused, int depth, std::array<int64_t, 4> widths)
      : BackboneImpl(o, fused) {
    if ((depth - 2) % 6 != 0) throw InputError("ResNet depth must be 6n+2, got " + std::to_string(depth));
    const int n = (depth - 2) / 6;
    conv1 = register_module("conv1", zoo::makeConv(o.inChannels, widths[0], 3, 1, 1, 1, fused));
    bn1 = zoo::foldableBn(*this, "", "conv1", "bn1", widths[0], fused, m_foldPairs);
    int64_t in = widths[0];
    for (int s = 0; s < 3; ++s) {
      const std::string name = "layer" + std::to_string(s + 1);
      auto list = torch::nn::ModuleList();
      for (int i = 0; i < n; ++i) {
        const int64_t stride = (i == 0 && s > 0) ? 2 : 1;
        auto block = std::make_shared<ResNetBasicBlockImpl>(in, widths[s + 1], stride, fused,
                                                            name + "." + std::to_string(i) + ".", m_foldPairs);
        list->push_back(block);
        m_blocks[s].push_back(block);
        in = widths[s + 1];
      }
      register_module(name, list);
    }
    fc = register_module("fc", torch::nn::Linear(in, o.numClasses));
    zoo::initialise(*this, zoo::ConvInit::KaimingFanOut, zoo::LinearInit::ZeroBias);
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    return zoo::stemStagesForward(runner(), conv1, bn1, m_blocks, fc, input, wantPreact);
  }

  std::string classifierName() const override { return "fc"; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  std::array<std::vector<std::shared_ptr<ResNetBasicBlockImpl>>, 3> m_blocks;
};

/// 1x1-3x3-1x1 bottleneck, expansion 4, stride on the 3x3; `shortcut` conv+BN when the shape changes.
class ResNetBottleneckImpl : public torch::nn::Module {
 public:
  ResNetBottleneckImpl(int64_t in, int64_t planes, int64_t stride, bool fused, const std::string& prefix, Pairs& pairs) {
    conv1 = register_module("conv1", zoo::makeConv(in, planes, 1, 1, 0, 1, fused));
    bn1 = zoo::foldableBn(*this, prefix, "conv1", "bn1", planes, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(planes, planes, 3, stride, 1, 1, fused));
    bn2 = zoo::foldableBn(*this, prefix, "conv2", "bn2", planes, fused, pairs);
    conv3 = register_module("conv3", zoo::makeConv(planes, 4 * planes, 1, 1, 0, 1, fused));
    bn3 = zoo::foldableBn(*this, prefix, "conv3", "bn3", 4 * planes, fused, pairs);
    if (stride != 1 || in != 4 * planes) {
      shortcut = torch::nn::Sequential();
      zoo::appendConvBn(shortcut, prefix + "shortcut.",
                        torch::nn::Conv2dOptions(in, 4 * planes, 1).stride(stride).bias(false), false, fused, pairs);
      register_module("shortcut", shortcut);
    }
  }

  std::pair<torch::Tensor, torch::Tensor> run(const LayerRunner& r, const torch::Tensor& x) {
    auto out = torch::relu(r.convBn(conv1, bn1, x));
    out = torch::relu(r.convBn(conv2, bn2, out));
    out = r.convBn(conv3, bn3, out);
    auto preact = out + (shortcut.is_empty() ? x : r.sequential(shortcut, x));
    return {torch::relu(preact), preact};
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential shortcut{nullptr};
};

class ResNet50Impl : public BackboneImpl {
 public:
  ResNet50Impl(const BackboneOptions& o, bool fused) : BackboneImpl(o, fused) {
    conv1 = register_module("conv1", zoo::makeConv(o.inChannels, 64, 3, 1, 1, 1, fused));
    bn1 = zoo::foldableBn(*this, "", "conv1", "bn1", 64, fused, m_foldPairs);
    const std::array<int, 4> counts = {3, 4, 6, 3};
    const std::array<int64_t, 4> planes = {64, 128, 256, 512};
    int64_t in = 64;
    for (int s = 0; s < 4; ++s) {
      const std::string name = "layer" + std::to_string(s + 1);
      auto list = torch::nn::ModuleList();
      for (int i = 0; i < counts[s]; ++i) {
        const int64_t stride = (i == 0 && s > 0) ? 2 : 1;
        auto block = std::make_shared<ResNetBottleneckImpl>(in, planes[s], stride, fused,
                                                            name + "." + std::to_string(i) + ".", m_foldPairs);
        list->push_back(block);
        m_blocks[s].push_back(block);
        in = 4 * planes[s];
      }
      register_module(name, list);
    }
    linear = register_module("linear", torch::nn::Linear(in, o.numClasses));
    zoo::initialise(*this, zoo::ConvInit::KaimingFanOut, zoo::LinearInit::ZeroBias);
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    return zoo::stemStagesForward(runner(), conv1, bn1, m_blocks, linear, input, wantPreact);
  }

  std::string classifierName() const override { return "linear"; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear linear{nullptr};

 private:
  std::array<std::vector<std::shared_ptr<ResNetBottleneckImpl>>, 4> m_blocks;
};

namespace zoo {
Backbone makeResNet(const BackboneOptions& o, bool fused, int depth, std::array<int64_t, 4> widths) {
  return std::make_shared<ResNetImpl>(o, fused, depth, widths);
}
Backbone makeResNet50(const BackboneOptions& o, bool fused) { return std::make_shared<ResNet50Impl>(o, fused); }
}  // namespace zoo

}  // namespace rkd
