#include "core/io/checkpoint.h"

#include <set>

#include "core/common/errors.h"
#include "core/common/logging.h"

namespace rkd {
namespace {

bool anyWithPrefix(const TensorMap& t, const std::string& prefix) {
  auto it = t.lower_bound(prefix);
  return it != t.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

ImportedStateDict readStateDict(const std::string& path) {
  ImportedStateDict out;
  TensorMap all = readTensorFile(path, &out.ignored);
  TensorMap chosen;
  // A training checkpoint nests the weights beside optimizer state, epoch and accuracy.
  for (const std::string& nest : {std::string("state_dict"), std::string("model")}) {
    if (anyWithPrefix(all, nest + ".")) {
      chosen = withPrefix(all, nest + ".");
      out.layout = "nested under '" + nest + "'";
      for (const auto& [name, t] : all)
        if (name.compare(0, nest.size() + 1, nest + ".") != 0) out.ignored.push_back(name);
      break;
    }
  }
  if (out.layout.empty()) {
    chosen = std::move(all);
    out.layout = "flat";
  }
  for (auto& [name, t] : chosen) {
    if (name.compare(0, 7, "module.") == 0) {
      out.tensors[name.substr(7)] = t;
      out.strippedModulePrefix = true;
    } else {
      out.tensors[name] = t;
    }
  }
  if (out.tensors.empty())
    throw InputError("checkpoint '" + path + "' holds no model weights (" + out.layout + ")",
                     "save the model's state dict: torch.save(model.state_dict(), path)");
  return out;
}

LoadReport importCheckpoint(torch::nn::Module& module, const std::string& path, ImportedStateDict* details) {
  ImportedStateDict sd = readStateDict(path);
  LoadReport report = loadStateDict(module, sd.tensors);
  logger("core.io")->info("imported '{}' ({}{}): {}", path, sd.layout,
                          sd.strippedModulePrefix ? ", 'module.' prefix stripped" : "", report.describe());
  if (details) *details = std::move(sd);
  return report;
}

void exportStateDict(const torch::nn::Module& module, const std::string& path) {
  writeTensorFile(path, stateDict(module));
}

}  // namespace rkd
