// Inference fusion: fold every BatchNorm that directly follows a conv into that conv (see backbone.h).
#include "core/common/errors.h"
#include "core/io/state_dict.h"
#include "core/models/backbone.h"
#include "core/models/zoo_internal.h"

namespace rkd {

Backbone fuseForInference(const Backbone& net) {
  if (!net) throw InputError("fuseForInference: no network");
  if (net->isFused()) return net;
  torch::NoGradGuard noGrad;
  auto fused = zoo::build(net->options(), /*fused=*/true);

  TensorMap source;
  for (const auto& [name, tensor] : stateDict(*net)) source[name] = tensor.detach().to(torch::kCPU);
  // Everything that keeps its name and shape (unfolded BNs, classifier, WRN convs...) copies as is; the folded
  // pairs are written below.
  loadStateDict(*fused, source);

  std::map<std::string, double> eps;
  for (const auto& item : net->named_modules()) {
    if (auto* bn = item.value()->as<torch::nn::BatchNorm2d>()) eps[item.key()] = bn->options.eps();
  }
  auto target = fused->named_parameters();
  for (const auto& [convName, bnName] : fused->foldablePairs()) {
    const auto w = source.at(convName + ".weight").to(torch::kDouble);
    const auto outChannels = w.size(0);
    const auto b = source.count(convName + ".bias") ? source.at(convName + ".bias").to(torch::kDouble)
                                                    : torch::zeros({outChannels}, torch::kDouble);
    const auto gamma = source.at(bnName + ".weight").to(torch::kDouble);
    const auto beta = source.at(bnName + ".bias").to(torch::kDouble);
    const auto mean = source.at(bnName + ".running_mean").to(torch::kDouble);
    const auto var = source.at(bnName + ".running_var").to(torch::kDouble);
    const auto scale = gamma / torch::sqrt(var + eps.at(bnName));
    auto& fw = target[convName + ".weight"];
    auto& fb = target[convName + ".bias"];
    fw.copy_((w * scale.reshape({-1, 1, 1, 1})).to(fw.scalar_type()));
    fb.copy_(((b - mean) * scale + beta).to(fb.scalar_type()));
  }

  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  for (const auto& p : net->parameters()) {
    device = p.device();
    dtype = p.scalar_type();
    break;
  }
  fused->to(device, dtype);
  fused->eval();
  for (auto& p : fused->parameters()) p.set_requires_grad(false);
  return fused;
}

}  // namespace rkd
