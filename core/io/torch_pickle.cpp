// A strict reader for the subset of Python's pickle that torch.save writes (protocol 2 by default; 3 and 4 are
// read too). It never executes anything: classes are names, and only OrderedDict, the tensor rebuild functions
// and the typed storages are given a meaning. Bounded: every read is checked against the buffer, values are
// counted, and values live in one arena (no recursion anywhere, so deep or self-referencing pickles are safe).
#include "core/io/torch_pickle.h"

#include <cstring>
#include <sstream>
#include <unordered_map>

namespace rkd::pickle {

int64_t elementSize(DType t) {
  switch (t) {
    case DType::Float64: case DType::Int64: return 8;
    case DType::Float32: case DType::Int32: return 4;
    case DType::Float16: case DType::BFloat16: case DType::Int16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: return 1;
  }
  return 1;
}

const char* dtypeName(DType t) {
  switch (t) {
    case DType::Float64: return "float64";
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::Int16: return "int16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

const Value* Value::get(const std::string& key) const {
  const Value* found = nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::String && k->s == key) found = v;
  return found;
}

namespace {

bool storageDType(const std::string& global, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"torch.DoubleStorage", DType::Float64}, {"torch.FloatStorage", DType::Float32},
      {"torch.HalfStorage", DType::Float16},   {"torch.BFloat16Storage", DType::BFloat16},
      {"torch.LongStorage", DType::Int64},     {"torch.IntStorage", DType::Int32},
      {"torch.ShortStorage", DType::Int16},    {"torch.CharStorage", DType::Int8},
      {"torch.ByteStorage", DType::UInt8},     {"torch.BoolStorage", DType::Bool},
      {"torch.UntypedStorage", DType::UInt8},  {"torch.storage.UntypedStorage", DType::UInt8},
  };
  for (const auto& [name, t] : table)
    if (global == name) {
      out = t;
      return true;
    }
  return false;
}

}  // namespace

// Nested torch._tensor._rebuild_from_type_v2 calls followed (torch.save writes one).
constexpr int kMaxRebuildWrappers = 4;

class Parser {
 public:
  Parser(const char* data, size_t size, bool persistentIds, const Limits& limits)
      : m_data(reinterpret_cast<const unsigned char*>(data)), m_size(size), m_persistentIds(persistentIds),
        m_limits(limits) {}

