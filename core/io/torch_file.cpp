#include "core/io/torch_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>


#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/io/zip_reader.h"

namespace rkd {
namespace fs = std::filesystem;
using pickle::Kind;
using pickle::Value;

namespace {

// data.pkl of a real network is a few MB at most; this only stops a hostile archive from claiming gigabytes.
constexpr uint64_t kMaxPickleBytes = 256ull << 20;
// A view with more elements than its storage repeats elements (zero strides: an expand()ed tensor), and is
// materialised here: without a bound, a 400-byte file declaring a 3e9-element view of one float took 12 GB.
constexpr int64_t kMaxRepeatedElements = int64_t(1) << 26;

torch::ScalarType scalarType(pickle::DType t) {
  switch (t) {
    case pickle::DType::Float64: return torch::kDouble;
    case pickle::DType::Float32: return torch::kFloat;
    case pickle::DType::Float16: return torch::kHalf;
    case pickle::DType::BFloat16: return torch::kBFloat16;
    case pickle::DType::Int64: return torch::kLong;
    case pickle::DType::Int32: return torch::kInt;
    case pickle::DType::Int16: return torch::kShort;
    case pickle::DType::Int8: return torch::kChar;
    case pickle::DType::UInt8: return torch::kByte;
    case pickle::DType::Bool: return torch::kBool;
  }
  return torch::kFloat;
}

// a * b, or false when it overflows int64.
bool mulOk(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool addOk(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }

std::string stemOf(const std::string& path) {
  fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "_state_dict.pt")).string();
}

}  // namespace

std::string resaveCommand(const std::string& path, const std::string& expression) {
  return "python3 -c \"import torch; torch.save(" + expression + ".state_dict(), '" + stemOf(path) + "')\"";
}

struct TorchSaveFile::Impl {
  std::string path;
  std::string format;
  pickle::Unpickled parsed;
  // zip format
  std::unique_ptr<ZipReader> zip;
  // legacy format: the whole file, and where each storage's bytes start in it
  std::vector<char> legacyBytes;
  std::map<std::string, size_t> legacyOffsets;
  std::map<const Value*, torch::Tensor> storages;

  [[noreturn]] void refuse(const std::string& what, const std::string& fix) const {
    throw InputError("checkpoint '" + path + "' " + what, fix);
  }
  [[noreturn]] void damaged(const std::string& what) const {
    refuse("cannot be read: " + what, "the file is truncated or damaged; copy or save it again");
  }

  pickle::Unpickled parse(const char* data, size_t size, bool persistentIds, const char* part) {
    try {
      return pickle::parse(data, size, persistentIds);
    } catch (const pickle::PickleError& e) {
      damaged(std::string(part) + ": " + e.what());
    }
  }

  void openZip() {
    format = "zip";
    try {
      zip = std::make_unique<ZipReader>(path);
    } catch (const ZipReader::ZipError& e) {
      damaged(std::string("its zip archive is not valid: ") + e.what());
    }
    for (const std::string& r : zip->names())
      if (r == "constants.pkl" || r.rfind("code/", 0) == 0)
        refuse("is a TorchScript archive (torch.jit.save), not a state dict",
               "re-save its weights as a state dict: " + resaveCommand(path, "torch.jit.load('" + path + "')"));
    if (!zip->has("data.pkl"))
      refuse("is a zip archive without data.pkl: not a file that torch.save wrote",
             "save the network's weights with torch.save(model.state_dict(), path)");
    if (zip->has("byteorder")) {
      const std::string order = record("byteorder");
      if (order != "little")
        refuse("stores its tensors " + order + "-endian", "load and re-save it with PyTorch on a little-endian machine");
    }
    if (zip->size("data.pkl") > kMaxPickleBytes) damaged("data.pkl claims " + std::to_string(zip->size("data.pkl")) + " bytes");
    const std::string data = record("data.pkl");
    parsed = parse(data.data(), data.size(), true, "data.pkl");
    if (parsed.consumed() != data.size())
      damaged("data.pkl has " + std::to_string(data.size() - parsed.consumed()) + " bytes after its end");
  }

  std::string record(const std::string& name) {
    try {
      const std::vector<char> bytes = zip->read(name);
      return std::string(bytes.begin(), bytes.end());
    } catch (const ZipReader::ZipError& e) {
      damaged(e.what());
    }
  }

