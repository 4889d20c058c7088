#include "core/io/tensor_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <torch/serialize.h>

#include "core/common/errors.h"

namespace rkd {
namespace {

void flatten(const c10::IValue& value, const std::string& prefix, TensorMap& out, std::vector<std::string>* skipped) {
  if (value.isTensor()) {
    out[prefix] = value.toTensor();
    return;
  }
  if (value.isGenericDict()) {
    for (const auto& item : value.toGenericDict()) {
      std::string key;
      if (item.key().isString())
        key = item.key().toStringRef();
      else if (item.key().isInt())
        key = std::to_string(item.key().toInt());
      else {
        if (skipped) skipped->push_back(prefix + "<non-string key>");
        continue;
      }
      flatten(item.value(), prefix.empty() ? key : prefix + "." + key, out, skipped);
    }
    return;
  }
  if (skipped) skipped->push_back(prefix);
}

}  // namespace

TensorMap readTensorFile(const std::string& path, std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError("checkpoint file '" + path + "' does not exist", "check the path");
  if (fs::is_directory(path, ec))
    throw InputError("'" + path + "' is a directory, not a checkpoint file", "give the path of a .pt/.pth file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open checkpoint file '" + path + "'", "check its permissions");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 4)
    throw InputError("checkpoint file '" + path + "' is empty or truncated (" + std::to_string(bytes.size()) +
                     " bytes)", "save it again with torch.save");
  // A PyTorch zip checkpoint starts with the local-file-header magic "PK\3\4".
  if (!(bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4))
    throw InputError("'" + path + "' is not a PyTorch zip checkpoint (it does not start with a zip header)",
                     "save it with torch.save(state_dict, path) from PyTorch 1.6 or newer (the default zip "
                     "format; the legacy format of _use_new_zipfile_serialization=False is not read)");
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    throw InputError("cannot read checkpoint '" + path + "': " + msg,
                     "the file may be truncated or hold Python objects other than tensors and dicts; save a "
                     "plain state dict (torch.save(model.state_dict(), path))");
  }
  if (!value.isGenericDict())
    throw InputError("checkpoint '" + path + "' holds a " + value.tagKind() + ", not a dict of tensors",
                     "save a state dict: torch.save(model.state_dict(), path)");
  TensorMap out;
  flatten(value, "", out, skipped);
  if (out.empty())
    throw InputError("checkpoint '" + path + "' holds no tensors", "save a state dict with the model's parameters");
  return out;
}

void writeTensorFile(const std::string& path, const TensorMap& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError("cannot write '" + tmp + "'", "check that the folder exists and is writable");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw InputError("writing '" + tmp + "' failed (disk full?)", "free some space and try again");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw InputError("cannot rename '" + tmp + "' to '" + path + "'", "check that the folder is writable");
  }
}

TensorMap withPrefix(const TensorMap& all, const std::string& prefix) {
  TensorMap out;
  for (auto it = all.lower_bound(prefix); it != all.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.emplace(it->first.substr(prefix.size()), it->second);
  return out;
}

}  // namespace rkd
