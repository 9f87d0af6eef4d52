#include "formats/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "common/error.h"

namespace emu35::pickle {

const Value* Value::get(std::string_view key) const {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (it->first->kind == Kind::Str && it->first->s == key) return it->second;
  return nullptr;
}

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

namespace {

// Opcodes (names as in CPython's pickletools).
enum Op : uint8_t {
  MARK = '(', STOP = '.', BINPERSID = 'Q', REDUCE = 'R', BUILD = 'b', GLOBAL = 'c',
  EMPTY_DICT = '}', EMPTY_LIST = ']', EMPTY_TUPLE = ')', TUPLE = 't', APPEND = 'a', APPENDS = 'e',
  SETITEM = 's', SETITEMS = 'u', BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N',
  BINUNICODE = 'X', BINFLOAT = 'G', BINPUT = 'q', LONG_BINPUT = 'r', BINGET = 'h', LONG_BINGET = 'j',
  PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89,
  LONG1 = 0x8a, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94,
  FRAME = 0x95,
};

// Callables and classes a torch tensor state dict may name, and nothing else.
enum class GlobalId { OrderedDict, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, StorageType };

struct StorageType {
  const char* name;  // "torch FloatStorage"
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch FloatStorage", DType::F32},  {"torch HalfStorage", DType::F16},
    {"torch BFloat16Storage", DType::BF16}, {"torch LongStorage", DType::I64},
    {"torch IntStorage", DType::I32},    {"torch ByteStorage", DType::U8},
    {"torch UntypedStorage", DType::U8}, {"torch.storage UntypedStorage", DType::U8},
};
// Storage classes torch writes that hold element types float32 cannot represent.
constexpr const char* kUnsupportedStorageTypes[] = {
    "torch DoubleStorage", "torch ShortStorage", "torch CharStorage", "torch BoolStorage",
    "torch ComplexFloatStorage", "torch ComplexDoubleStorage", "torch QInt8Storage",
    "torch QUInt8Storage", "torch QInt32Storage", "torch Float8_e4m3fnStorage", "torch Float8_e5m2Storage",
};

}  // namespace

class Unpickler {
 public:
  Unpickler(std::string_view bytes, const std::string& source)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), n_(bytes.size()), source_(source),
        doc_(std::make_shared<Document>()) {}

