#include "core/io/tensor_file.h"

#include <torch/serialize.h>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/io/torch_file.h"

namespace rkd {
namespace {

using pickle::Kind;
using pickle::Value;

// Deep enough for any real checkpoint; a hostile file nested deeper (or referring to itself) stops here.
constexpr int kMaxNesting = 100;

void flatten(TorchSaveFile& file, const Value& value, const std::string& prefix, TensorMap& out,
             std::vector<std::string>* skipped, int depth) {
  if (value.kind == Kind::Tensor) {
    out[prefix] = file.tensor(value);
    return;
  }
  if (value.kind == Kind::Dict) {
    if (depth >= kMaxNesting)
      throw InputError("checkpoint '" + file.path() + "' nests dicts deeper than " + std::to_string(kMaxNesting) +
                           " levels (or a dict contains itself) at '" + prefix + "'",
                       "save a plain state dict: torch.save(model.state_dict(), path)");
    for (const auto& [k, v] : value.entries) {
      std::string key;
      if (k->kind == Kind::String)
        key = k->s;
      else if (k->kind == Kind::Int)
        key = std::to_string(k->i);
      else {
        if (skipped) skipped->push_back(prefix + "<" + pickle::describe(*k) + " key>");
        continue;
      }
      flatten(file, *v, prefix.empty() ? key : prefix + "." + key, out, skipped, depth + 1);
    }
    return;
  }
  if (skipped) skipped->push_back(prefix);
}

}  // namespace

TensorMap readTensorFile(const std::string& path, std::vector<std::string>* skipped) {
  TorchSaveFile file(path);
  const Value& root = file.root();
  if (root.kind != Kind::Dict)
    throw InputError("checkpoint '" + path + "' holds a " + pickle::describe(root) + ", not a dict of tensors",
                     "save a state dict: torch.save(model.state_dict(), path)");
  TensorMap out;
  flatten(file, root, "", out, skipped, 0);
  if (out.empty())
    throw InputError("checkpoint '" + path + "' holds no tensors", "save a state dict with the model's parameters");
  return out;
}

void writeTensorFile(const std::string& path, const TensorMap& tensors, ExistingFile existing) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  writeFileAtomically(path, bytes.data(), bytes.size(), existing);
}

TensorMap withPrefix(const TensorMap& all, const std::string& prefix) {
  TensorMap out;
  for (auto it = all.lower_bound(prefix); it != all.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.emplace(it->first.substr(prefix.size()), it->second);
  return out;
}

}  // namespace rkd
