#pragma once
#include <functional>
// Internal to reviewkd_models: the family factories and the construction helpers they share.
#include <array>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/models/backbone.h"

namespace rkd::zoo {

/// Builds `options.arch`; `fused` builds the inference variant used by fuseForInference.
Backbone build(const BackboneOptions& options, bool fused);

/// CIFAR ResNet: depth (8..110) and widths {stem, stage1, stage2, stage3}.
Backbone makeResNet(const BackboneOptions& o, bool fused, int depth, std::array<int64_t, 4> widths);
/// CIFAR ResNet50 (bottlenecks 3/4/6/3).
Backbone makeResNet50(const BackboneOptions& o, bool fused);
/// Wide ResNet wrn-depth-widen.
Backbone makeWrn(const BackboneOptions& o, bool fused, int depth, int widen);
/// VGG with BN; cfg = conv widths per block (5 blocks).
Backbone makeVgg(const BackboneOptions& o, bool fused, const std::vector<std::vector<int64_t>>& cfg);
/// MobileNetV2, width 0.5, expansion 6.
Backbone makeMobileNetV2(const BackboneOptions& o, bool fused);
Backbone makeShuffleV1(const BackboneOptions& o, bool fused);
Backbone makeShuffleV2(const BackboneOptions& o, bool fused);

inline torch::nn::Conv2d makeConv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                  int64_t groups, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).groups(groups).bias(bias));
}

/// Registers a BatchNorm that directly follows conv `convName` (both relative to `owner`, whose full name in
/// the network is `prefix`), and records the pair as foldable. In a fused build the BN is not created
/// (returns an empty holder) since LayerRunner::convBn skips it.
inline torch::nn::BatchNorm2d foldableBn(torch::nn::Module& owner, const std::string& prefix,
                                         const std::string& convName, const std::string& bnName, int64_t channels,
                                         bool fused, std::vector<std::pair<std::string, std::string>>& pairs) {
  pairs.emplace_back(prefix + convName, prefix + bnName);
  if (fused) return torch::nn::BatchNorm2d(nullptr);
  return owner.register_module(bnName, torch::nn::BatchNorm2d(channels));
}

/// Appends conv (+ BN, or Identity at the BN's index when fused) (+ ReLU when `relu`) to a Sequential,
/// recording the pair under `prefix` + index.
inline void appendConvBn(torch::nn::Sequential& seq, const std::string& prefix, torch::nn::Conv2dOptions convOptions,
                         bool relu, bool fused, std::vector<std::pair<std::string, std::string>>& pairs) {
  const auto convIndex = static_cast<int64_t>(seq->size());
  const auto channels = convOptions.out_channels();
  if (fused) convOptions.bias(true);
  seq->push_back(torch::nn::Conv2d(convOptions));
  pairs.emplace_back(prefix + std::to_string(convIndex), prefix + std::to_string(convIndex + 1));
  if (fused) {
    seq->push_back(torch::nn::Identity());
  } else {
    seq->push_back(torch::nn::BatchNorm2d(channels));
  }
  if (relu) seq->push_back(torch::nn::ReLU());
}

/// Weight initialisation of spec section 8.
enum class ConvInit { KaimingFanOut, NormalFanOut, Default };
enum class LinearInit { ZeroBias, SmallNormal, Default };
void initialise(torch::nn::Module& net, ConvInit conv, LinearInit linear);

/// The forward shared by the families whose stem is conv -> BN -> ReLU and whose stages are lists of units
/// returning (output, preact): the CIFAR ResNets, resnet50 and the ShuffleNets. `beforePool` (ShuffleNetV2's
/// last 1x1 conv) runs on the last stage's output before the global mean; null = none.
template <typename Stages>
BackboneOutput stemStagesForward(const LayerRunner& r, const torch::nn::Conv2d& conv1,
                                 const torch::nn::BatchNorm2d& bn1, const Stages& stages,
                                 const torch::nn::Linear& classifier, const torch::Tensor& input, bool wantPreact,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& beforePool = nullptr) {
  BackboneOutput out;
  auto x = torch::relu(r.convBn(conv1, bn1, input));
  out.features.push_back(x);
  out.preact.push_back(x);
  for (auto& stage : stages) {
    torch::Tensor preact;
    for (auto& unit : stage) std::tie(x, preact) = unit->run(r, x);
    out.features.push_back(x);
    out.preact.push_back(preact);
  }
  if (!wantPreact) out.preact.clear();
  if (beforePool) x = beforePool(x);
  out.pooled = x.mean({2, 3});
  out.logits = r.linear(classifier, out.pooled);
  return out;
}

}  // namespace rkd::zoo
