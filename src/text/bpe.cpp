#include "text/bpe.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace emu35::text {

namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();

inline uint64_t mix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// A small multiply-fold hash over 8-byte words; the table only needs good low
// bits (index) and high bits (tag).
inline uint64_t hash_bytes(const unsigned char* p, size_t n) {
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * 0x9E3779B97F4A7C15ull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h ^ w, 0x9E3779B97F4A7C15ull);
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i) w |= static_cast<uint64_t>(p[i]) << (8 * i);
  return mix(h ^ w ^ 0xA0761D6478BD642Full, 0xE7037ED1A0B428DBull);
}

}  // namespace

BpeRanks::BpeRanks(std::vector<std::string> tokens, const std::string& source) {
  const size_t n = tokens.size();
  size_t total = 0;
  for (auto& t : tokens) total += t.size();
  arena_.reserve(total);
  offsets_.reserve(n + 1);
  offsets_.push_back(0);
  for (auto& t : tokens) {
    arena_ += t;
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
  }
  tokens.clear();
  tokens.shrink_to_fit();

  size_t cap = 1024;
  while (cap < 2 * n + 2) cap *= 2;  // load factor <= 0.5 keeps probe runs short
  table_.assign(cap, Slot{0, 0});
  mask_ = cap - 1;
  byte_rank_.assign(256, -1);
  pair_rank_.assign(65536, -1);
  for (size_t r = 0; r < n; ++r) {
    std::string_view b = bytes(static_cast<int32_t>(r));
    const auto* p = reinterpret_cast<const unsigned char*>(b.data());
    const uint64_t h = hash_bytes(p, b.size());
    if (int32_t prev = lookup(p, b.size(), h); prev >= 0)
      throw Error(source + ": rank " + std::to_string(r) + " repeats the bytes of rank " + std::to_string(prev));
    uint64_t i = h & mask_;
    while (table_[i].id1) i = (i + 1) & mask_;
    table_[i] = Slot{static_cast<uint32_t>(h >> 32), static_cast<uint32_t>(r + 1)};
    max_len_ = std::max(max_len_, b.size());
    if (b.size() == 1) byte_rank_[p[0]] = static_cast<int32_t>(r);
    if (b.size() == 2) pair_rank_[p[0] * 256 + p[1]] = static_cast<int32_t>(r);
  }
  for (int c = 0; c < 256; ++c) {
    if (byte_rank_[c] < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      throw Error(source + ": byte " + hex +
                  " has no rank; byte-level BPE needs a rank for every single byte");
    }
  }
}

int32_t BpeRanks::lookup(const unsigned char* p, size_t n, uint64_t h) const {
  if (table_.empty()) return -1;
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot s = table_[i];
    if (!s.id1) return -1;
    if (s.tag == tag) {
      const uint32_t r = s.id1 - 1;
      const uint32_t a = offsets_[r], len = offsets_[r + 1] - a;
      if (len == n && std::memcmp(arena_.data() + a, p, n) == 0) return static_cast<int32_t>(r);
    }
  }
}

int32_t BpeRanks::rank(std::string_view b) const {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() == 1) return byte_rank_.empty() ? -1 : byte_rank_[p[0]];
  if (b.size() == 2) return pair_rank_.empty() ? -1 : pair_rank_[p[0] * 256 + p[1]];
  if (b.empty() || b.size() > max_len_) return -1;
  return lookup(p, b.size(), hash_bytes(p, b.size()));
}

void BpeRanks::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  // tiktoken first looks the whole piece up: most words are one token.
  if (int32_t r = rank(piece); r >= 0) {
    out.push_back(r);
    return;
  }
  if (piece.size() <= kQuadraticMax)
    merge_quadratic(piece, out);
  else
    merge_heap(piece, out);
}