  void openLegacy(std::vector<char> bytes) {
    format = "legacy (PyTorch < 1.6)";
    legacyBytes = std::move(bytes);
    const char* p = legacyBytes.data();
    size_t left = legacyBytes.size();
    auto next = [&](bool persistentIds, const char* part) {
      pickle::Unpickled u = parse(p, left, persistentIds, part);
      p += u.consumed();
      left -= u.consumed();
      return u;
    };
    next(false, "the magic number");  // checked by the caller from the first bytes
    pickle::Unpickled protocol = next(false, "the protocol version");
    if (protocol.root()->kind != Kind::Int || protocol.root()->i != 1001)
      refuse("is in a legacy format this reader does not know (protocol " + pickle::describe(*protocol.root()) + ")",
             "load it in Python and save it again with torch.save (PyTorch 1.6 or newer)");
    pickle::Unpickled sysInfo = next(false, "the system information");
    const Value* little = sysInfo.root()->get("little_endian");
    if (little && little->kind == Kind::Bool && !little->b)
      refuse("was written on a big-endian machine", "load and re-save it with PyTorch on a little-endian machine");
    parsed = next(true, "the pickle");
    pickle::Unpickled keys = next(false, "the list of storages");
    if (keys.root()->kind != Kind::List) damaged("the list of storages is a " + pickle::describe(*keys.root()));
    std::map<std::string, const Value*> byKey;
    for (const Value* s : parsed.storages()) byKey[s->storageKey] = s;
    size_t pos = legacyBytes.size() - left;
    for (const Value* key : keys.root()->items) {
      if (key->kind != Kind::String) damaged("a storage key is a " + pickle::describe(*key));
      auto it = byKey.find(key->s);
      if (it == byKey.end()) damaged("storage '" + key->s + "' is listed but no tensor uses it");
      if (legacyBytes.size() - pos < 8) damaged("the data of storage '" + key->s + "' is missing");
      int64_t numel = 0;
      std::memcpy(&numel, legacyBytes.data() + pos, 8);
      if (numel != it->second->numel)
        damaged("storage '" + key->s + "' holds " + std::to_string(numel) + " elements where its tensors expect " +
                std::to_string(it->second->numel));
      int64_t nbytes = 0;
      if (!mulOk(numel, pickle::elementSize(it->second->dtype), nbytes) ||
          static_cast<uint64_t>(nbytes) > legacyBytes.size() - pos - 8)
        damaged("the data of storage '" + key->s + "' runs past the end of the file");
      legacyOffsets[key->s] = pos + 8;
      pos += 8 + static_cast<size_t>(nbytes);
    }
  }

  torch::Tensor storage(const Value& s) {
    auto cached = storages.find(&s);
    if (cached != storages.end()) return cached->second;
    int64_t nbytes = 0;
    if (!mulOk(s.numel, pickle::elementSize(s.dtype), nbytes)) damaged("storage '" + s.storageKey + "' is too large");
    torch::Tensor t;
    if (zip) {
      const std::string name = "data/" + s.storageKey;
      if (!zip->has(name)) damaged("the data of storage '" + s.storageKey + "' (" + name + ") is missing");
      if (zip->size(name) != static_cast<uint64_t>(nbytes))
        damaged(name + " holds " + std::to_string(zip->size(name)) + " bytes where its " + std::to_string(s.numel) + " " +
                pickle::dtypeName(s.dtype) + " elements need " + std::to_string(nbytes));
      std::vector<char> bytes;
      try {
        bytes = zip->read(name);
      } catch (const ZipReader::ZipError& e) {
        damaged(e.what());
      }
      t = torch::empty({s.numel}, torch::TensorOptions().dtype(scalarType(s.dtype)));
      if (nbytes > 0) std::memcpy(t.data_ptr(), bytes.data(), static_cast<size_t>(nbytes));
    } else {
      auto it = legacyOffsets.find(s.storageKey);
      if (it == legacyOffsets.end()) damaged("the data of storage '" + s.storageKey + "' is missing");
      t = torch::empty({s.numel}, torch::TensorOptions().dtype(scalarType(s.dtype)));
      if (nbytes > 0) std::memcpy(t.data_ptr(), legacyBytes.data() + it->second, static_cast<size_t>(nbytes));
    }
    storages[&s] = t;
    return t;
  }
};

