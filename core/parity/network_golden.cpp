#include "core/parity/network_golden.h"

#include "core/common/errors.h"
#include "core/io/state_dict.h"
#include "core/models/backbone.h"

namespace rkd {

namespace {

void compareList(std::vector<TensorCheck>& checks, const TensorMap& file, const std::string& prefix,
                 const std::vector<torch::Tensor>& ours) {
  size_t expectedCount = 0;
  while (file.count(prefix + std::to_string(expectedCount))) ++expectedCount;
  if (expectedCount != ours.size()) {
    TensorCheck c;
    c.name = prefix + "count";
    c.error = std::numeric_limits<double>::infinity();
    c.tolerance = 0;
    c.detail = "the file has " + std::to_string(expectedCount) + ", the network gives " + std::to_string(ours.size());
    checks.push_back(c);
  }
  for (size_t k = 0; k < std::min(expectedCount, ours.size()); ++k) {
    const auto key = prefix + std::to_string(k);
    addCheck(checks, key, ours[k].to(torch::kCPU), file.at(key), kFeatureTolerance);
  }
}

}  // namespace

std::vector<TensorCheck> checkArchitectureGolden(const std::string& arch, const TensorMap& file, torch::Device device,
                                                 bool fused) {
  for (const char* key : {"input", "expected.logits", "expected.pooled_feature"}) {
    if (!file.count(key)) {
      throw InputError("The golden file for '" + arch + "' has no '" + key + "'",
                       "Use a file from shared/golden/architectures/.");
    }
  }
  const auto& input = file.at("input");
  BackboneOptions options;
  options.arch = arch;
  options.numClasses = file.at("expected.logits").size(1);
  options.inChannels = input.size(1);
  auto net = createBackbone(options);
  loadStateDictStrict(*net, withPrefix(file, "model."), "golden file for " + arch);
  net->to(device);
  net->eval();
  if (fused) net = fuseForInference(net);

  torch::NoGradGuard noGrad;
  const auto out = net->forwardAll(input.to(device), net->hasPreact());
  std::vector<TensorCheck> checks;
  addCheck(checks, "expected.logits", out.logits.to(torch::kCPU), file.at("expected.logits"), kFeatureTolerance);
  addCheck(checks, "expected.pooled_feature", out.pooled.to(torch::kCPU), file.at("expected.pooled_feature"),
           kFeatureTolerance);
  compareList(checks, file, "expected.feature.", out.features);
  compareList(checks, file, "expected.preact_feature.", out.preact);
  return checks;
}

}  // namespace rkd