  std::shared_ptr<Document> run();

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(what + " at byte " + std::to_string(at) + " in " + source_);
  }
  const uint8_t* need(size_t k) {
    if (k > n_ - pos_) fail(pos_, "truncated pickle (" + std::to_string(k) + " more bytes expected)");
    const uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  uint64_t read_le(size_t k) {
    const uint8_t* q = need(k);
    uint64_t v = 0;
    for (size_t j = 0; j < k; ++j) v |= uint64_t(q[j]) << (8 * j);
    return v;
  }
  std::string read_line() {
    size_t start = pos_;
    while (pos_ < n_ && p_[pos_] != '\n') ++pos_;
    if (pos_ >= n_) fail(start, "truncated pickle (unterminated GLOBAL name)");
    std::string line(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return line;
  }
  Value* make(Kind k) {
    doc_->arena_.push_back(std::make_unique<Value>());
    Value* v = doc_->arena_.back().get();
    v->kind = k;
    return v;
  }
  Value* make_int(int64_t i) {
    Value* v = make(Kind::Int);
    v->i = i;
    return v;
  }
  Value* make_str(size_t len) {
    const uint8_t* q = need(len);
    Value* v = make(Kind::Str);
    v->s.assign(reinterpret_cast<const char*>(q), len);
    return v;
  }
  Value* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      fail(op_at_, "pickle stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      fail(op_at_, "pickle stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_to_mark() {
    if (marks_.empty()) fail(op_at_, "pickle MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Value* tuple_of(std::vector<Value*> items) {
    Value* t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  Value* memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail(op_at_, "pickle memo entry " + std::to_string(idx) + " is not defined");
    return it->second;
  }
  Value* global(const std::string& module, const std::string& name);
  Value* reduce(Value* callable, Value* args);
  Value* persistent_load(Value* pid);
  void build(Value* obj, Value* state);
  int64_t want_int(const Value* v, const char* what) {
    if (!v || v->kind != Kind::Int) fail(op_at_, std::string("expected an int for ") + what);
    return v->i;
  }
  std::vector<int64_t> want_int_tuple(const Value* v, const char* what) {
    if (!v || v->kind != Kind::Tuple) fail(op_at_, std::string("expected a tuple for ") + what);
    std::vector<int64_t> out;
    for (const Value* x : v->items) {
      int64_t i = want_int(x, what);
      if (i < 0) fail(op_at_, std::string("negative value in ") + what);
      out.push_back(i);
    }
    return out;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  size_t op_at_ = 0;
  std::string source_;
  std::shared_ptr<Document> doc_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::unordered_map<std::string, Value*> storages_;  // persistent ids by key: one object per storage
};

Value* Unpickler::global(const std::string& module, const std::string& name) {
  std::string full = module + " " + name;
  GlobalId id;
  DType dtype = DType::U8;
  if (full == "collections OrderedDict") {
    id = GlobalId::OrderedDict;
  } else if (full == "torch._utils _rebuild_tensor_v2") {
    id = GlobalId::RebuildTensorV2;
  } else if (full == "torch._utils _rebuild_parameter") {
    id = GlobalId::RebuildParameter;
  } else if (full == "torch._utils _rebuild_parameter_with_state") {
    id = GlobalId::RebuildParameterWithState;
  } else {
    bool found = false;
    for (const auto& st : kStorageTypes)
      if (full == st.name) {
        found = true;
        dtype = st.dtype;
      }
    if (!found) {
      for (const char* bad : kUnsupportedStorageTypes)
        if (full == bad) fail(op_at_, "unsupported tensor storage type '" + full + "' (float32, float16, bfloat16 and integer storages are read)");
      fail(op_at_, "forbidden pickle global '" + full +
                       "' (only torch tensor state dicts are loaded; nothing in the file is executed)");
    }
    id = GlobalId::StorageType;
  }
  Value* g = make(Kind::Global);
  g->s = full;
  g->i = static_cast<int64_t>(id);
  g->dtype = dtype;
  return g;
}

Value* Unpickler::persistent_load(Value* pid) {
  // torch.save: ('storage', storage_type, key, location, numel)
  if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str ||
      pid->items[0]->s != "storage")
    fail(op_at_, "unsupported persistent id (expected a torch storage record)");
  const Value* type = pid->items[1];
  if (type->kind != Kind::Global || static_cast<GlobalId>(type->i) != GlobalId::StorageType)
    fail(op_at_, "storage record without a torch storage type");
  const Value* key = pid->items[2];
  const Value* loc = pid->items[3];
  if (key->kind != Kind::Str || key->s.empty() || key->s.find('/') != std::string::npos || key->s == "." ||
      key->s == "..")
    fail(op_at_, "bad storage key in storage record");
  if (loc->kind != Kind::Str) fail(op_at_, "bad location in storage record");
  int64_t numel = want_int(pid->items[4], "storage size");
  if (numel < 0) fail(op_at_, "negative storage size");
  auto it = storages_.find(key->s);
  if (it != storages_.end()) {
    if (it->second->dtype != type->dtype || it->second->numel != numel)
      fail(op_at_, "storage '" + key->s + "' is described twice with different types or sizes");
    return it->second;
  }
  Value* st = make(Kind::Storage);
  st->s = key->s;
  st->dtype = type->dtype;
  st->numel = numel;
  st->location = loc->s;
  storages_[key->s] = st;
  return st;
}

Value* Unpickler::reduce(Value* callable, Value* args) {
  if (callable->kind != Kind::Global) fail(op_at_, "REDUCE on a " + std::string(kind_name(callable->kind)) + ", not a callable");
  if (args->kind != Kind::Tuple) fail(op_at_, "REDUCE arguments are not a tuple");
  const auto& a = args->items;
  switch (static_cast<GlobalId>(callable->i)) {
    case GlobalId::OrderedDict:
      if (!a.empty()) fail(op_at_, "OrderedDict called with arguments");
      return make(Kind::Dict);
    case GlobalId::RebuildTensorV2: {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() != 6 && a.size() != 7) fail(op_at_, "_rebuild_tensor_v2 expects 6 or 7 arguments");
      if (a[0]->kind != Kind::Storage) fail(op_at_, "_rebuild_tensor_v2 without a storage");
      Value* t = make(Kind::Tensor);
      t->storage = a[0];
      t->dtype = a[0]->dtype;
      t->offset = want_int(a[1], "storage offset");
      if (t->offset < 0) fail(op_at_, "negative storage offset");
      t->shape = want_int_tuple(a[2], "tensor size");
      t->stride = want_int_tuple(a[3], "tensor stride");
      if (t->shape.size() != t->stride.size()) fail(op_at_, "tensor size and stride differ in length");
      if (a[4]->kind != Kind::Bool) fail(op_at_, "requires_grad is not a bool");
      if (a[5]->kind != Kind::Dict && a[5]->kind != Kind::None) fail(op_at_, "backward hooks are not a dict");
      return t;
    }
    case GlobalId::RebuildParameter:
    case GlobalId::RebuildParameterWithState: {
      size_t want = static_cast<GlobalId>(callable->i) == GlobalId::RebuildParameter ? 3 : 4;
      if (a.size() != want || a[0]->kind != Kind::Tensor) fail(op_at_, "bad arguments to " + callable->s);
      return a[0];
    }
    case GlobalId::StorageType:
      fail(op_at_, "REDUCE on storage class '" + callable->s + "' is not supported");
  }
  fail(op_at_, "bad REDUCE");
}

void Unpickler::build(Value* obj, Value* state) {
  // torch state dicts are OrderedDicts carrying a `_metadata` attribute, set via
  // BUILD with a {"_metadata": ...} dict. Attributes are not needed: drop them.
  if (obj->kind == Kind::Dict && (state->kind == Kind::Dict || state->kind == Kind::None)) return;
  fail(op_at_, "unsupported BUILD on a " + std::string(kind_name(obj->kind)) + " with a " +
                   std::string(kind_name(state->kind)) + " state");
}

std::shared_ptr<Document> Unpickler::run() {
  while (true) {
    op_at_ = pos_;
    if (pos_ >= n_) fail(pos_, "truncated pickle (no STOP)");
    uint8_t op = p_[pos_++];
    switch (op) {
      case PROTO: {
        uint8_t v = *need(1);
        if (v > 5) fail(op_at_, "unsupported pickle protocol " + std::to_string(v));
        break;
      }
      case FRAME: read_le(8); break;  // framing is only a read-ahead hint
      case EMPTY_DICT: stack_.push_back(make(Kind::Dict)); break;
      case EMPTY_LIST: stack_.push_back(make(Kind::List)); break;
      case EMPTY_TUPLE: stack_.push_back(make(Kind::Tuple)); break;
      case MARK: marks_.push_back(stack_.size()); break;
      case TUPLE: stack_.push_back(tuple_of(pop_to_mark())); break;
      case TUPLE1: case TUPLE2: case TUPLE3: {
        size_t k = op - TUPLE1 + 1;
        std::vector<Value*> items(k);
        for (size_t j = k; j-- > 0;) items[j] = pop();
        stack_.push_back(tuple_of(std::move(items)));
        break;
      }
      case BININT: stack_.push_back(make_int(static_cast<int32_t>(static_cast<uint32_t>(read_le(4))))); break;
      case BININT1: stack_.push_back(make_int(static_cast<int64_t>(read_le(1)))); break;
      case BININT2: stack_.push_back(make_int(static_cast<int64_t>(read_le(2)))); break;
      case LONG1: {
        size_t k = *need(1);
        if (k > 8) fail(op_at_, "integer wider than 64 bits");
        uint64_t u = k ? read_le(k) : 0;
        if (k > 0 && k < 8 && (u >> (8 * k - 1)) & 1) u |= ~uint64_t(0) << (8 * k);  // sign-extend
        stack_.push_back(make_int(static_cast<int64_t>(u)));
        break;
      }
      case BINUNICODE: stack_.push_back(make_str(read_le(4))); break;
      case SHORT_BINUNICODE: stack_.push_back(make_str(read_le(1))); break;
      case BINUNICODE8: stack_.push_back(make_str(read_le(8))); break;
      case BINFLOAT: {
        const uint8_t* q = need(8);
        uint64_t u = 0;
        for (int j = 0; j < 8; ++j) u = (u << 8) | q[j];  // big-endian
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        stack_.push_back(v);
        break;
      }
      case NEWTRUE: case NEWFALSE: {
        Value* v = make(Kind::Bool);
        v->b = op == NEWTRUE;
        stack_.push_back(v);
        break;
      }
      case NONE: stack_.push_back(make(Kind::None)); break;
      case BINPUT: memo_put(read_le(1)); break;
      case LONG_BINPUT: memo_put(read_le(4)); break;
      case MEMOIZE: memo_put(memo_.size()); break;
      case BINGET: stack_.push_back(memo_get(read_le(1))); break;
      case LONG_BINGET: stack_.push_back(memo_get(read_le(4))); break;
      case SETITEM: {
        Value* v = pop();
        Value* k = pop();
        Value* d = top();
        if (d->kind != Kind::Dict) fail(op_at_, "SETITEM on a " + std::string(kind_name(d->kind)));
        d->entries.emplace_back(k, v);
        break;
      }
      case SETITEMS: {
        std::vector<Value*> kv = pop_to_mark();
        Value* d = top();
        if (d->kind != Kind::Dict) fail(op_at_, "SETITEMS on a " + std::string(kind_name(d->kind)));
        if (kv.size() % 2) fail(op_at_, "SETITEMS with an odd number of items");
        for (size_t j = 0; j < kv.size(); j += 2) d->entries.emplace_back(kv[j], kv[j + 1]);
        break;
      }
      case APPEND: {
        Value* v = pop();
        Value* l = top();
        if (l->kind != Kind::List) fail(op_at_, "APPEND on a " + std::string(kind_name(l->kind)));
        l->items.push_back(v);
        break;
      }
      case APPENDS: {
        std::vector<Value*> vs = pop_to_mark();
        Value* l = top();
        if (l->kind != Kind::List) fail(op_at_, "APPENDS on a " + std::string(kind_name(l->kind)));
        l->items.insert(l->items.end(), vs.begin(), vs.end());
        break;
      }
      case GLOBAL: {
        std::string module = read_line();
        std::string name = read_line();
        stack_.push_back(global(module, name));
        break;
      }
      case STACK_GLOBAL: {
        Value* name = pop();
        Value* module = pop();
        if (name->kind != Kind::Str || module->kind != Kind::Str) fail(op_at_, "STACK_GLOBAL needs two strings");
        stack_.push_back(global(module->s, name->s));
        break;
      }
      case REDUCE: {
        Value* args = pop();
        Value* callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case BUILD: {
        Value* state = pop();
        build(top(), state);
        break;
      }
      case BINPERSID: stack_.push_back(persistent_load(pop())); break;
      case STOP: {
        if (stack_.size() != 1 || !marks_.empty()) fail(op_at_, "pickle STOP with a malformed stack");
        if (pos_ != n_) fail(pos_, "trailing bytes after pickle STOP");
        doc_->root_ = stack_.back();
        return doc_;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(op_at_, std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

std::shared_ptr<Document> unpickle(std::string_view bytes, const std::string& source) {
  return Unpickler(bytes, source).run();
}

}  // namespace emu35::pickle
