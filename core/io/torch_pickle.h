#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rkd::pickle {

/// What a pickled value became. Nothing is ever executed: a GLOBAL names a class or function, and only the few
/// that torch.save needs (OrderedDict, the tensor rebuild functions, the typed storages) are understood; any
/// other class becomes an opaque Object that is described and skipped, never constructed.
enum class Kind {
  None,
  Bool,
  Int,
  BigInt,   ///< an integer wider than 64 bits (LONG1/LONG4), kept as its little-endian bytes
  Float,
  String,   ///< text (BINUNICODE and friends), UTF-8
  Bytes,    ///< BINBYTES / BINSTRING
  Tuple,
  List,
  Dict,     ///< dict or collections.OrderedDict, in insertion order
  Global,   ///< "module.name" of a GLOBAL that is not understood by itself
  Object,   ///< an instance of a class this reader does not construct (nn.Module, Namespace, numpy scalar...)
  Storage,  ///< a typed storage named by a persistent id: key, dtype, element count
  Tensor,   ///< a view on a storage: offset, sizes, strides
};

/// Element types of the typed storages torch.save writes.
enum class DType { Float64, Float32, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };

/// Bytes per element of a storage dtype.
int64_t elementSize(DType t);
/// "float16", "int64", ...
const char* dtypeName(DType t);

/// One value of the pickle. Values live in the Unpickled arena and point at each other with raw pointers, so
/// self-references and very deep nesting cost nothing to free (no recursive destructor).
struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                ///< String, Bytes, BigInt bytes, Global and Object class name
  std::vector<Value*> items;                    ///< Tuple, List, Object's REDUCE/NEWOBJ arguments
  std::vector<std::pair<Value*, Value*>> entries;  ///< Dict (and dict-like Objects): key, value
  Value* state = nullptr;                       ///< Object (or Dict) BUILD state, e.g. an OrderedDict's _metadata
  std::vector<Value*> appended;                 ///< Object: items added by APPEND(S) to a list-like class
  // Storage
  std::string storageKey;
  std::string location;  ///< "cpu", "cuda:0", ... (informational: everything is loaded on the CPU)
  DType dtype = DType::Float32;
  int64_t numel = 0;
  // Tensor
  Value* storage = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool parameter = false;  ///< rebuilt through torch._utils._rebuild_parameter (a pickled nn.Parameter)

  /// The string of a String value, or nullptr.
  const std::string* text() const { return kind == Kind::String ? &s : nullptr; }
  /// The value of `key` in a Dict, or nullptr.
  const Value* get(const std::string& key) const;
};

/// Limits that keep a hostile file from exhausting memory or the stack.
struct Limits {
  int64_t maxValues = 50'000'000;   ///< values created by one pickle
  int64_t maxDimensions = 64;       ///< dimensions of one tensor
};

/// A parsed pickle. Owns every Value it created.
class Unpickled {
 public:
  const Value* root() const { return m_root; }
  /// Every storage that a persistent id named, in order of first appearance.
  const std::vector<const Value*>& storages() const { return m_storages; }
  /// Bytes consumed (where the STOP opcode ended).
  size_t consumed() const { return m_consumed; }

 private:
  friend class Parser;
  std::vector<std::unique_ptr<Value>> m_arena;
  std::vector<const Value*> m_storages;
  Value* m_root = nullptr;
  size_t m_consumed = 0;
};

/// Thrown for a malformed or unsupported pickle: the message says what (opcode, offset) and why.
struct PickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses one pickle (protocols 2 to 4, what torch.save writes) from `data`, stopping at its STOP opcode.
/// `persistentIds` true: BINPERSID tuples ('storage', torch.<Type>Storage, key, location, numel[, view]) become
/// Storage values (torch.save's tensor data); false: a persistent id is an error. Throws PickleError.
Unpickled parse(const char* data, size_t size, bool persistentIds, const Limits& limits = {});

/// One-line description of a value for reports: "int 240", "float 72.5", "dict (3 entries)",
/// "tensor float32 [16, 3, 3, 3]", "argparse.Namespace".
std::string describe(const Value& v);

}  // namespace rkd::pickle
