#include "core/io/state_dict.h"

#include <set>
#include <sstream>

#include "core/common/errors.h"

namespace rkd {
namespace {

std::string shapeText(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

std::string LoadReport::describe() const {
  std::ostringstream s;
  s << loaded.size() << " tensors loaded, " << missing.size() << " missing, " << unexpected.size()
    << " unexpected, " << mismatched.size() << " with a different shape";
  for (const auto& n : missing) s << "\n  missing in file: " << n;
  for (const auto& n : unexpected) s << "\n  not in model:    " << n;
  for (const auto& n : mismatched) s << "\n  shape mismatch:  " << n;
  return s.str();
}

TensorMap stateDict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(true)) out[p.key()] = p.value();
  for (const auto& b : module.named_buffers(true)) out[b.key()] = b.value();
  return out;
}

LoadReport loadStateDict(torch::nn::Module& module, const TensorMap& tensors) {
  LoadReport report;
  TensorMap own = stateDict(module);
  torch::NoGradGuard noGrad;
  for (auto& [name, target] : own) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      report.missing.push_back(name);
      continue;
    }
    const torch::Tensor& src = it->second;
    if (src.sizes() != target.sizes()) {
      report.mismatched.push_back(name + ": file shape " + shapeText(src) + " vs model shape " + shapeText(target));
      continue;
    }
    target.copy_(src.to(target.device(), target.scalar_type()));
    report.loaded.push_back(name);
  }
  for (const auto& [name, t] : tensors)
    if (!own.count(name)) report.unexpected.push_back(name);
  return report;
}

void loadStateDictStrict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source) {
  LoadReport r = loadStateDict(module, tensors);
  if (!r.ok())
    throw InputError("the weights in " + source + " do not match the network: " + r.describe(),
                     "pick the network the checkpoint was trained with, or check the number of classes and "
                     "input channels");
}

}  // namespace rkd