  Unpickled run() {
    while (true) {
      m_opStart = m_pos;
      const unsigned char op = byte();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (m_stack.size() != 1) fail("the pickle ends with " + std::to_string(m_stack.size()) + " values on its stack");
    m_out.m_root = m_stack.back();
    m_out.m_consumed = m_pos;
    return std::move(m_out);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw PickleError("pickle byte " + std::to_string(m_opStart) + ": " + why);
  }

  void need(size_t n) const {
    if (n > m_size - m_pos) fail("the data ends in the middle of an opcode (the file is truncated or damaged)");
  }
  unsigned char byte() {
    need(1);
    return m_data[m_pos++];
  }
  uint64_t littleEndian(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(m_data[m_pos + k]) << (8 * k);
    m_pos += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > m_size - m_pos) fail("a string of " + std::to_string(n) + " bytes runs past the end of the data");
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), static_cast<size_t>(n));
    m_pos += static_cast<size_t>(n);
    return s;
  }
  std::string line() {
    size_t end = m_pos;
    while (end < m_size && m_data[end] != '\n' && end - m_pos < 4096) ++end;
    if (end >= m_size || m_data[end] != '\n') fail("a text argument has no end of line");
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), end - m_pos);
    m_pos = end + 1;
    return s;
  }

  Value* make(Kind k) {
    if (static_cast<int64_t>(m_out.m_arena.size()) >= m_limits.maxValues)
      fail("more than " + std::to_string(m_limits.maxValues) + " values: not a checkpoint this reader accepts");
    m_out.m_arena.push_back(std::make_unique<Value>());
    m_out.m_arena.back()->kind = k;
    return m_out.m_arena.back().get();
  }
  Value* makeInt(int64_t v) {
    Value* x = make(Kind::Int);
    x->i = v;
    return x;
  }
  void push(Value* v) { m_stack.push_back(v); }
  Value* pop() {
    if (m_stack.empty() || (!m_marks.empty() && m_stack.size() == m_marks.back()))
      fail("an opcode needs a value and the stack is empty");
    Value* v = m_stack.back();
    m_stack.pop_back();
    return v;
  }
  Value* top() {
    if (m_stack.empty() || (!m_marks.empty() && m_stack.size() == m_marks.back()))
      fail("an opcode needs a value and the stack is empty");
    return m_stack.back();
  }
  std::vector<Value*> popMark() {
    if (m_marks.empty()) fail("an opcode needs a MARK and there is none");
    const size_t at = m_marks.back();
    m_marks.pop_back();
    std::vector<Value*> items(m_stack.begin() + static_cast<std::ptrdiff_t>(at), m_stack.end());
    m_stack.resize(at);
    return items;
  }
  Value* tupleOf(std::vector<Value*> items) {
    Value* t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void memoPut(uint64_t index) { m_memo[index] = top(); }
  void memoGet(uint64_t index) {
    auto it = m_memo.find(index);
    if (it == m_memo.end()) fail("memo entry " + std::to_string(index) + " is read before it is written");
    push(it->second);
  }

  // Python dict semantics: a repeated key keeps its first position and takes the last value.
  void setItem(Value* target, Value* key, Value* value) {
    if (target->kind != Kind::Dict && target->kind != Kind::Object)
      fail("SETITEM on a " + describe(*target) + ", which is not a dict");
    if (key->kind == Kind::String || key->kind == Kind::Int) {
      auto& index = m_dictIndex[target];
      const std::string k = key->kind == Kind::String ? "s" + key->s : "i" + std::to_string(key->i);
      auto [it, inserted] = index.emplace(k, target->entries.size());
      if (!inserted) {
        target->entries[it->second].second = value;
        return;
      }
    }
    target->entries.emplace_back(key, value);
  }
  void appendTo(Value* target, Value* item) {
    if (target->kind == Kind::List)
      target->items.push_back(item);
    else if (target->kind == Kind::Object)
      target->appended.push_back(item);
    else
      fail("APPEND on a " + describe(*target) + ", which is not a list");
  }

  static int64_t intArg(const Value* v, const char* what, const Parser& p) {
    if (v->kind != Kind::Int) p.fail(std::string(what) + " is a " + describe(*v) + ", not an integer");
    return v->i;
  }
  std::vector<int64_t> intTuple(const Value* v, const char* what) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List) fail(std::string(what) + " is not a tuple of integers");
    if (static_cast<int64_t>(v->items.size()) > m_limits.maxDimensions)
      fail(std::string(what) + " has " + std::to_string(v->items.size()) + " dimensions");
    std::vector<int64_t> out;
    for (const Value* x : v->items) out.push_back(intArg(x, what, *this));
    return out;
  }

  // torch._utils._rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...)
  Value* rebuildTensor(const std::vector<Value*>& args) {
    if (args.size() < 4) fail("a tensor is rebuilt from " + std::to_string(args.size()) + " arguments, not 4 or more");
    if (args[0]->kind != Kind::Storage) fail("a tensor's first argument is a " + describe(*args[0]) + ", not a storage");
    Value* t = make(Kind::Tensor);
    t->storage = args[0];
    t->offset = intArg(args[1], "a tensor's storage offset", *this);
    t->sizes = intTuple(args[2], "a tensor's size");
    t->strides = intTuple(args[3], "a tensor's stride");
    if (t->sizes.size() != t->strides.size())
      fail("a tensor has " + std::to_string(t->sizes.size()) + " sizes and " + std::to_string(t->strides.size()) +
           " strides");
    return t;
  }

  // What a call of `callable` with `args` gives, without calling anything. `wrapped`: how many
  // _rebuild_from_type_v2 calls this one is inside.
  Value* reduce(Value* callable, Value* args, int wrapped = 0) {
    if (callable->kind != Kind::Global) fail("REDUCE calls a " + describe(*callable) + ", not a class or function");
    if (args->kind != Kind::Tuple) fail("REDUCE arguments are a " + describe(*args) + ", not a tuple");
    const std::string& name = callable->s;
    if (name == "collections.OrderedDict") {
      Value* d = make(Kind::Dict);
      if (!args->items.empty() && args->items[0]->kind == Kind::List)
        for (Value* pair : args->items[0]->items)
          if (pair->kind == Kind::Tuple && pair->items.size() == 2) setItem(d, pair->items[0], pair->items[1]);
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
      return rebuildTensor(args->items);
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args->items.empty() || args->items[0]->kind != Kind::Tensor) fail("a parameter is rebuilt without a tensor");
      Value* t = make(Kind::Tensor);
      *t = *args->items[0];
      t->parameter = true;
      return t;
    }
    if (name == "torch._tensor._rebuild_from_type_v2" && args->items.size() >= 3 &&
        args->items[2]->kind == Kind::Tuple) {
      // torch.save wraps a tensor's rebuild call in this once (a tensor subclass, a Parameter). A chain of them
      // is no real file, and following a long one at every REDUCE that names it let a 1.5 MB pickle keep the
      // reader busy for minutes (10^5 links x 10^5 calls).
      if (wrapped >= kMaxRebuildWrappers)
        fail("_rebuild_from_type_v2 calls nested more than " + std::to_string(kMaxRebuildWrappers) +
             " deep (torch.save nests one)");
      return reduce(args->items[0], args->items[2], wrapped + 1);
    }
    // LibTorch's own pickler (torch::pickle_save) tags typed containers and lists; the value is the argument.
    if ((name == "torch.jit._pickle.restore_type_tag" || name == "torch.jit._pickle.build_intlist" ||
         name == "torch.jit._pickle.build_doublelist" || name == "torch.jit._pickle.build_boollist" ||
         name == "torch.jit._pickle.build_tensorlist") &&
        !args->items.empty())
      return args->items[0];
    if (name == "torch.Size" && args->items.size() == 1 && args->items[0]->kind == Kind::Tuple) return args->items[0];
    if (name == "_codecs.encode" && !args->items.empty() && args->items[0]->kind == Kind::String) {
      // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1'): undo the UTF-8 of the text.
      Value* b = make(Kind::Bytes);
      const std::string& u = args->items[0]->s;
      for (size_t k = 0; k < u.size(); ++k) {
        unsigned char c = static_cast<unsigned char>(u[k]);
        if (c >= 0xC0 && k + 1 < u.size()) {
          b->s.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(u[k + 1]) & 0x3F)));
          ++k;
        } else {
          b->s.push_back(static_cast<char>(c));
        }
      }
      return b;
    }
    Value* o = make(Kind::Object);
    o->s = name;
    o->items = args->items;
    return o;
  }

  Value* persistent(Value* pid) {
    if (!m_persistentIds) fail("a persistent id where none is allowed (this is not a torch.save file)");
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Kind::String ||
        pid->items[0]->s != "storage")
      fail("a persistent id that is not ('storage', type, key, location, size)");
    const auto& it = pid->items;
    if (it[1]->kind != Kind::Global) fail("a storage whose type is a " + describe(*it[1]));
    DType dtype;
    if (!storageDType(it[1]->s, dtype))
      fail("a storage of type " + it[1]->s + ", which this reader does not load (floating and integer storages only)");
    if (it[2]->kind != Kind::String) fail("a storage whose key is a " + describe(*it[2]));
    if (it[3]->kind != Kind::String) fail("a storage whose location is a " + describe(*it[3]));
    const int64_t numel = intArg(it[4], "a storage's size", *this);
    if (numel < 0) fail("a storage of negative size " + std::to_string(numel));
    if (it.size() > 5 && it[5]->kind != Kind::None)
      fail("a storage view (saved by a PyTorch older than 1.0); load and re-save the file with a current PyTorch");
    auto found = m_storageByKey.find(it[2]->s);
    if (found != m_storageByKey.end()) {
      if (found->second->dtype != dtype || found->second->numel != numel)
        fail("storage '" + it[2]->s + "' is named twice with different types or sizes");
      return found->second;
    }
    Value* s = make(Kind::Storage);
    s->storageKey = it[2]->s;
    s->location = it[3]->s;
    s->dtype = dtype;
    s->numel = numel;
    m_storageByKey[s->storageKey] = s;
    m_out.m_storages.push_back(s);
    return s;
  }

  void step(unsigned char op) {
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned char v = byte();
        if (v > 5) fail("pickle protocol " + std::to_string(v) + " is newer than this reader knows");
        break;
      }
      case 0x95: littleEndian(8); break;  // FRAME: a length hint only
      case '(': m_marks.push_back(m_stack.size()); break;
      case '0': pop(); break;
      case '1': popMark(); break;
      case '2': push(top()); break;
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
        Value* v = make(Kind::Bool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J': push(makeInt(static_cast<int32_t>(littleEndian(4)))); break;
      case 'K': push(makeInt(static_cast<int64_t>(littleEndian(1)))); break;
      case 'M': push(makeInt(static_cast<int64_t>(littleEndian(2)))); break;
      case 'I': {  // INT (text): also how protocol 0 writes True/False
        const std::string s = line();
        if (s == "01" || s == "00") {
          Value* v = make(Kind::Bool);
          v->b = s == "01";
          push(v);
        } else {
          try {
            push(makeInt(std::stoll(s)));
          } catch (const std::exception&) {
            fail("INT '" + s + "' is not a 64-bit integer");
          }
        }
        break;
      }
      case 0x8a: case 0x8b: {  // LONG1, LONG4
        const uint64_t n = op == 0x8a ? littleEndian(1) : littleEndian(4);
        const std::string raw = bytes(n);
        if (n <= 8) {
          uint64_t v = 0;
          for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[k])) << (8 * k);
          if (n > 0 && n < 8 && (static_cast<unsigned char>(raw[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);
          push(makeInt(static_cast<int64_t>(v)));
        } else {
          Value* v = make(Kind::BigInt);
          v->s = raw;
          push(v);
        }
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | m_data[m_pos + k];
        m_pos += 8;
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &bits, sizeof v->f);
        push(v);
        break;
      }
      case 'F': {
        const std::string s = line();
        Value* v = make(Kind::Float);
        try {
          v->f = std::stod(s);
        } catch (const std::exception&) {
          fail("FLOAT '" + s + "' is not a number");
        }
        push(v);
        break;
      }
      case 'X': case 0x8c: case 0x8d: {  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        const uint64_t n = op == 'X' ? littleEndian(4) : op == 0x8c ? littleEndian(1) : littleEndian(8);
        Value* v = make(Kind::String);
        v->s = bytes(n);
        push(v);
        break;
      }
      case 'T': case 'U': case 'B': case 'C': case 0x8e: {  // BINSTRING, SHORT_BINSTRING, BINBYTES(8), SHORT_BINBYTES
        const uint64_t n = (op == 'U' || op == 'C') ? littleEndian(1) : op == 0x8e ? littleEndian(8) : littleEndian(4);
        Value* v = make(Kind::Bytes);
        v->s = bytes(n);
        push(v);
        break;
      }
      case ')': push(make(Kind::Tuple)); break;
      case 't': push(tupleOf(popMark())); break;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t n = static_cast<size_t>(op - 0x84);
        std::vector<Value*> items(n);
        for (size_t k = n; k-- > 0;) items[k] = pop();
        push(tupleOf(std::move(items)));
        break;
      }
      case ']': push(make(Kind::List)); break;
      case 'l': {
        Value* l = make(Kind::List);
        l->items = popMark();
        push(l);
        break;
      }
      case 'a': {
        Value* item = pop();
        appendTo(top(), item);
        break;
      }
      case 'e': {
        std::vector<Value*> items = popMark();
        Value* target = top();
        for (Value* item : items) appendTo(target, item);
        break;
      }
      case '}': push(make(Kind::Dict)); break;
      case 'd': {
        std::vector<Value*> items = popMark();
        if (items.size() % 2) fail("DICT with an odd number of keys and values");
        Value* d = make(Kind::Dict);
        for (size_t k = 0; k < items.size(); k += 2) setItem(d, items[k], items[k + 1]);
        push(d);
        break;
      }
      case 's': {
        Value* value = pop();
        Value* key = pop();
        setItem(top(), key, value);
        break;
      }
      case 'u': {
        std::vector<Value*> items = popMark();
        if (items.size() % 2) fail("SETITEMS with an odd number of keys and values");
        Value* target = top();
        for (size_t k = 0; k < items.size(); k += 2) setItem(target, items[k], items[k + 1]);
        break;
      }
      case 0x8f: {  // EMPTY_SET
        Value* o = make(Kind::Object);
        o->s = "builtins.set";
        push(o);
        break;
      }
      case 0x90: {  // ADDITEMS
        std::vector<Value*> items = popMark();
        Value* target = top();
        for (Value* item : items) appendTo(target, item);
        break;
      }
      case 0x91: {  // FROZENSET
        Value* o = make(Kind::Object);
        o->s = "builtins.frozenset";
        o->appended = popMark();
        push(o);
        break;
      }
      case 'h': memoGet(littleEndian(1)); break;
      case 'j': memoGet(littleEndian(4)); break;
      case 'g': {
        const std::string s = line();
        try {
          memoGet(std::stoull(s));
        } catch (const std::invalid_argument&) {
          fail("GET '" + s + "' is not an index");
        } catch (const std::out_of_range&) {
          fail("GET '" + s + "' is not an index");
        }
        break;
      }
      case 'q': memoPut(littleEndian(1)); break;
      case 'r': memoPut(littleEndian(4)); break;
      case 'p': {
        const std::string s = line();
        try {
          memoPut(std::stoull(s));
        } catch (const std::exception&) {
          fail("PUT '" + s + "' is not an index");
        }
        break;
      }
      case 0x94: memoPut(m_memo.size()); break;  // MEMOIZE
      case 'c': {  // GLOBAL module\nname\n
        std::string module = line();
        std::string name = line();
        if (module == "__builtin__") module = "builtins";
        Value* g = make(Kind::Global);
        g->s = module + "." + name;
        push(g);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL without two strings");
        Value* g = make(Kind::Global);
        g->s = module->s + "." + name->s;
        push(g);
        break;
      }
      case 'R': {
        Value* args = pop();
        Value* callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 0x81: case 0x92: {  // NEWOBJ, NEWOBJ_EX
        if (op == 0x92) pop();  // keyword arguments
        Value* args = pop();
        Value* cls = pop();
        if (cls->kind != Kind::Global) fail("NEWOBJ of a " + describe(*cls) + ", not a class");
        if (cls->s == "collections.OrderedDict") {
          push(make(Kind::Dict));
          break;
        }
        Value* o = make(Kind::Object);
        o->s = cls->s;
        if (args->kind == Kind::Tuple) o->items = args->items;
        push(o);
        break;
      }
      case 'b': {  // BUILD: the state of an object (an OrderedDict's _metadata, an nn.Module's __dict__)
        Value* state = pop();
        top()->state = state;
        break;
      }
      case 'Q': {
        Value* pid = pop();
        push(persistent(pid));
        break;
      }
      case 'P': fail("a text persistent id (protocol 0), which torch.save does not write");
      case 0x82: case 0x83: case 0x84: fail("an extension-registry opcode (EXT), which torch.save does not write");
      case 0x96: case 0x97: case 0x98: fail("an out-of-band buffer (pickle protocol 5), which torch.save does not write");
      default: {
        std::ostringstream s;
        s << "opcode 0x" << std::hex << static_cast<int>(op) << " is not one that torch.save writes";
        fail(s.str());
      }
    }
  }

  const unsigned char* m_data;
  size_t m_size;
  size_t m_pos = 0;
  size_t m_opStart = 0;
  bool m_persistentIds;
  Limits m_limits;
  Unpickled m_out;
  std::vector<Value*> m_stack;
  std::vector<size_t> m_marks;
  std::unordered_map<uint64_t, Value*> m_memo;
  std::unordered_map<std::string, Value*> m_storageByKey;
  std::unordered_map<const Value*, std::unordered_map<std::string, size_t>> m_dictIndex;
};

