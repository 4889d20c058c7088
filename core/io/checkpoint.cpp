#include "core/io/checkpoint.h"

#include <map>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/io/torch_file.h"

namespace rkd {
namespace {

using pickle::Kind;
using pickle::Value;

// Where training scripts keep the network beside optimizer state, epoch and accuracy, in the order tried.
const char* const kNests[] = {"model", "state_dict", "net", "student", "teacher", "ema"};

// A pickled nn.Module: an object whose state holds _parameters / _modules (what torch.save(model) writes).
bool isModule(const Value& v) {
  return v.kind == Kind::Object && v.state && v.state->kind == Kind::Dict &&
         (v.state->get("_parameters") || v.state->get("_modules"));
}

// A state dict: a non-empty dict of name -> tensor.
bool isTensorDict(const Value& v) {
  if (v.kind != Kind::Dict || v.entries.empty()) return false;
  for (const auto& [k, x] : v.entries)
    if (k->kind != Kind::String || x->kind != Kind::Tensor) return false;
  return true;
}

std::string keyText(const Value& k) {
  if (k.kind == Kind::String) return k.s;
  if (k.kind == Kind::Int) return std::to_string(k.i);
  return "<" + pickle::describe(k) + ">";
}

[[noreturn]] void refuseModule(const std::string& path, const Value& module, const std::string& key) {
  const std::string cls = module.s;
  const std::string pythonModule = cls.substr(0, cls.rfind('.'));
  std::string load = "torch.load('" + path + "', weights_only=False)";
  if (!key.empty()) load += "['" + key + "']";
  throw InputError("checkpoint '" + path + "' holds a whole pickled network (" + cls +
                       (key.empty() ? "" : ", under '" + key + "'") +
                       ", saved with torch.save(model)), not a state dict: loading it needs that Python class, and "
                       "this reader never runs Python code",
                   "re-save its weights as a state dict, in Python where " + pythonModule +
                       " can be imported: " + resaveCommand(path, load));
}

}  // namespace

ImportedStateDict readStateDict(const std::string& path) {
  TorchSaveFile file(path);
  ImportedStateDict out;
  out.format = file.format();
  const Value& root = file.root();
  if (isModule(root)) refuseModule(path, root, "");
  if (root.kind != Kind::Dict)
    throw InputError("checkpoint '" + path + "' holds a " + pickle::describe(root) + ", not a dict of tensors",
                     "save the network's weights: torch.save(model.state_dict(), path)");

  const Value* chosen = nullptr;
  std::string chosenKey;  // the root entry holding the weights; empty when the root is the state dict
  std::string prefix;     // "model." for this studio's flat checkpoints
  if (isTensorDict(root)) {
    chosen = &root;
    out.layout = "flat";
    for (const char* nest : kNests) {
      const std::string p = std::string(nest) + ".";
      bool found = false;
      for (const auto& entry : root.entries)
        if (entry.first->s.compare(0, p.size(), p) == 0) found = true;
      if (found) {
        prefix = p;
        out.layout = "nested under '" + std::string(nest) + "'";
        break;
      }
    }
  } else {
    for (const char* nest : kNests) {
      const Value* v = root.get(nest);
      if (!v) continue;
      if (isModule(*v)) refuseModule(path, *v, nest);
      if (isTensorDict(*v)) {
        chosen = v;
        chosenKey = nest;
        break;
      }
    }
    if (!chosen) {
      std::vector<std::string> candidates;
      for (const auto& [k, v] : root.entries)
        if (isTensorDict(*v)) {
          candidates.push_back(keyText(*k));
          chosen = v;
          chosenKey = keyText(*k);
        }
      if (candidates.size() > 1) {
        std::string names;
        for (const auto& c : candidates) names += (names.empty() ? "'" : ", '") + c + "'";
        throw InputError("checkpoint '" + path + "' holds several dicts of tensors (" + names +
                             ") and none under a name that says it is the network (model, state_dict, net, student, "
                             "teacher, ema)",
                         "save the network's alone: torch.save(checkpoint['<name>'], path)");
      }
    }
    if (!chosen) {
      for (const auto& [k, v] : root.entries)
        if (isModule(*v)) refuseModule(path, *v, keyText(*k));
      std::string entries;
      for (const auto& [k, v] : root.entries)
        entries += (entries.empty() ? "" : ", ") + keyText(*k) + " (" + pickle::describe(*v) + ")";
      throw InputError("checkpoint '" + path + "' holds no model weights (no dict of tensors); its entries are: " +
                           (entries.empty() ? "none" : entries),
                       "save the network's weights: torch.save(model.state_dict(), path)");
    }
    out.layout = "nested under '" + chosenKey + "'";
  }

  // What is not loaded, one line per top-level entry (a flat studio checkpoint: per name prefix).
  if (chosen == &root) {
    std::map<std::string, int> otherGroups;
    for (const auto& entry : root.entries) {
      const std::string& name = entry.first->s;
      if (!prefix.empty() && name.compare(0, prefix.size(), prefix) != 0) otherGroups[name.substr(0, name.find('.'))]++;
    }
    for (const auto& [group, n] : otherGroups)
      out.ignored.push_back(group + ".* (" + std::to_string(n) + (n == 1 ? " tensor)" : " tensors)"));
  } else {
    for (const auto& [k, v] : root.entries)
      if (v != chosen) out.ignored.push_back(keyText(*k) + " (" + pickle::describe(*v) + ")");
  }

  std::map<std::string, int> converted;
  for (const auto& [k, v] : chosen->entries) {
    std::string name = k->s;
    if (!prefix.empty()) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      name = name.substr(prefix.size());
    }
    if (name.compare(0, 7, "module.") == 0) {
      name = name.substr(7);
      out.strippedModulePrefix = true;
    }
    torch::Tensor t = file.tensor(*v);
    if (t.is_floating_point() && t.scalar_type() != torch::kFloat) {
      converted[t.scalar_type() == torch::kHalf ? "float16" : t.scalar_type() == torch::kBFloat16 ? "bfloat16" : "float64"]++;
      t = t.to(torch::kFloat);
    }
    if (!out.tensors.emplace(name, t).second)
      throw InputError("checkpoint '" + path + "' holds '" + name + "' twice (with and without the 'module.' prefix)",
                       "save the state dict of the network itself (model.module.state_dict() for DataParallel)");
  }
  for (const auto& [type, n] : converted)
    out.conversions.push_back(std::to_string(n) + " " + type + (n == 1 ? " tensor" : " tensors") +
                              " converted to float32");
  if (out.tensors.empty())
    throw InputError("checkpoint '" + path + "' holds no model weights (" + out.layout + ")",
                     "save the model's state dict: torch.save(model.state_dict(), path)");
  return out;
}

LoadReport importCheckpoint(torch::nn::Module& module, const std::string& path, ImportedStateDict* details) {
  ImportedStateDict sd = readStateDict(path);
  LoadReport report = loadStateDict(module, sd.tensors);
  std::string notes;
  for (const auto& c : sd.conversions) notes += ", " + c;
  logger("core.io")->info("imported '{}' ({} format, {}{}{}): {}", path, sd.format, sd.layout,
                          sd.strippedModulePrefix ? ", 'module.' prefix stripped" : "", notes, report.describe());
  if (details) *details = std::move(sd);
  return report;
}

void exportStateDict(const torch::nn::Module& module, const std::string& path) {
  writeTensorFile(path, stateDict(module));
}

}  // namespace rkd
