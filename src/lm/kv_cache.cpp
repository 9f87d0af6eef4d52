#include "lm/kv_cache.h"

#include <new>
#include <string>

#include "common/error.h"

namespace emu35::lm {

KvSlot::KvSlot(int layers, int kv_heads, int head_dim, int capacity)
    : kv_heads_(kv_heads), capacity_(capacity),
      head_stride_(static_cast<size_t>(capacity) * head_dim) {
  const size_t n = static_cast<size_t>(layers) * 2 * kv_heads * head_stride_;
  // Left uninitialised on purpose: only positions < length are ever read, and untouched
  // pages cost no memory for slots that never fill up.
  data_.reset(new (std::nothrow) float[n]);
  if (!data_)
    throw Error("KV cache: out of memory allocating " + std::to_string(n * sizeof(float) >> 20) + " MiB for " +
                std::to_string(capacity) + " tokens");
}

int KvCache::allocate(int capacity) {
  auto slot = std::make_unique<KvSlot>(layers_, kv_heads_, head_dim_, capacity);
  for (size_t i = 0; i < slots_.size(); ++i)
    if (!slots_[i]) {
      slots_[i] = std::move(slot);
      return static_cast<int>(i);
    }
  slots_.push_back(std::move(slot));
  return static_cast<int>(slots_.size() - 1);
}

bool KvCache::valid(int slot) const {
  return slot >= 0 && static_cast<size_t>(slot) < slots_.size() && slots_[static_cast<size_t>(slot)];
}

void KvCache::release(int slot) {
  check(valid(slot), "KV cache: slot " + std::to_string(slot) + " is not allocated");
  slots_[static_cast<size_t>(slot)].reset();
}

KvSlot& KvCache::at(int slot) {
  check(valid(slot), "KV cache: slot " + std::to_string(slot) + " is not allocated");
  return *slots_[static_cast<size_t>(slot)];
}

const KvSlot& KvCache::at(int slot) const { return const_cast<KvCache*>(this)->at(slot); }

}  // namespace emu35::lm
