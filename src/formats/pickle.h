// A small, safe unpickler for what torch.save writes for tensor state dicts
// (pickle protocol 2, plus the few protocol 4/5 opcodes newer writers use).
// It never executes anything: GLOBAL is limited to an allow-list (OrderedDict,
// torch's tensor rebuild helpers, torch storage classes) and REDUCE only
// "calls" those, building plain values. Anything else is an Error naming the
// opcode or global and its byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/dtype.h"

namespace emu35::pickle {

enum class Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor };

// One unpickled object. Values live in an arena owned by Document and point at
// each other with raw pointers, so shared (memoised) and even cyclic objects
// are fine and destruction is flat.
struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                  // Str text; Global "module name"; Storage key
  std::vector<Value*> items;                      // Tuple / List
  std::vector<std::pair<Value*, Value*>> entries; // Dict, in insertion order
  // Storage (a persistent-id record): element type, element count, device string.
  DType dtype = DType::F32;
  int64_t numel = 0;
  std::string location;
  // Tensor (_rebuild_tensor_v2): storage + offset/shape/strides in elements.
  const Value* storage = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> shape, stride;

  // Dict lookup by string key (last assignment wins, as in Python); nullptr when absent.
  const Value* get(std::string_view key) const;
};

std::string_view kind_name(Kind k);

class Document {
 public:
  const Value* root() const { return root_; }

 private:
  friend class Unpickler;
  std::vector<std::unique_ptr<Value>> arena_;
  const Value* root_ = nullptr;
};

// Parses a whole pickle (must end with STOP). `source` names the file in errors.
std::shared_ptr<Document> unpickle(std::string_view bytes, const std::string& source);

}  // namespace emu35::pickle
