// Byte-level BPE over a tiktoken rank table: a token's rank is its id, and a
// piece is encoded by repeatedly merging the adjacent pair whose concatenated
// bytes has the lowest rank (leftmost on ties), exactly as tiktoken does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emu35::text {

class BpeRanks {
 public:
  // Takes the token byte strings for ranks 0..n-1. Throws emu35::Error
  // (naming `source`) on a duplicate byte string or a missing single byte.
  BpeRanks(std::vector<std::string> tokens, const std::string& source);
  BpeRanks() = default;

  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  std::string_view bytes(int32_t rank) const {
    return {arena_.data() + offsets_[rank], offsets_[rank + 1] - offsets_[rank]};
  }
  // Rank of a byte string, or -1.
  int32_t rank(std::string_view bytes) const;

  // Appends the ids of one pre-split piece (non-empty).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  // The two merge loops, exposed so tests can check they agree on any piece.
  void merge_quadratic(std::string_view piece, std::vector<int32_t>& out) const;
  void merge_heap(std::string_view piece, std::vector<int32_t>& out) const;

  // Pieces up to this many bytes use the quadratic loop (less overhead); longer
  // ones the O(n log n) heap loop, so a long run of one symbol stays fast.
  static constexpr size_t kQuadraticMax = 48;

 private:
  struct Slot {
    uint32_t tag;   // high bits of the hash
    uint32_t id1;   // rank + 1; 0 = empty
  };
  int32_t lookup(const unsigned char* p, size_t n, uint64_t h) const;

  std::string arena_;              // all token bytes, back to back
  std::vector<uint32_t> offsets_;  // rank r = arena_[offsets_[r], offsets_[r+1])
  std::vector<Slot> table_;        // open addressing, linear probing
  uint64_t mask_ = 0;
  size_t max_len_ = 0;              // longest token: longer spans have no rank
  std::vector<int32_t> byte_rank_;  // 256: rank of each single byte
  std::vector<int32_t> pair_rank_;  // 65536: rank of each two-byte string or -1
};

}  // namespace emu35::text
