#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"

namespace rkd {

/// A PyTorch checkpoint reduced to the model's state dict.
struct ImportedStateDict {
  TensorMap tensors;            ///< parameter name -> tensor, prefixes removed
  std::string layout;           ///< "flat", "nested under 'model'", "nested under 'state_dict'"
  bool strippedModulePrefix = false;  ///< a DataParallel/DistributedDataParallel "module." prefix was removed
  std::vector<std::string> ignored;   ///< other top-level entries (optimizer state, epoch, accuracy...)
};

/// Reads a PyTorch checkpoint and finds the model's weights in it: a flat state dict, or one nested under
/// `state_dict` or `model` (as the common CIFAR teacher collections save them); a `module.` prefix is stripped.
/// Throws rkd::InputError for a missing, truncated or foreign file.
ImportedStateDict readStateDict(const std::string& path);

/// readStateDict + loadStateDict: copies what matches into `module` and reports missing, unexpected and
/// shape-mismatched keys by name. The caller decides whether a partial match is acceptable.
LoadReport importCheckpoint(torch::nn::Module& module, const std::string& path, ImportedStateDict* details = nullptr);

/// Writes the module's state dict (parameters and buffers, PyTorch names, CPU, contiguous) in the zip format
/// that Python's `torch.load` reads; `model.load_state_dict(torch.load(path), strict=True)` accepts it for
/// the PyTorch definition of the same network. Atomic (temporary file, then rename).
void exportStateDict(const torch::nn::Module& module, const std::string& path);

}  // namespace rkd
