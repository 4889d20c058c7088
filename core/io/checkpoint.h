#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"

namespace rkd {

/// A PyTorch checkpoint reduced to the model's state dict.
struct ImportedStateDict {
  TensorMap tensors;            ///< parameter name -> tensor, prefixes removed, floating tensors in float32
  std::string format;           ///< "zip" or "legacy (PyTorch < 1.6)"
  std::string layout;           ///< "flat", "nested under 'model'", "nested under 'state_dict'", ...
  bool strippedModulePrefix = false;  ///< a DataParallel/DistributedDataParallel "module." prefix was removed
  /// Everything else in the file, one line each, never loaded: "epoch (int 240)", "optimizer (dict (2 entries))",
  /// "args (argparse.Namespace)", "optim.* (30 tensors)".
  std::vector<std::string> ignored;
  /// Conversions made: "19 float16 tensors converted to float32".
  std::vector<std::string> conversions;
};

/// Reads what Python's torch.save (any PyTorch since 1.0, zip or legacy format) or this studio wrote, and finds
/// the model's weights in it: a plain dict or OrderedDict of tensors (a state dict), or one nested under `model`,
/// `state_dict`, `net`, `student`, `teacher` or `ema`, or the only dict of tensors one level down, or the
/// `model.` entries of a flat dict (this studio's checkpoints). A `module.` prefix is stripped; float16, bfloat16
/// and float64 tensors become float32 (integer buffers keep their type). Nothing else in the file is loaded.
/// Throws rkd::InputError naming the file: missing, truncated or damaged; a TorchScript archive or a pickled
/// whole nn.Module (with the Python line that re-saves it as a state dict); no weights found.
ImportedStateDict readStateDict(const std::string& path);

/// readStateDict + loadStateDict: copies what matches into `module` and reports missing, unexpected and
/// shape-mismatched keys by name. The caller decides whether a partial match is acceptable.
LoadReport importCheckpoint(torch::nn::Module& module, const std::string& path, ImportedStateDict* details = nullptr);

/// Writes the module's state dict (parameters and buffers, PyTorch names, CPU, contiguous) in the zip format
/// that Python's `torch.load` reads; `model.load_state_dict(torch.load(path), strict=True)` accepts it for
/// the PyTorch definition of the same network. Atomic (temporary file, then rename).
void exportStateDict(const torch::nn::Module& module, const std::string& path);

}  // namespace rkd