TorchSaveFile::TorchSaveFile(const std::string& path) : m(std::make_unique<Impl>()) {
  m->path = path;
  // Before anything opens it: a FIFO would block the open, a device would be read without end.
  requireRegularFile(path, "checkpoint file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open checkpoint file '" + path + "'", "check its permissions");
  char head[512] = {};
  in.read(head, sizeof head);
  const size_t got = static_cast<size_t>(in.gcount());
  if (got < 8)
    throw InputError("checkpoint file '" + path + "' is empty or truncated (" + std::to_string(got) + " bytes)",
                     "save it again with torch.save");
  const auto u = [&](size_t k) { return static_cast<unsigned char>(head[k]); };
  if (head[0] == 'P' && head[1] == 'K' && u(2) == 3 && u(3) == 4) {
    m->openZip();
    return;
  }
  // The legacy format starts with the pickle of torch's magic number 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 10.
  static const unsigned char legacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                              0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (got >= sizeof legacyMagic && std::memcmp(head, legacyMagic, sizeof legacyMagic) == 0) {
    in.clear();
    in.seekg(0, std::ios::end);
    const auto size = static_cast<size_t>(in.tellg());
    in.seekg(0);
    std::vector<char> bytes(size);
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<size_t>(in.gcount()) != size) throw InputError("cannot read '" + path + "'", "check the file");
    m->openLegacy(std::move(bytes));
    return;
  }
  const std::string loadAndSave = "load it in Python and save it again: python3 -c \"import torch; "
                                  "torch.save(torch.load('" + path + "'), '" + stemOf(path) + "')\"";
  if (got >= 262 && std::memcmp(head + 257, "ustar", 5) == 0)
    throw InputError("checkpoint '" + path + "' is in the tar format of PyTorch 0.3 and older, which is not read",
                     "with a PyTorch of version 1.x, " + loadAndSave);
  if (u(0) == 0x80)
    throw InputError("'" + path + "' is a Python pickle, but not one that torch.save wrote (no PyTorch magic number)",
                     "save the network's weights with torch.save(model.state_dict(), path)");
  if (head[8] == '{')
    throw InputError("'" + path + "' looks like a safetensors file, which is not read",
                     "convert it in Python: python3 -c \"import torch, safetensors.torch as s; torch.save(s.load_file('" +
                         path + "'), '" + stemOf(path) + "')\"");
  throw InputError("'" + path + "' is not a PyTorch checkpoint (it starts neither with a zip header nor with the "
                   "pickle of torch.save's legacy format)",
                   "save the network's weights with torch.save(model.state_dict(), path)");
}

TorchSaveFile::~TorchSaveFile() = default;

const std::string& TorchSaveFile::path() const { return m->path; }
const std::string& TorchSaveFile::format() const { return m->format; }
const pickle::Value& TorchSaveFile::root() const { return *m->parsed.root(); }

torch::Tensor TorchSaveFile::tensor(const pickle::Value& v) {
  if (v.kind != Kind::Tensor || !v.storage) throw InputError("internal: not a tensor value", "");
  const Value& s = *v.storage;
  const std::string where = "a tensor on storage '" + s.storageKey + "'";
  if (v.offset < 0) m->damaged(where + " starts at negative offset " + std::to_string(v.offset));
  int64_t numel = 1;
  int64_t last = v.offset;  // index of the view's last element
  for (size_t d = 0; d < v.sizes.size(); ++d) {
    if (v.sizes[d] < 0 || v.strides[d] < 0) m->damaged(where + " has a negative size or stride");
    if (!mulOk(numel, v.sizes[d], numel)) m->damaged(where + " has more elements than fit in 64 bits");
  }
  if (numel > 0) {
    for (size_t d = 0; d < v.sizes.size(); ++d) {
      int64_t reach = 0;
      if (!mulOk(v.sizes[d] - 1, v.strides[d], reach) || !addOk(last, reach, last))
        m->damaged(where + " reaches past any storage");
    }
    if (last >= s.numel)
      m->damaged(where + " reaches element " + std::to_string(last) + " of a storage of " + std::to_string(s.numel));
    if (numel > s.numel && numel > kMaxRepeatedElements)
      m->refuse("has a tensor on storage '" + s.storageKey + "' that repeats its " + std::to_string(s.numel) +
                    " elements to " + std::to_string(numel) + " (zero strides), more than the " +
                    std::to_string(kMaxRepeatedElements) + " elements this reader expands a repeated storage to",
                "save a copy of that tensor instead of the expanded view (tensor.clone()), or check that the file "
                "is not damaged");
  }
  torch::Tensor storage = m->storage(s);
  if (numel == 0) return torch::empty(v.sizes, storage.options());
  return storage.as_strided(v.sizes, v.strides, v.offset).clone(at::MemoryFormat::Contiguous);
}

}  // namespace rkd
