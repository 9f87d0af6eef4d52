// On-device token sampling (see sampling_kernels.h). Every reduction runs in
// a fixed order or on integers, so a task's id depends only on its inputs.
#include <cfloat>
#include <climits>
#include <cmath>

#include "cuda/lm_device_util.cuh"
#include "cuda/sampling_kernels.h"

namespace emu35::cuda::sampling {

namespace {

constexpr int kStatThreads = 256;
constexpr int kSelectThreads = 1024;
constexpr double kMassScale = 17592186044416.0;  // 2^44: probability mass as exact integers

__device__ __forceinline__ bool is_candidate(float v) { return v != -INFINITY && !isnan(v); }

// Order-preserving map float -> uint32 (larger float, larger key).
__device__ __forceinline__ uint32_t key_of(float v) {
  const uint32_t u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float float_of(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// Exclusive prefix sum over the block in a fixed order; *total gets the sum.
template <class V>
__device__ V block_exclusive_scan(V v, V* scratch, V* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  V incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const V n = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += n;
  }
  V excl = __shfl_up_sync(0xffffffffu, incl, 1);
  if (lane == 0) excl = V(0);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 31) scratch[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    V w = lane < nw ? scratch[lane] : V(0);
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const V n = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += n;
    }
    scratch[lane] = w;  // inclusive over warps
  }
  __syncthreads();
  const V before = warp > 0 ? scratch[warp - 1] : V(0);
  *total = scratch[nw - 1];
  return before + excl;
}

__global__ void stats_max_kernel(const float* logits, int64_t ld, int vocab, double* stats) {
  __shared__ float red[32];
  const int r = blockIdx.y, b = blockIdx.x;
  const int chunk = (vocab + kStatBlocks - 1) / kStatBlocks;
  const int lo = b * chunk, hi = min(vocab, lo + chunk);
  const float* x = logits + r * ld;
  float m = -INFINITY;
  for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) m = fmaxf(m, x[i]);
  m = dev::block_max(m, red);
  if (threadIdx.x == 0) stats[size_t(r) * 2 * kStatBlocks + b] = m;
}

__global__ void stats_sum_kernel(const float* logits, int64_t ld, int vocab, double* stats) {
  __shared__ double red[32];
  const int r = blockIdx.y, b = blockIdx.x;
  double* st = stats + size_t(r) * 2 * kStatBlocks;
  float M = -INFINITY;
  for (int i = 0; i < kStatBlocks; ++i) M = fmaxf(M, static_cast<float>(st[i]));
  const int chunk = (vocab + kStatBlocks - 1) / kStatBlocks;
  const int lo = b * chunk, hi = min(vocab, lo + chunk);
  const float* x = logits + r * ld;
  double s = 0;
  for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) s += exp(static_cast<double>(x[i] - M));
  s = dev::block_sum(s, red);
  if (threadIdx.x == 0) st[kStatBlocks + b] = s;
}

// log-sum-exp of a row as the host's log_softmax: mx + float(log(sum)).
__device__ float row_lse(const double* stats, int r) {
  const double* st = stats + size_t(r) * 2 * kStatBlocks;
  float M = -INFINITY;
  double s = 0;
  for (int i = 0; i < kStatBlocks; ++i) M = fmaxf(M, static_cast<float>(st[i]));
  for (int i = 0; i < kStatBlocks; ++i) s += st[kStatBlocks + i];
  return M + static_cast<float>(log(s));
}

__global__ void build_kernel(const float* logits, int64_t ld, int vocab, const double* stats, const DeviceTask* tasks,
                             float* work) {
  __shared__ float lse[3];
  const DeviceTask t = tasks[blockIdx.y];
  if (t.kind == kVisual && threadIdx.x < 3) {
    const int r = threadIdx.x == 0 ? t.cond : threadIdx.x == 1 ? t.uncond : t.full;
    lse[threadIdx.x] = r >= 0 ? row_lse(stats, r) : 0.0f;
  }
  __syncthreads();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= vocab) return;
  const float c = logits[t.cond * ld + i];
  float v;
  if (t.kind == kText) {
    v = i < t.bov ? c : -INFINITY;
  } else if (t.kind == kDigits) {
    v = (i >= t.lo && i <= t.hi) ? c : -INFINITY;
  } else if (i < t.bov) {
    v = -INFINITY;
  } else {
    // The host's float32 operations, with the contractions GCC makes there
    // (fma(g, lc - lu, lu); three streams fma(g, lc - lu, fma(gi, lu - la, la))).
    const float lc = __fsub_rn(c, lse[0]);
    const float lu = __fsub_rn(logits[t.uncond * ld + i], lse[1]);
    if (t.full >= 0) {
      const float la = __fsub_rn(logits[t.full * ld + i], lse[2]);
      v = __fmaf_rn(t.guidance, __fsub_rn(lc, lu), __fmaf_rn(t.image_guidance, __fsub_rn(lu, la), la));
    } else {
      v = __fmaf_rn(t.guidance, __fsub_rn(lc, lu), lu);
    }
  }
  if (t.temperature != 1.0f && is_candidate(v)) v = __fdiv_rn(v, t.temperature);
  work[size_t(blockIdx.y) * vocab + i] = v;
}

