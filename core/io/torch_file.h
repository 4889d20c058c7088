#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/io/torch_pickle.h"

namespace rkd {

/// A file written by Python's `torch.save` (or LibTorch's `torch::pickle_save`): the zip format of PyTorch 1.6
/// and newer, or the legacy format of `_use_new_zipfile_serialization=False` (a pickle followed by the raw
/// storages). The pickle is parsed when the file is opened; tensor data is read only when asked for, and every
/// storage is checked against the sizes its tensors claim before anything is copied.
///
/// Refused with an rkd::InputError that says what the file is and how to re-save it: a TorchScript archive, the
/// tar format of PyTorch 0.3 and older, a big-endian file, safetensors, and anything that is not a torch.save file.
class TorchSaveFile {
 public:
  explicit TorchSaveFile(const std::string& path);
  ~TorchSaveFile();
  TorchSaveFile(const TorchSaveFile&) = delete;
  TorchSaveFile& operator=(const TorchSaveFile&) = delete;

  const std::string& path() const;
  /// "zip" or "legacy (PyTorch < 1.6)".
  const std::string& format() const;
  /// The object torch.save was given (a dict, an OrderedDict, ...).
  const pickle::Value& root() const;

  /// The tensor a Tensor value describes, as a contiguous CPU tensor of its stored dtype (shared storages and
  /// views with offsets are resolved). Throws rkd::InputError naming the file and the storage when the data is
  /// missing, shorter than the tensor needs, or the view does not fit in its storage.
  torch::Tensor tensor(const pickle::Value& value);

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

/// The one line of Python that turns the file at `path` into a plain state dict beside it, for messages:
/// `expression` is the Python expression that loads the network (e.g. "torch.jit.load('f.pt')").
std::string resaveCommand(const std::string& path, const std::string& expression);

}  // namespace rkd