void BpeRanks::merge_quadratic(std::string_view piece, std::vector<int32_t>& out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  const size_t n = piece.size();
  if (n == 0) return;
  // Part i covers bytes [start[i], start[i+1]) and is token tok[i]; rk[i] is
  // the rank of part i merged with part i+1 (= the merged token's id).
  std::array<uint32_t, kQuadraticMax + 1> start_buf;
  std::array<uint32_t, kQuadraticMax> rk_buf;
  std::array<int32_t, kQuadraticMax> tok_buf;
  std::vector<uint32_t> start_vec, rk_vec;
  std::vector<int32_t> tok_vec;
  uint32_t* start = start_buf.data();
  uint32_t* rk = rk_buf.data();
  int32_t* tok = tok_buf.data();
  if (n > kQuadraticMax) {  // only tests call this with long pieces
    start_vec.resize(n + 1), rk_vec.resize(n), tok_vec.resize(n);
    start = start_vec.data(), rk = rk_vec.data(), tok = tok_vec.data();
  }
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    tok[i] = byte_rank_[p[i]];
    rk[i] = i + 1 < n ? static_cast<uint32_t>(pair_rank_[p[i] * 256 + p[i + 1]]) : kNoRank;  // -1 -> kNoRank
  }
  start[n] = static_cast<uint32_t>(n);
  size_t m = n;  // number of parts
  auto span_rank = [&](size_t a, size_t b) -> uint32_t {
    return static_cast<uint32_t>(rank(std::string_view(piece.data() + start[a], start[b] - start[a])));
  };
  while (m > 1) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; ++i)
      if (rk[i] < best) best = rk[i], bi = i;  // strict <: leftmost minimum wins
    if (best == kNoRank) break;
    tok[bi] = static_cast<int32_t>(best);
    // Drop part bi+1: shift the tails down by one.
    std::memmove(start + bi + 1, start + bi + 2, (m - bi - 1) * sizeof(uint32_t));
    std::memmove(tok + bi + 1, tok + bi + 2, (m - bi - 2) * sizeof(int32_t));
    std::memmove(rk + bi + 1, rk + bi + 2, (m - bi - 2) * sizeof(uint32_t));
    --m;
    rk[bi] = bi + 1 < m ? span_rank(bi, bi + 2) : kNoRank;
    if (bi > 0) rk[bi - 1] = span_rank(bi - 1, bi + 1);
  }
  out.insert(out.end(), tok, tok + m);
}

void BpeRanks::merge_heap(std::string_view piece, std::vector<int32_t>& out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  const uint32_t n = static_cast<uint32_t>(piece.size());
  if (n == 0) return;
  // Parts form a linked list; node n is a sentinel whose start is n.
  struct Node {
    uint32_t start, next, prev, version;
    int32_t tok;
    bool alive;
  };
  struct Entry {
    uint32_t rank, start, node, version;
    bool operator>(const Entry& o) const { return rank != o.rank ? rank > o.rank : start > o.start; }
  };
  std::vector<Node> nodes(n + 1);
  for (uint32_t i = 0; i <= n; ++i) nodes[i] = Node{i, i + 1, i ? i - 1 : 0, 0, i < n ? byte_rank_[p[i]] : -1, true};
  auto pair_of = [&](uint32_t i) -> uint32_t {  // rank of node i merged with its successor
    uint32_t j = nodes[i].next;
    if (j >= n) return kNoRank;
    uint32_t e = nodes[j].next;
    return static_cast<uint32_t>(rank(std::string_view(piece.data() + nodes[i].start, nodes[e].start - nodes[i].start)));
  };
  std::vector<Entry> heap;
  heap.reserve(2 * n);
  auto push = [&](uint32_t i) {
    uint32_t r = pair_of(i);
    if (r != kNoRank) {
      heap.push_back(Entry{r, nodes[i].start, i, nodes[i].version});
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  };
  for (uint32_t i = 0; i + 1 < n; ++i) {
    uint32_t r = static_cast<uint32_t>(pair_rank_[p[i] * 256 + p[i + 1]]);
    if (r != kNoRank) heap.push_back(Entry{r, i, i, 0});
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  // The smallest (rank, start) among live entries is tiktoken's leftmost minimum.
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    Entry e = heap.back();
    heap.pop_back();
    Node& a = nodes[e.node];
    if (!a.alive || a.version != e.version) continue;  // stale
    Node& b = nodes[a.next];
    a.tok = static_cast<int32_t>(e.rank);
    b.alive = false;
    a.next = b.next;
    nodes[b.next].prev = e.node;
    ++a.version;
    push(e.node);
    if (a.start > 0) {  // the first part (start 0) has no predecessor
      uint32_t pv = a.prev;
      ++nodes[pv].version;
      push(pv);
    }
  }
  for (uint32_t i = 0; i < n; i = nodes[i].next) out.push_back(nodes[i].tok);
}

}  // namespace emu35::text
