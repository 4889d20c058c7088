// Wide ResNets (wrn-D-K), pre-activation, with the parameter names of the widely used PyTorch zoo
// (RepDistiller's wrn.py): conv1, blockG.layer.I.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc.
#include "core/common/errors.h"
#include "core/models/batch_norm_override.h"
#include "core/models/zoo_internal.h"

namespace rkd {

using Pairs = std::vector<std::pair<std::string, std::string>>;

/// BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, + identity (raw x) or convShortcut(relu(bn1(x))).
class WrnBlockImpl : public torch::nn::Module {
 public:
  WrnBlockImpl(int64_t in, int64_t out, int64_t stride, bool fused, const std::string& prefix, Pairs& pairs)
      : m_equalInOut(in == out) {
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(in));
    conv1 = register_module("conv1", zoo::makeConv(in, out, 3, stride, 1, 1, fused));
    // bn2 directly follows conv1: the only foldable pair of a pre-activation block.
    bn2 = zoo::foldableBn(*this, prefix, "conv1", "bn2", out, fused, pairs);
    conv2 = register_module("conv2", zoo::makeConv(out, out, 3, 1, 1, 1, false));
    if (!m_equalInOut) {
      convShortcut = register_module("convShortcut", zoo::makeConv(in, out, 1, stride, 0, 1, false));
    }
  }

  torch::Tensor run(const LayerRunner& r, torch::Tensor x) {
    torch::Tensor out;
    if (!m_equalInOut) {
      x = torch::relu(runBatchNorm(*bn1, x));
      out = torch::relu(r.convBn(conv1, bn2, x));
    } else {
      out = torch::relu(runBatchNorm(*bn1, x));
      out = torch::relu(r.convBn(conv1, bn2, out));
    }
    out = r.conv(conv2, out);
    return (m_equalInOut ? x : r.conv(convShortcut, x)) + out;
  }

  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, convShortcut{nullptr};

 private:
  bool m_equalInOut;
};

/// The reference's NetworkBlock: one `layer` Sequential of blocks.
class WrnGroupImpl : public torch::nn::Module {
 public:
  WrnGroupImpl(int n, int64_t in, int64_t out, int64_t stride, bool fused, const std::string& prefix, Pairs& pairs) {
    auto list = torch::nn::ModuleList();
    for (int i = 0; i < n; ++i) {
      auto block = std::make_shared<WrnBlockImpl>(i == 0 ? in : out, out, i == 0 ? stride : 1, fused,
                                                  prefix + "layer." + std::to_string(i) + ".", pairs);
      list->push_back(block);
      blocks.push_back(block);
    }
    register_module("layer", list);
  }

  torch::Tensor run(const LayerRunner& r, torch::Tensor x) {
    for (auto& b : blocks) x = b->run(r, x);
    return x;
  }

  std::vector<std::shared_ptr<WrnBlockImpl>> blocks;
};

class WrnImpl : public BackboneImpl {
 public:
  WrnImpl(const BackboneOptions& o, bool fused, int depth, int widen) : BackboneImpl(o, fused) {
    if ((depth - 4) % 6 != 0) throw InputError("WRN depth must be 6n+4, got " + std::to_string(depth));
    const int n = (depth - 4) / 6;
    const std::array<int64_t, 4> ch = {16, 16 * widen, 32 * widen, 64 * widen};
    conv1 = register_module("conv1", zoo::makeConv(o.inChannels, ch[0], 3, 1, 1, 1, false));
    block1 = register_module("block1", std::make_shared<WrnGroupImpl>(n, ch[0], ch[1], 1, fused, "block1.", m_foldPairs));
    block2 = register_module("block2", std::make_shared<WrnGroupImpl>(n, ch[1], ch[2], 2, fused, "block2.", m_foldPairs));
    block3 = register_module("block3", std::make_shared<WrnGroupImpl>(n, ch[2], ch[3], 2, fused, "block3.", m_foldPairs));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(ch[3]));
    fc = register_module("fc", torch::nn::Linear(ch[3], o.numClasses));
    zoo::initialise(*this, zoo::ConvInit::NormalFanOut, zoo::LinearInit::ZeroBias);
  }

  BackboneOutput forwardAll(const torch::Tensor& input, bool wantPreact) override {
    const auto r = runner();
    BackboneOutput out;
    auto f0 = r.conv(conv1, input);
    auto f1 = block1->run(r, f0);
    auto f2 = block2->run(r, f1);
    auto f3 = block3->run(r, f2);
    auto x = torch::relu(runBatchNorm(*bn1, f3));
    out.pooled = x.mean({2, 3});
    out.logits = r.linear(fc, out.pooled);
    out.features = {f0, f1, f2, f3};
    if (wantPreact) {
      // As the reference: the next BN applied once more to each stage output (in train mode this updates
      // those BNs' running statistics a second time).
      out.preact = {f0, runBatchNorm(*block2->blocks.front()->bn1, f1), runBatchNorm(*block3->blocks.front()->bn1, f2),
                    runBatchNorm(*bn1, f3)};
    }
    return out;
  }

  std::string classifierName() const override { return "fc"; }

  torch::nn::Conv2d conv1{nullptr};
  std::shared_ptr<WrnGroupImpl> block1, block2, block3;
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

namespace zoo {
Backbone makeWrn(const BackboneOptions& o, bool fused, int depth, int widen) {
  return std::make_shared<WrnImpl>(o, fused, depth, widen);
}
}  // namespace zoo

}  // namespace rkd