__global__ void __launch_bounds__(kSelectThreads)
    select_kernel(const float* work_all, int vocab, const DeviceTask* tasks, int32_t* ids_all, float* vals_all,
                  int32_t* out, uint8_t* kept) {
  __shared__ uint32_t hist_cnt[256];
  __shared__ unsigned long long hist_mass[256];
  __shared__ double scratch_d[32];
  __shared__ int scratch_i[32];
  __shared__ unsigned long long scratch_u[32];
  __shared__ float scratch_f[32];
  __shared__ uint32_t s_prefix;
  __shared__ int s_flag, s_pick;
  __shared__ unsigned long long s_above, s_q, s_cnt;

  const int ti = blockIdx.x, tid = threadIdx.x;
  const DeviceTask task = tasks[ti];
  const float* w = work_all + size_t(ti) * vocab;
  int32_t* ids = ids_all + size_t(ti) * vocab;
  float* vals = vals_all + size_t(ti) * vocab;

  // ---- top-k: the k-th largest value ----
  bool have_thr = false;
  float thr = -INFINITY;
  if (task.top_k > 0) {
    uint32_t prefix = 0, mask = 0;
    int kr = task.top_k;
    bool skip = false;
    for (int pass = 0; pass < 4; ++pass) {
      const int shift = 24 - 8 * pass;
      for (int d = tid; d < 256; d += blockDim.x) hist_cnt[d] = 0;
      __syncthreads();
      for (int i = tid; i < vocab; i += blockDim.x) {
        const float v = w[i];
        if (!is_candidate(v)) continue;
        const uint32_t k = key_of(v);
        if ((k & mask) == prefix) atomicAdd(&hist_cnt[(k >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        s_flag = 0;
        if (pass == 0) {
          long total = 0;
          for (int d = 0; d < 256; ++d) total += hist_cnt[d];
          if (kr >= total) s_flag = 1;  // k covers every candidate: no top-k
        }
        if (!s_flag) {
          int cum = 0, sel = 0;
          for (int d = 255; d >= 0; --d) {
            const int c = static_cast<int>(hist_cnt[d]);
            if (cum + c >= kr) {
              sel = d;
              break;
            }
            cum += c;
          }
          s_prefix = prefix | (uint32_t(sel) << shift);
          scratch_i[0] = kr - cum;
        }
      }
      __syncthreads();
      if (s_flag) {
        skip = true;
        break;
      }
      prefix = s_prefix;
      kr = scratch_i[0];
      mask |= 255u << shift;
      __syncthreads();  // scratch_i is rewritten by the next pass
    }
    if (!skip) {
      have_thr = true;
      thr = float_of(prefix);
    }
  }

  // ---- survivors in id order: each thread owns a contiguous run of ids ----
  const int per = (vocab + blockDim.x - 1) / blockDim.x;
  const int lo = min(vocab, tid * per), hi = min(vocab, lo + per);
  int count = 0;
  for (int i = lo; i < hi; ++i) {
    const float v = w[i];
    count += is_candidate(v) && (!have_thr || v >= thr);
  }
  int C = 0;
  int off = block_exclusive_scan(count, scratch_i, &C);
  for (int i = lo; i < hi; ++i) {
    const float v = w[i];
    if (is_candidate(v) && (!have_thr || v >= thr)) {
      ids[off] = i;
      vals[off] = v;
      ++off;
    }
  }
  __syncthreads();
  if (C == 0) {
    if (tid == 0) out[ti] = -1;
    return;
  }
  if (C == 1) {
    if (tid == 0) {
      out[ti] = ids[0];
      if (kept) kept[size_t(ti) * vocab + ids[0]] = 1;
    }
    return;
  }

  const int cper = (C + blockDim.x - 1) / blockDim.x;
  const int clo = min(C, tid * cper), chi = min(C, clo + cper);
  float mx = -INFINITY;
  for (int j = tid; j < C; j += blockDim.x) mx = fmaxf(mx, vals[j]);
  mx = dev::block_max(mx, scratch_f);

  // ---- top-p: the nucleus by radix select on probability mass ----
  if (task.top_p < 1.0f) {
    auto mass = [mx](float v) -> unsigned long long {
      return __double2ull_rn(exp(static_cast<double>(v - mx)) * kMassScale);
    };
    unsigned long long msum = 0;
    for (int j = tid; j < C; j += blockDim.x) msum += mass(vals[j]);
    msum = dev::block_sum(msum, scratch_u);
    const unsigned long long limit =
        static_cast<unsigned long long>(floor(static_cast<double>(task.top_p) * static_cast<double>(msum)));
    uint32_t prefix = 0, mask = 0;
    unsigned long long above = 0;
    for (int pass = 0; pass < 4; ++pass) {
      const int shift = 24 - 8 * pass;
      for (int d = tid; d < 256; d += blockDim.x) {
        hist_cnt[d] = 0;
        hist_mass[d] = 0;
      }
      __syncthreads();
      for (int j = tid; j < C; j += blockDim.x) {
        const uint32_t k = key_of(vals[j]);
        if ((k & mask) != prefix) continue;
        const uint32_t d = (k >> shift) & 255u;
        atomicAdd(&hist_cnt[d], 1u);
        atomicAdd(&hist_mass[d], mass(vals[j]));
      }
      __syncthreads();
      if (tid == 0) {
        // The lowest non-empty digit whose mass above stays within the limit.
        unsigned long long running = above, sel_above = above;
        int sel = -1;
        for (int d = 255; d >= 0; --d) {
          if (hist_cnt[d] == 0) continue;
          if (running > limit) break;
          sel = d;
          sel_above = running;
          running += hist_mass[d];
        }
        if (sel < 0) sel = 0;  // unreachable: the first non-empty digit always qualifies
        s_prefix = prefix | (uint32_t(sel) << shift);
        s_above = sel_above;
        s_cnt = hist_cnt[sel];
        s_q = hist_cnt[sel] ? hist_mass[sel] / hist_cnt[sel] : 0;
      }
      __syncthreads();
      prefix = s_prefix;
      above = s_above;
      mask |= 255u << shift;
      __syncthreads();
    }
    // Keep keys above the boundary value, and its first m ties in id order.
    const unsigned long long cnt = s_cnt, q = s_q;
    const unsigned long long mq = q == 0 ? cnt : (limit - above) / q + 1;
    const unsigned long long m = mq < cnt ? mq : cnt;
    const uint32_t kb = prefix;
    int ties = 0;
    if (m < cnt)
      for (int j = clo; j < chi; ++j) ties += key_of(vals[j]) == kb;
    int tie_total = 0;
    int rank = block_exclusive_scan(ties, scratch_i, &tie_total);
    for (int j = clo; j < chi; ++j) {
      const uint32_t k = key_of(vals[j]);
      bool keep = k > kb;
      if (k == kb) keep = m >= cnt || static_cast<unsigned long long>(rank++) < m;
      if (!keep) vals[j] = -INFINITY;
    }
    __syncthreads();
  }

  // ---- the draw: first id whose cumulative exp(v - mx) exceeds u * total ----
  double local = 0;
  for (int j = clo; j < chi; ++j)
    if (vals[j] != -INFINITY) local += exp(static_cast<double>(vals[j] - mx));
  double total = 0;
  double cum = block_exclusive_scan(local, scratch_d, &total);
  const double target = static_cast<double>(task.u) * total;
  if (tid == 0) s_pick = INT_MAX;
  __syncthreads();
  for (int j = clo; j < chi; ++j) {
    if (vals[j] == -INFINITY) continue;
    cum += exp(static_cast<double>(vals[j] - mx));
    if (cum > target) {
      atomicMin(&s_pick, j);
      break;
    }
  }
  __syncthreads();
  if (tid == 0) {
    int pick = s_pick;
    if (pick == INT_MAX) {  // rounding left u * total at the very end: the host takes the last id too
      int lastj = -1;
      for (int j = C - 1; j >= 0; --j)
        if (vals[j] != -INFINITY) {
          lastj = j;
          break;
        }
      pick = lastj;
    }
    out[ti] = pick >= 0 ? ids[pick] : -1;
  }
  if (kept)
    for (int j = tid; j < C; j += blockDim.x)
      if (vals[j] != -INFINITY) kept[size_t(ti) * vocab + ids[j]] = 1;
}

}  // namespace

size_t stats_doubles(int rows) { return size_t(rows) * 2 * kStatBlocks; }

void row_stats(const float* logits, int rows, int64_t ld, int vocab, double* stats, cudaStream_t stream) {
  if (rows <= 0) return;
  const dim3 grid(kStatBlocks, rows);
  stats_max_kernel<<<grid, kStatThreads, 0, stream>>>(logits, ld, vocab, stats);
  EMU35_LAUNCH_CHECK();
  stats_sum_kernel<<<grid, kStatThreads, 0, stream>>>(logits, ld, vocab, stats);
  EMU35_LAUNCH_CHECK();
}

void build_rows(const float* logits, int64_t ld, int vocab, const double* stats, const DeviceTask* tasks, int ntasks,
                float* work, cudaStream_t stream) {
  if (ntasks <= 0) return;
  const dim3 grid((vocab + 255) / 256, ntasks);
  build_kernel<<<grid, 256, 0, stream>>>(logits, ld, vocab, stats, tasks, work);
  EMU35_LAUNCH_CHECK();
}

void select_and_draw(const float* work, int vocab, const DeviceTask* tasks, int ntasks, int32_t* cand_ids,
                     float* cand_vals, int32_t* out, uint8_t* kept, cudaStream_t stream) {
  if (ntasks <= 0) return;
  select_kernel<<<ntasks, kSelectThreads, 0, stream>>>(work, vocab, tasks, cand_ids, cand_vals, out, kept);
  EMU35_LAUNCH_CHECK();
}

}  // namespace emu35::cuda::sampling
