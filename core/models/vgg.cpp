// VGG with BatchNorm (vgg8/11/13/16/19), with the parameter names of the widely used PyTorch zoo
// (RepDistiller's vgg.py): blockB.{3j: conv, 3j+1: BN, 3j+2: ReLU} with each block's last ReLU dropped,
// `classifier`.
#include "core/models/zoo_internal.h"

namespace rkd {

class VggImpl : public BackboneImpl {
 public:
  VggImpl(const BackboneOptions& o, bool fused, const std::vector<std::vector<int64_t>>& cfg) : BackboneImpl(o, fused) {
    int64_t in = o.inChannels;
    for (size_t b = 0; b < cfg.size(); ++b) {
      const std::string name = "block" + std::to_string(b);
      auto seq = torch::nn::Sequential();
      for (size_t j = 0; j < cfg[b].size(); ++j) {
        const bool lastInBlock = j + 1 == cfg[b].size();
        zoo::appendConvBn(seq, name + ".", torch::nn::Conv2dOptions(in, cfg[b][j], 3).padding(1).bias(true),
                          /*relu=*/!lastInBlock, fused, m_foldPairs);
        in = cfg[b][j];
      }
      m_blocks.push_back(register_module(name, seq));
    }
    classifier = register_module("classifier", torch::nn::Linear(in, o.numClasses));
    zoo::initialise(*this, zoo::ConvInit::NormalFanOut, zoo::LinearInit::SmallNormal);
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    const auto r = runner();
    BackboneOutput out;
    const auto height = input.size(2);
    auto x = torch::relu(r.sequential(m_blocks[0], input));
    out.features.push_back(x);
    out.preact.push_back(x);
    for (size_t b = 1; b < m_blocks.size(); ++b) {
      // pool0..2 always; pool3 only for inputs of 64 and more (the reference: exactly 64).
      if (b <= 3 || height >= 64) x = torch::max_pool2d(x, 2, 2);
      x = r.sequential(m_blocks[b], x);
      out.preact.push_back(x);  // the block's last BN output
      x = torch::relu(x);
      out.features.push_back(x);
    }
    if (!wantPreact) out.preact.clear();
    out.pooled = x.mean({2, 3});
    out.logits = r.linear(classifier, out.pooled);
    return out;
  }

  std::string classifierName() const override { return "classifier"; }

  torch::nn::Linear classifier{nullptr};

 private:
  std::vector<torch::nn::Sequential> m_blocks;
};

namespace zoo {
Backbone makeVgg(const BackboneOptions& o, bool fused, const std::vector<std::vector<int64_t>>& cfg) {
  return std::make_shared<VggImpl>(o, fused, cfg);
}
}  // namespace zoo

}  // namespace rkd
