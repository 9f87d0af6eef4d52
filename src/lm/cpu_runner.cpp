#include "lm/cpu_runner.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

#include "common/error.h"

namespace emu35::lm {

namespace {

const LmWeights& require(const std::shared_ptr<const LmWeights>& w) {
  check(w != nullptr, "make_cpu_runner: no weights given");
  return *w;
}

// The CPUs this process may run on (its affinity mask), not every CPU of the host.
int default_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

CpuRunner::CpuRunner(std::shared_ptr<const LmWeights> weights, const CpuRunnerOptions& opts)
    : weights_(std::move(weights)),
      pool_(opts.num_threads > 0 ? opts.num_threads : default_threads()),
      max_chunk_(opts.max_chunk_tokens > 0 ? opts.max_chunk_tokens : kDefaultMaxChunkTokens),
      mm_(pool_, opts.gemm_min_rows > 0 ? opts.gemm_min_rows : Matmul::kDefaultGemmMinRows),
      rope_(static_cast<int>(require(weights_).config().head_dim), weights_->config().rope_theta),
      cache_(static_cast<int>(weights_->config().num_hidden_layers),
             static_cast<int>(weights_->config().num_key_value_heads), static_cast<int>(weights_->config().head_dim)),
      scores_(static_cast<size_t>(pool_.size())) {}

int CpuRunner::new_slot(int max_tokens) {
  const int64_t maxpos = config().max_position_embeddings;
  check(max_tokens >= 1, "new_slot: max_tokens must be at least 1, got " + std::to_string(max_tokens));
  check(max_tokens <= maxpos, "new_slot: " + std::to_string(max_tokens) +
                                  " tokens exceed the model's max_position_embeddings (" +
                                  std::to_string(maxpos) + ")");
  return cache_.allocate(max_tokens);
}

void CpuRunner::free_slot(int slot) { cache_.release(slot); }
int CpuRunner::slot_length(int slot) const { return cache_.at(slot).length; }
int CpuRunner::slot_capacity(int slot) const { return cache_.at(slot).capacity(); }

void CpuRunner::validate(std::span<const LmRow> rows) const {
  const int64_t V = config().vocab_size, maxpos = config().max_position_embeddings;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string where = "forward: row " + std::to_string(r) + " (slot " + std::to_string(rows[r].slot) + ")";
    check(cache_.valid(rows[r].slot), where + ": slot is not allocated");
    for (size_t o = 0; o < r; ++o)
      check(rows[o].slot != rows[r].slot,
            where + ": slot already used by row " + std::to_string(o) + " of this batch");
    check(!rows[r].tokens.empty(), where + ": no tokens");
    for (size_t i = 0; i < rows[r].tokens.size(); ++i) {
      const int32_t id = rows[r].tokens[i];
      check(id >= 0 && id < V, where + ": token id " + std::to_string(id) + " at index " + std::to_string(i) +
                                   " is outside the vocabulary [0, " + std::to_string(V) + ")");
    }
    const KvSlot& s = cache_.at(rows[r].slot);
    const int64_t want = static_cast<int64_t>(s.length) + static_cast<int64_t>(rows[r].tokens.size());
    check(want <= maxpos, where + ": the sequence would be " + std::to_string(want) +
                              " tokens long, beyond max_position_embeddings (" + std::to_string(maxpos) + ")");
    check(want <= s.capacity(), where + ": the sequence would be " + std::to_string(want) +
                                    " tokens long, beyond the slot's capacity (" + std::to_string(s.capacity()) + ")");
  }
}

void CpuRunner::forward(std::span<const LmRow> rows, float* logits) {
  check(logits != nullptr || rows.empty(), "forward: no logits buffer given");
  forward_all(rows, logits, nullptr, nullptr);
}

void CpuRunner::forward_all(std::span<const LmRow> rows, float* logits, std::vector<float>* hidden_all,
                            std::vector<float>* logits_all) {
  validate(rows);
  std::vector<Tok> toks;
  for (size_t r = 0; r < rows.size(); ++r) {
    const int base = cache_.at(rows[r].slot).length;
    const size_t n = rows[r].tokens.size();
    for (size_t i = 0; i < n; ++i)
      toks.push_back({rows[r].slot, base + static_cast<int>(i), rows[r].tokens[i], static_cast<int>(r), i + 1 == n});
  }
  const size_t T = toks.size();
  if (hidden_all) hidden_all->assign(T * static_cast<size_t>(config().hidden_size), 0.0f);
  if (logits_all) logits_all->assign(T * static_cast<size_t>(config().vocab_size), 0.0f);
  const size_t chunk = static_cast<size_t>(max_chunk_);
  for (size_t c0 = 0; c0 < T; c0 += chunk)
    run_chunk(std::span<const Tok>(toks).subspan(c0, std::min(chunk, T - c0)), c0, logits, hidden_all, logits_all);
  for (const LmRow& row : rows) cache_.at(row.slot).length += static_cast<int>(row.tokens.size());
}

void CpuRunner::ensure_buffers(int64_t n) {
  const Emu3Config& c = config();
  auto grow = [](std::vector<float>& b, int64_t size) {
    if (b.size() < static_cast<size_t>(size)) b.resize(static_cast<size_t>(size));
  };
  const int64_t H = c.hidden_size;
  grow(x_, n * H);
  grow(h_, n * H);
  grow(out_, n * H);
  grow(q_, n * c.q_dim());
  grow(att_, n * c.q_dim());
  grow(k_, n * c.kv_dim());
  grow(v_, n * c.kv_dim());
  grow(gate_, n * c.intermediate_size);
  grow(up_, n * c.intermediate_size);
  grow(cos_, n * rope_.half());
  grow(sin_, n * rope_.half());
}

void CpuRunner::run_chunk(std::span<const Tok> toks, size_t first, float* logits, std::vector<float>* hidden_all,
                          std::vector<float>* logits_all) {
  const Emu3Config& c = config();
  const LmWeights& W = *weights_;
  const int64_t n = static_cast<int64_t>(toks.size());
  const int64_t H = c.hidden_size, qd = c.q_dim(), kvd = c.kv_dim(), I = c.intermediate_size;
  const int64_t hd = c.head_dim, nh = c.num_attention_heads, nkv = c.num_key_value_heads, V = c.vocab_size;
  const int half = rope_.half();
  const int64_t group = nh / nkv;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  ensure_buffers(n);
  float *x = x_.data(), *h = h_.data(), *q = q_.data(), *k = k_.data(), *v = v_.data();
  float *att = att_.data(), *gate = gate_.data(), *up = up_.data(), *out = out_.data();
  float *cs = cos_.data(), *sn = sin_.data();

  // Per-token loops: a piece is worth a pool job once it holds a few hidden vectors.
  const int64_t tok_grain = std::max<int64_t>(pool_.grain_for(n), (int64_t{1} << 14) / std::max<int64_t>(H, 1) + 1);
  auto per_token = [&](auto&& f) {
    pool_.parallel_for(n, tok_grain, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) f(t);
    });
  };

  // Attention work and per-thread score buffers (a token attends to pos + 1 positions).
  int64_t max_len = 0, att_work = 0;
  for (const Tok& t : toks) {
    max_len = std::max<int64_t>(max_len, t.pos + 1);
    att_work += (t.pos + 1) * nh * hd;
  }
  for (auto& sc : scores_)
    if (sc.size() < static_cast<size_t>(max_len)) sc.resize(static_cast<size_t>(max_len));
  const int64_t att_items = n * nh;
  const int64_t att_grain = att_work < (int64_t{1} << 16) ? att_items : 1;

  std::vector<KvSlot*> slot_of(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) slot_of[static_cast<size_t>(t)] = &cache_.at(toks[static_cast<size_t>(t)].slot);

  per_token([&](int64_t t) {
    const Tok& tk = toks[static_cast<size_t>(t)];
    convert_rows_f32(W.embed_tokens, tk.id, 1, x + t * H);
    rope_.angles(tk.pos, cs + t * half, sn + t * half);
  });

  for (size_t l = 0; l < W.layers.size(); ++l) {
    const LmLayerWeights& L = W.layers[l];
    const int li = static_cast<int>(l);
    per_token([&](int64_t t) { rmsnorm(x + t * H, L.input_norm.data(), h + t * H, H, eps); });
    mm_(h, n, L.q_proj, q);
    mm_(h, n, L.k_proj, k);
    mm_(h, n, L.v_proj, v);

    // QK-norm per head, then RoPE; K and V go to the cache.
    per_token([&](int64_t t) {
      const int64_t pos = toks[static_cast<size_t>(t)].pos;
      KvSlot& s = *slot_of[static_cast<size_t>(t)];
      for (int64_t i = 0; i < nh; ++i) {
        float* qh = q + t * qd + i * hd;
        rmsnorm(qh, L.q_norm.data(), qh, hd, eps);
        Rope::apply(qh, cs + t * half, sn + t * half, half);
      }
      for (int64_t g = 0; g < nkv; ++g) {
        float* kh = k + t * kvd + g * hd;
        rmsnorm(kh, L.k_norm.data(), kh, hd, eps);
        Rope::apply(kh, cs + t * half, sn + t * half, half);
        std::memcpy(s.k(li, static_cast<int>(g)) + pos * hd, kh, sizeof(float) * hd);
        std::memcpy(s.v(li, static_cast<int>(g)) + pos * hd, v + t * kvd + g * hd, sizeof(float) * hd);
      }
    });

    // Causal GQA attention: query head i reads kv head i / group.
    pool_.parallel_for(att_items, att_grain, [&](int64_t i0, int64_t i1, int thread) {
      float* sc = scores_[static_cast<size_t>(thread)].data();
      for (int64_t it = i0; it < i1; ++it) {
        const int64_t t = it / nh, i = it % nh;
        const int g = static_cast<int>(i / group);
        const KvSlot& s = *slot_of[static_cast<size_t>(t)];
        attend(q + t * qd + i * hd, s.k(li, g), s.v(li, g), toks[static_cast<size_t>(t)].pos + 1, hd, scale, sc,
               att + t * qd + i * hd);
      }
    });
    mm_(att, n, L.o_proj, out);
    per_token([&](int64_t t) {
      add_inplace(x + t * H, out + t * H, H);
      rmsnorm(x + t * H, L.post_attention_norm.data(), h + t * H, H, eps);
    });
    mm_(h, n, L.gate_proj, gate);
    mm_(h, n, L.up_proj, up);
    per_token([&](int64_t t) { silu_mul(gate + t * I, up + t * I, I); });
    mm_(gate, n, L.down_proj, out);
    per_token([&](int64_t t) { add_inplace(x + t * H, out + t * H, H); });
  }

  // Final norm and lm_head, for every token (debug outputs) or only rows' last tokens.
  std::vector<int64_t> lasts;
  for (int64_t t = 0; t < n; ++t)
    if (toks[static_cast<size_t>(t)].last) lasts.push_back(t);
  if (hidden_all || logits_all) {
    per_token([&](int64_t t) { rmsnorm(x + t * H, W.final_norm.data(), h + t * H, H, eps); });
    if (hidden_all) std::copy(h, h + n * H, hidden_all->data() + first * static_cast<size_t>(H));
    if (logits_all) mm_(h, n, W.lm_head, logits_all->data() + first * static_cast<size_t>(V));
  }
  if (!logits || lasts.empty()) return;
  // Rows are laid out in order, so the rows ending in this chunk are consecutive.
  float* dst = logits + static_cast<int64_t>(toks[static_cast<size_t>(lasts[0])].row) * V;
  const int64_t m = static_cast<int64_t>(lasts.size());
  if (logits_all) {
    for (int64_t i = 0; i < m; ++i)
      std::copy_n(logits_all->data() + (first + static_cast<size_t>(lasts[static_cast<size_t>(i)])) * V, V,
                  dst + i * V);
    return;
  }
  for (int64_t i = 0; i < m; ++i)
    rmsnorm(x + lasts[static_cast<size_t>(i)] * H, W.final_norm.data(), out + i * H, H, eps);
  mm_(out, m, W.lm_head, dst);
}

std::unique_ptr<LmRunner> make_cpu_runner(std::shared_ptr<const LmWeights> weights, const CpuRunnerOptions& opts) {
  return std::make_unique<CpuRunner>(std::move(weights), opts);
}

std::unique_ptr<LmRunner> make_cpu_runner(std::shared_ptr<const LmWeights> weights, int num_threads) {
  CpuRunnerOptions opts;
  opts.num_threads = num_threads;
  return make_cpu_runner(std::move(weights), opts);
}

}  // namespace emu35::lm
