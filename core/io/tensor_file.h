#pragma once
#include <map>
#include <string>

#include <torch/torch.h>

#include "core/common/files.h"

namespace rkd {

/// Ordered name -> tensor map (a flat PyTorch state dict).
using TensorMap = std::map<std::string, torch::Tensor>;

/// Reads every tensor of a file that `torch.save` wrote (a dict, zip or legacy format; see TorchSaveFile), in
/// its stored dtype. Nested dicts are flattened with '.' (so {"model": {"fc.weight": t}} gives
/// "model.fc.weight"); non-tensor leaves (ints, floats, strings, other objects) are skipped and reported in
/// `skipped` when given. Throws rkd::InputError naming the file for a missing, truncated, damaged or foreign
/// file, or one nested deeper than 100 levels.
TensorMap readTensorFile(const std::string& path, std::vector<std::string>* skipped = nullptr);

/// Writes a flat dict name -> tensor in the zip format that Python's torch.load reads. Atomic: writes a
/// temporary file beside `path`, then renames. Tensors are moved to the CPU and made contiguous.
/// `existing`: what happens to a regular file already at `path` (anything else there is refused).
void writeTensorFile(const std::string& path, const TensorMap& tensors, ExistingFile existing = ExistingFile::Replace);

/// The entries of `all` whose names start with `prefix`, with the prefix removed.
TensorMap withPrefix(const TensorMap& all, const std::string& prefix);

}  // namespace rkd
