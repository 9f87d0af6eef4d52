// Float32 K/V caches, one slot per sequence, preallocated to the slot's capacity.
// Layout per slot: [layer][K|V][kv_head][capacity][head_dim], so one head's keys for
// all positions are contiguous (the attention inner loop walks them in order).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace emu35::lm {

class KvSlot {
 public:
  KvSlot(int layers, int kv_heads, int head_dim, int capacity);  // Error when memory runs out
  float* k(int layer, int head) { return base(layer, 0, head); }
  float* v(int layer, int head) { return base(layer, 1, head); }
  const float* k(int layer, int head) const { return const_cast<KvSlot*>(this)->k(layer, head); }
  const float* v(int layer, int head) const { return const_cast<KvSlot*>(this)->v(layer, head); }
  int capacity() const { return capacity_; }
  int length = 0;  // positions filled

 private:
  float* base(int layer, int kv, int head) {
    return data_.get() + ((static_cast<size_t>(layer) * 2 + kv) * kv_heads_ + head) * head_stride_;
  }
  int kv_heads_, capacity_;
  size_t head_stride_;  // capacity * head_dim
  std::unique_ptr<float[]> data_;
};

class KvCache {
 public:
  KvCache(int layers, int kv_heads, int head_dim) : layers_(layers), kv_heads_(kv_heads), head_dim_(head_dim) {}
  int allocate(int capacity);  // reuses freed slot numbers
  void release(int slot);      // Error for an unknown slot
  bool valid(int slot) const;
  KvSlot& at(int slot);        // Error for an unknown slot
  const KvSlot& at(int slot) const;
  size_t bytes_per_token() const { return static_cast<size_t>(layers_) * 2 * kv_heads_ * head_dim_ * sizeof(float); }

 private:
  int layers_, kv_heads_, head_dim_;
  std::vector<std::unique_ptr<KvSlot>> slots_;
};

}  // namespace emu35::lm
