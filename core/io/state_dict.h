#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/tensor_file.h"

namespace rkd {

/// What happened when a state dict was matched against a module by name.
struct LoadReport {
  std::vector<std::string> loaded;      ///< names copied into the module
  std::vector<std::string> missing;     ///< module parameters/buffers absent from the file
  std::vector<std::string> unexpected;  ///< file entries the module does not have
  /// name: "file shape [..] vs model shape [..]"
  std::vector<std::string> mismatched;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// Multi-line human-readable report (counts, then every problem by name).
  std::string describe() const;
};

/// The module's parameters and buffers by their PyTorch names (`layer1.0.conv1.weight`, ...).
TensorMap stateDict(const torch::nn::Module& module);

/// Copies every entry of `tensors` whose name and shape match into `module` (under no-grad, keeping the
/// module's device and dtype). Never throws for missing/unexpected/mismatched names: it reports them.
LoadReport loadStateDict(torch::nn::Module& module, const TensorMap& tensors);

/// Like loadStateDict but throws rkd::InputError carrying report.describe() unless everything matched.
void loadStateDictStrict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source);

}  // namespace rkd