Unpickled parse(const char* data, size_t size, bool persistentIds, const Limits& limits) {
  return Parser(data, size, persistentIds, limits).run();
}

std::string describe(const Value& v) {
  std::ostringstream s;
  switch (v.kind) {
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "bool True" : "bool False";
    case Kind::Int: return "int " + std::to_string(v.i);
    case Kind::BigInt: return "int (" + std::to_string(v.s.size() * 8) + " bits)";
    case Kind::Float: s << "float " << v.f; return s.str();
    case Kind::String: return "str '" + (v.s.size() > 40 ? v.s.substr(0, 40) + "...'" : v.s + "'");
    case Kind::Bytes: return "bytes (" + std::to_string(v.s.size()) + ")";
    case Kind::Tuple: return "tuple (" + std::to_string(v.items.size()) + " items)";
    case Kind::List: return "list (" + std::to_string(v.items.size()) + " items)";
    case Kind::Dict: return "dict (" + std::to_string(v.entries.size()) + " entries)";
    case Kind::Global: return v.s;
    case Kind::Object: return v.s;
    case Kind::Storage: return std::string("storage ") + dtypeName(v.dtype) + " (" + std::to_string(v.numel) + ")";
    case Kind::Tensor: {
      s << "tensor " << (v.storage ? dtypeName(v.storage->dtype) : "?") << " [";
      for (size_t k = 0; k < v.sizes.size(); ++k) s << (k ? ", " : "") << v.sizes[k];
      s << "]";
      return s.str();
    }
  }
  return "?";
}

}  // namespace rkd::pickle
