// CudaRunner: KV slots, forward passes and the decode-step CUDA graphs.
//
// Every pass is described by metadata (tokens, segments, attention lists) in
// one pinned block copied to the device with a single transfer before the
// pass; the kernels read it from there. A pass whose rows are all single
// tokens has the same launch sequence and the same device pointers for a
// given row count R, so after one eager run (which settles every lazy plan)
// it is captured once as a CUDA graph and replayed: per step the host then
// only writes the metadata and launches one graph.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "cuda/cuda_check.h"
#include "cuda/lm_attention.h"
#include "cuda/lm_runner_impl.h"

namespace emu35::cuda {

namespace {
constexpr size_t kSpareSlots = 4;  // freed KV blocks kept for the next requests
}

CudaRunner::~CudaRunner() {
  if (!impl_) return;
  try {
    CurrentDevice dev(impl_->opts.device);
    impl_.reset();
  } catch (...) {
    impl_.reset();
  }
}

const Emu3Config& CudaRunner::config() const { return impl_->cfg; }
int CudaRunner::vocab_size() const { return impl_->V; }
int64_t CudaRunner::logits_stride() const { return impl_->vpad; }
cudaStream_t CudaRunner::stream() const { return impl_->stream->get(); }
int CudaRunner::device() const { return impl_->opts.device; }
Precision CudaRunner::precision() const { return impl_->opts.precision; }
int CudaRunner::graphs_captured() const { return static_cast<int>(impl_->graphs.size()); }

RunnerMemory CudaRunner::memory() const {
  RunnerMemory m = impl_->mem;
  m.kv_cache = 0;
  for (const auto* list : {&impl_->slots, &impl_->spare})
    for (const KvSlotState& s : *list) m.kv_cache += s.buf.bytes();
  return m;
}

// ---- KV slots ----

int CudaRunner::new_slot(int max_tokens) {
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  check(max_tokens >= 1, "new_slot: max_tokens must be at least 1, got " + std::to_string(max_tokens));
  check(max_tokens <= m.maxpos, "new_slot: " + std::to_string(max_tokens) +
                                    " tokens exceed the model's max_position_embeddings (" + std::to_string(m.maxpos) +
                                    ")");
  KvSlotState s;
  int best = -1;
  for (size_t i = 0; i < m.spare.size(); ++i) {
    const int st = m.spare[i].stride;
    if (st >= max_tokens && st <= 2 * max_tokens && (best < 0 || st < m.spare[size_t(best)].stride))
      best = static_cast<int>(i);
  }
  if (best >= 0) {
    s = std::move(m.spare[size_t(best)]);
    m.spare.erase(m.spare.begin() + best);
  } else {
    const size_t bytes = size_t(max_tokens) * m.kv_bytes_per_token;
    const std::string what = "the KV cache of a " + std::to_string(max_tokens) + "-token sequence";
    try {
      s.buf = DeviceBuffer(bytes, what);
    } catch (const Error&) {
      m.spare.clear();  // give the cached blocks back and try once more
      s.buf = DeviceBuffer(bytes, what);
    }
    s.stride = max_tokens;
  }
  s.capacity = max_tokens;
  s.length = 0;
  s.live = true;
  for (size_t i = 0; i < m.slots.size(); ++i)
    if (!m.slots[i].live) {
      m.slots[i] = std::move(s);
      return static_cast<int>(i);
    }
  m.slots.push_back(std::move(s));
  return static_cast<int>(m.slots.size() - 1);
}

namespace {
KvSlotState& slot_at(std::vector<KvSlotState>& slots, int slot) {
  check(slot >= 0 && size_t(slot) < slots.size() && slots[size_t(slot)].live,
        "KV cache: slot " + std::to_string(slot) + " is not allocated");
  return slots[size_t(slot)];
}
}  // namespace

void CudaRunner::free_slot(int slot) {
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  KvSlotState& s = slot_at(m.slots, slot);
  s.live = false;
  m.spare.push_back(std::move(s));
  if (m.spare.size() > kSpareSlots) m.spare.erase(m.spare.begin());
  m.slots[size_t(slot)] = KvSlotState{};
}

int CudaRunner::slot_length(int slot) const { return slot_at(impl_->slots, slot).length; }
int CudaRunner::slot_capacity(int slot) const { return slot_at(impl_->slots, slot).capacity; }

void CudaRunner::fill_slot_random(int slot, int length, uint64_t seed) {
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  KvSlotState& s = slot_at(m.slots, slot);
  check(length >= 0 && length <= s.capacity, "fill_slot_random: length " + std::to_string(length) +
                                                 " outside the slot's capacity " + std::to_string(s.capacity));
  lmk::fill_random(s.buf.get(), m.act, s.buf.bytes() / act_size(m.act), seed, 1.0f, m.stream->get());
  m.stream->synchronize();
  s.length = length;
}

void CudaRunner::release_cached_memory() {
  CurrentDevice dev(impl_->opts.device);
  impl_->spare.clear();
}

// ---- passes ----

void CudaRunner::Impl::ensure_rows(int rows) {
  if (rows <= rows_cap) return;
  if (stream) stream->synchronize();
  const int cap = std::max(rows, 2 * rows_cap);
  logits = DeviceBuffer(size_t(cap) * size_t(vpad) * 4, "logits");
  hl = DeviceBuffer(size_t(cap) * size_t(H) * act_size(act), "final hidden states");
  rows_cap = cap;
  clear_graphs();  // they hold the old pointers
}

void CudaRunner::Impl::clear_graphs() {
  for (auto& [r, g] : graphs)
    if (g.exec) cudaGraphExecDestroy(g.exec);
  graphs.clear();
  eager_seen.clear();
}

void CudaRunner::Impl::validate(std::span<const lm::LmRow> rows) const {
  for (size_t r = 0; r < rows.size(); ++r) {
    const int sl = rows[r].slot;
    const std::string where = "forward: row " + std::to_string(r) + " (slot " + std::to_string(sl) + ")";
    check(sl >= 0 && size_t(sl) < slots.size() && slots[size_t(sl)].live, where + ": slot is not allocated");
    for (size_t o = 0; o < r; ++o)
      check(rows[o].slot != sl, where + ": slot already used by row " + std::to_string(o) + " of this batch");
    check(!rows[r].tokens.empty(), where + ": no tokens");
    for (size_t i = 0; i < rows[r].tokens.size(); ++i) {
      const int32_t id = rows[r].tokens[i];
      check(id >= 0 && id < V, where + ": token id " + std::to_string(id) + " at index " + std::to_string(i) +
                                   " is outside the vocabulary [0, " + std::to_string(V) + ")");
    }
    const KvSlotState& s = slots[size_t(sl)];
    const int64_t want = int64_t(s.length) + int64_t(rows[r].tokens.size());
    check(want <= maxpos, where + ": the sequence would be " + std::to_string(want) +
                              " tokens long, beyond max_position_embeddings (" + std::to_string(maxpos) + ")");
    check(want <= s.capacity, where + ": the sequence would be " + std::to_string(want) +
                                  " tokens long, beyond the slot's capacity (" + std::to_string(s.capacity) + ")");
  }
}

void CudaRunner::Impl::enqueue(const Pass& p) {
  const cudaStream_t s = stream->get();
  const int n = p.n;
  const TokMeta* toks = meta_dev_at<TokMeta>(p.meta.toks);
  const SegMeta* segs = meta_dev_at<SegMeta>(p.meta.segs);
  const int32_t* ids = meta_dev_at<int32_t>(p.meta.ids);
  const int32_t* dec = p.dec_all ? nullptr : meta_dev_at<int32_t>(p.meta.dec);
  const int32_t* pre = meta_dev_at<int32_t>(p.meta.pre);
  const int32_t* last = meta_dev_at<int32_t>(p.meta.last);
  const KvLayout kvl{layers, nkv, hd};
  float* X = x.as<float>();
  float* QKV = qkv.as<float>();
  float* O = o.as<float>();
  float* GU = gu.as<float>();

  mark("start");
  switch (embed_mode) {
    case EmbedMode::DeviceTable:
      lmk::embed(ids, n, embed_table.get(), embed_dtype, H, X, s);
      break;
    case EmbedMode::HostTable:
      lmk::embed(nullptr, n, emb_rows_dev.get(), embed_dtype, H, X, s);
      break;
    case EmbedMode::Random:
      lmk::embed_random(ids, n, H, embed_seed, embed_scale, X, s);
      break;
  }
  // Small batches (decode steps): where the streaming GEMV takes a product
  // (GemmEngine::streams) it also takes the residual add or SwiGLU into its
  // epilogue; the rest is cuBLASLt plus the separate kernels.
  const bool pl = pdl && gemm->streams(n, lw[0].gu);
  const auto gemv = [&](const void* in, int rows, const DevMatrix& w, lmk::GemvEpilogue e, float* y, int64_t ldy,
                        void* out) { gemm->gemv(in, rows, w, e, y, ldy, out, pl, s); };
  lmk::add_rmsnorm(X, nullptr, norm_in(0), h.get(), act, n, H, eps, s, pl);
  mark("embed + norm");
  for (int l = 0; l < layers; ++l) {
    const LayerWeights& L = lw[size_t(l)];
    const float* next_norm = l + 1 < layers ? norm_in(l + 1) : norm_final();
    if (gemm->streams(n, L.qkv))
      gemv(h.get(), n, L.qkv, lmk::GemvEpilogue::Store, QKV, qd + 2 * kvd, nullptr);
    else
      gemm->matmul(h.get(), n, L.qkv, QKV, qd + 2 * kvd, s);
    mark("qkv GEMM");
    lmk::qk_norm_rope(QKV, n, toks, segs, norm_q(l), norm_k(l), rope_cos.as<float>(), rope_sin.as<float>(), nh, kvl, l,
                      eps, q.get(), act, s, pl);
    mark("q/k norm + RoPE");
    if (p.ndec > 0)
      lmk::decode_attention(q.get(), dec, p.ndec, toks, segs, nh, kvl, l, scale, p.splits, decode_ws.as<float>(),
                            att.get(), act, s, pl);
    if (p.npre > 0) lmk::prefill_attention(q.get(), pre, p.npre, p.max_pre, segs, nh, kvl, l, scale, att.get(), s);
    mark("attention");
    const bool fused_o = gemm->streams(n, L.o);
    if (fused_o)
      gemv(att.get(), n, L.o, lmk::GemvEpilogue::Accumulate, X, H, nullptr);  // x += att Wo^T
    else
      gemm->matmul(att.get(), n, L.o, O, H, s);
    mark("o_proj GEMM");
    lmk::add_rmsnorm(X, fused_o ? nullptr : O, norm_post(l), h.get(), act, n, H, eps, s, pl);
    mark("(residual +) RMSNorm");
    if (gemm->streams(n, L.gu)) {
      gemv(h.get(), n, L.gu, lmk::GemvEpilogue::SwiGLU, nullptr, 0, a.get());
      mark("gate_up GEMM (+ SwiGLU)");
    } else {
      gemm->matmul(h.get(), n, L.gu, GU, 2 * int64_t(I), s);
      mark("gate_up GEMM");
      lmk::swiglu(GU, n, I, a.get(), act, s);
      mark("SwiGLU");
    }
    const bool fused_down = gemm->streams(n, L.down);
    if (fused_down)
      gemv(a.get(), n, L.down, lmk::GemvEpilogue::Accumulate, X, H, nullptr);  // x += a Wdown^T
    else
      gemm->matmul(a.get(), n, L.down, O, H, s);
    mark("down GEMM");
    lmk::add_rmsnorm(X, fused_down ? nullptr : O, next_norm, h.get(), act, n, H, eps, s, pl);
    mark("(residual +) RMSNorm");
  }
  if (p.nlast > 0) {
    const void* src = h.get();
    if (!p.last_all) {
      lmk::gather_rows(h.get(), last, p.nlast, H, act, hl.get(), s, pl);
      src = hl.get();
    }
    float* out = logits.as<float>() + int64_t(p.row0) * vpad;
    if (gemm->streams(p.nlast, lm_head))
      gemv(src, p.nlast, lm_head, lmk::GemvEpilogue::Store, out, vpad, nullptr);
    else
      gemm->matmul(src, p.nlast, lm_head, out, vpad, s);
    mark("lm_head GEMM");
  }
}

void CudaRunner::Impl::mark(const char* what) {
  if (!profile) return;
  auto e = std::make_unique<Event>(true);
  e->record(stream->get());
  marks.emplace_back(what, std::move(e));
}

void CudaRunner::Impl::collect_marks() {
  if (marks.empty()) return;
  marks.back().second->synchronize();
  for (size_t i = 1; i < marks.size(); ++i) {
    auto& slot = profile_ms[marks[i].first];
    slot.first += double(marks[i].second->elapsed_ms_since(*marks[i - 1].second));
    slot.second += 1;
  }
  marks.clear();
}

std::string CudaRunner::step_profile_report() {
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  m.collect_marks();
  std::vector<std::pair<std::string, std::pair<double, int>>> rows(m.profile_ms.begin(), m.profile_ms.end());
  m.profile_ms.clear();
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  double total = 0;
  int passes = 1;
  for (const auto& r : rows) {
    total += r.second.first;
    if (r.first == "embed + norm") passes = std::max(1, r.second.second);
  }
  std::string out;
  char line[200];
  for (const auto& [name, v] : rows) {
    std::snprintf(line, sizeof line, "  %-28s %9.3f ms %5d launches %5.1f%%\n", name.c_str(), v.first / passes,
                  v.second / passes, total > 0 ? 100.0 * v.first / total : 0.0);
    out += line;
  }
  if (!rows.empty()) {
    std::snprintf(line, sizeof line, "  %-28s %9.3f ms (mean of %d passes)\n", "total", total / passes, passes);
    out += line;
  }
  return out;
}

void CudaRunner::Impl::gather_host_embeddings(const int32_t* ids, int n) {
  const size_t row = size_t(H) * dtype_size(embed_dtype);
  char* dst = emb_rows_host.as<char>();
  for (int t = 0; t < n; ++t) std::memcpy(dst + size_t(t) * row, embed_host + size_t(ids[t]) * row, row);
}

void CudaRunner::Impl::run_eager(std::span<const lm::LmRow> rows) {
  const int R = static_cast<int>(rows.size());
  std::vector<int> start(size_t(R) + 1, 0);
  for (int r = 0; r < R; ++r) start[size_t(r) + 1] = start[size_t(r)] + static_cast<int>(rows[size_t(r)].tokens.size());
  const int T = start[size_t(R)];
  const bool graphable = opts.cuda_graphs && T == R && R <= tmax;

  std::vector<TokMeta> tk;
  std::vector<SegMeta> sg;
  std::vector<int32_t> ids, dec, pre, last;
  int first_row = 0;  // rows [first_row, next_row) end in the current pass
  for (int c0 = 0; c0 < T; c0 += tmax) {
    const int n = std::min(tmax, T - c0);
    tk.assign(size_t(n), TokMeta{});
    ids.assign(size_t(n), 0);
    sg.clear();
    dec.clear();
    pre.clear();
    last.clear();
    int max_pre = 0, row0 = -1;
    for (int r = first_row; r < R && start[size_t(r)] < c0 + n; ++r) {
      const int b = std::max(start[size_t(r)], c0), e = std::min(start[size_t(r) + 1], c0 + n);
      if (b >= e) continue;
      const KvSlotState& s = slots[size_t(rows[size_t(r)].slot)];
      const int seg = static_cast<int>(sg.size());
      const int pos0 = s.length + (b - start[size_t(r)]);
      sg.push_back(SegMeta{s.buf.get(), s.stride, b - c0, e - b, pos0});
      for (int t = b; t < e; ++t) {
        tk[size_t(t - c0)] = TokMeta{pos0 + (t - b), seg};
        ids[size_t(t - c0)] = rows[size_t(r)].tokens[size_t(t - start[size_t(r)])];
      }
      if (prefill_tc && e - b > 1) {
        pre.push_back(seg);
        max_pre = std::max(max_pre, e - b);
      } else {
        for (int t = b; t < e; ++t) dec.push_back(t - c0);
      }
      if (e == start[size_t(r) + 1]) {
        if (row0 < 0) row0 = r;
        last.push_back(e - 1 - c0);
      }
    }
    Pass p;
    p.n = n;
    p.nseg = static_cast<int>(sg.size());
    p.ndec = static_cast<int>(dec.size());
    p.dec_all = p.ndec == n;  // then dec is 0 .. n-1 in order
    p.npre = static_cast<int>(pre.size());
    p.max_pre = max_pre;
    p.nlast = static_cast<int>(last.size());
    p.last_all = p.nlast == n;
    p.row0 = std::max(row0, 0);
    p.splits = lmk::decode_splits(std::max(p.ndec, 1), nkv, sms);
    p.meta = MetaLayout::of(n, p.nseg, p.dec_all ? 0 : p.ndec, p.npre, p.last_all ? 0 : p.nlast);

    // The previous upload must be done before the pinned block is rewritten.
    meta_uploaded->synchronize();
    std::memcpy(meta_host_at<TokMeta>(p.meta.toks), tk.data(), tk.size() * sizeof(TokMeta));
    std::memcpy(meta_host_at<SegMeta>(p.meta.segs), sg.data(), sg.size() * sizeof(SegMeta));
    std::memcpy(meta_host_at<int32_t>(p.meta.ids), ids.data(), ids.size() * 4);
    if (!p.dec_all) std::memcpy(meta_host_at<int32_t>(p.meta.dec), dec.data(), dec.size() * 4);
    std::memcpy(meta_host_at<int32_t>(p.meta.pre), pre.data(), pre.size() * 4);
    if (!p.last_all) std::memcpy(meta_host_at<int32_t>(p.meta.last), last.data(), last.size() * 4);
    const cudaStream_t st = stream->get();
    EMU35_CUDA_CHECK(cudaMemcpyAsync(meta_dev.get(), meta_host.get(), p.meta.end, cudaMemcpyHostToDevice, st));
    if (embed_mode == EmbedMode::HostTable) {
      gather_host_embeddings(ids.data(), n);
      EMU35_CUDA_CHECK(cudaMemcpyAsync(emb_rows_dev.get(), emb_rows_host.get(), size_t(n) * H * dtype_size(embed_dtype),
                                       cudaMemcpyHostToDevice, st));
    }
    meta_uploaded->record(st);

    if (!graphable) {
      enqueue(p);
    } else if (auto it = graphs.find(R); it != graphs.end()) {
      EMU35_CUDA_CHECK(cudaGraphLaunch(it->second.exec, st));
    } else if (!eager_seen.count(R)) {
      enqueue(p);  // settles lazy plans (cuBLASLt heuristics, kernel attributes) outside a capture
      eager_seen.insert(R);
    } else {
      cudaGraph_t g = nullptr;
      EMU35_CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      try {
        enqueue(p);
      } catch (...) {
        cudaStreamEndCapture(st, &g);
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();
        throw;
      }
      EMU35_CUDA_CHECK(cudaStreamEndCapture(st, &g));
      cudaGraphExec_t exec = nullptr;
      const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      EMU35_CUDA_CHECK(e);
      graphs[R].exec = exec;
      EMU35_CUDA_CHECK(cudaGraphLaunch(exec, st));
    }
    collect_marks();
    // Rows ending in this pass are done; a row split across passes continues.
    while (first_row < R && start[size_t(first_row) + 1] <= c0 + n) ++first_row;
  }
}

const float* CudaRunner::forward_device(std::span<const lm::LmRow> rows) {
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  m.validate(rows);
  if (rows.empty()) return m.logits.as<float>();
  m.ensure_rows(static_cast<int>(rows.size()));
  m.run_eager(rows);
  for (const lm::LmRow& r : rows) m.slots[size_t(r.slot)].length += static_cast<int>(r.tokens.size());
  return m.logits.as<float>();
}

void CudaRunner::forward(std::span<const lm::LmRow> rows, float* logits) {
  check(logits != nullptr || rows.empty(), "forward: no logits buffer given");
  const float* d = forward_device(rows);
  if (rows.empty()) return;
  Impl& m = *impl_;
  CurrentDevice dev(m.opts.device);
  EMU35_CUDA_CHECK(cudaMemcpy2DAsync(logits, size_t(m.V) * 4, d, size_t(m.vpad) * 4, size_t(m.V) * 4, rows.size(),
                                     cudaMemcpyDeviceToHost, m.stream->get()));
  m.stream->synchronize();
}

}  // namespace emu35::cuda
