// MobileNetV2 (width 0.5, expansion 6) with the parameter names of the widely used PyTorch zoo
// (RepDistiller's mobilenetv2.py): conv1.{0,1}, blocks.G.I.conv.{0,1,3,4,6,7}, conv2.{0,1}, classifier.0.
#include "core/models/zoo_internal.h"

namespace rkd {

using Pairs = std::vector<std::pair<std::string, std::string>>;

/// 1x1 expand (+BN+ReLU), 3x3 depthwise (+BN+ReLU), 1x1 linear projection (+BN); residual when stride 1 and
/// in == out.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand, bool fused, const std::string& prefix,
                       Pairs& pairs)
      : m_residual(stride == 1 && in == out) {
    const int64_t hidden = in * expand;
    conv = torch::nn::Sequential();
    const std::string p = prefix + "conv.";
    zoo::appendConvBn(conv, p, torch::nn::Conv2dOptions(in, hidden, 1).bias(false), true, fused, pairs);
    zoo::appendConvBn(conv, p, torch::nn::Conv2dOptions(hidden, hidden, 3).stride(stride).padding(1).groups(hidden).bias(false),
                      true, fused, pairs);
    zoo::appendConvBn(conv, p, torch::nn::Conv2dOptions(hidden, out, 1).bias(false), false, fused, pairs);
    register_module("conv", conv);
  }

  torch::Tensor run(const LayerRunner& r, const torch::Tensor& x) {
    auto y = r.sequential(conv, x);
    return m_residual ? x + y : y;
  }

  torch::nn::Sequential conv{nullptr};

 private:
  bool m_residual;
};

class MobileNetV2Impl : public BackboneImpl {
 public:
  MobileNetV2Impl(const BackboneOptions& o, bool fused) : BackboneImpl(o, fused) {
    struct Group { int64_t t, c, n, s; };
    const std::vector<Group> setting = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    const double width = 0.5;
    int64_t in = static_cast<int64_t>(32 * width);
    conv1 = torch::nn::Sequential();
    zoo::appendConvBn(conv1, "conv1.", torch::nn::Conv2dOptions(o.inChannels, in, 3).stride(2).padding(1).bias(false),
                      true, fused, m_foldPairs);
    register_module("conv1", conv1);
    auto blocks = torch::nn::ModuleList();
    for (size_t g = 0; g < setting.size(); ++g) {
      const auto out = static_cast<int64_t>(setting[g].c * width);
      auto group = torch::nn::ModuleList();
      std::vector<std::shared_ptr<InvertedResidualImpl>> typed;
      for (int64_t i = 0; i < setting[g].n; ++i) {
        auto block = std::make_shared<InvertedResidualImpl>(
            in, out, i == 0 ? setting[g].s : 1, setting[g].t, fused,
            "blocks." + std::to_string(g) + "." + std::to_string(i) + ".", m_foldPairs);
        group->push_back(block);
        typed.push_back(block);
        in = out;
      }
      blocks->push_back(group);
      m_groups.push_back(typed);
    }
    register_module("blocks", blocks);
    const int64_t last = 1280;
    conv2 = torch::nn::Sequential();
    zoo::appendConvBn(conv2, "conv2.", torch::nn::Conv2dOptions(in, last, 1).bias(false), true, fused, m_foldPairs);
    register_module("conv2", conv2);
    m_fc = torch::nn::Linear(last, o.numClasses);
    classifier = register_module("classifier", torch::nn::Sequential(m_fc));
    zoo::initialise(*this, zoo::ConvInit::NormalFanOut, zoo::LinearInit::SmallNormal);
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool /*wantPreact*/) override {
    const auto r = runner();
    BackboneOutput out;
    auto x = r.sequential(conv1, input);
    out.features.push_back(x);
    for (size_t g = 0; g < m_groups.size(); ++g) {
      for (auto& block : m_groups[g]) x = block->run(r, x);
      if (g == 1 || g == 2 || g == 4 || g == 6) out.features.push_back(x);
    }
    x = r.sequential(conv2, x);
    out.pooled = x.mean({2, 3});
    out.logits = r.linear(m_fc, out.pooled);
    return out;
  }

  bool hasPreact() const override { return false; }
  std::string classifierName() const override { return "classifier.0"; }

  torch::nn::Sequential conv1{nullptr}, conv2{nullptr}, classifier{nullptr};

 private:
  std::vector<std::vector<std::shared_ptr<InvertedResidualImpl>>> m_groups;
  torch::nn::Linear m_fc{nullptr};
};

namespace zoo {
Backbone makeMobileNetV2(const BackboneOptions& o, bool fused) { return std::make_shared<MobileNetV2Impl>(o, fused); }
}  // namespace zoo

}  // namespace rkd
