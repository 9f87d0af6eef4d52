// CudaRunner's state, shared by lm_runner_setup.cpp (construction: memory
// plan, weight upload / random init) and lm_cuda_runner.cpp (slots, passes,
// CUDA graphs). Not part of the public interface.
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "cuda/lm_cuda_runner.h"
#include "cuda/lm_device_memory.h"
#include "cuda/lm_gemm.h"
#include "cuda/lm_kernels.h"

namespace emu35::cuda {

struct LayerWeights {
  DevMatrix qkv, o, gu, down;  // fused [q; k; v] and [gate; up] rows
  DeviceBuffer qkv_buf, o_buf, gu_buf, down_buf;
};

// Offsets (bytes) of one pass's metadata in the pinned and device blocks.
struct MetaLayout {
  size_t toks = 0, segs = 0, ids = 0, dec = 0, pre = 0, last = 0, end = 0;
  static MetaLayout of(int n, int nseg, int ndec, int npre, int nlast);
};

// What one pass does; the metadata it reads is already on the device.
struct Pass {
  int n = 0;                  // tokens
  int nseg = 0;               // segments (rows, or parts of rows)
  int ndec = 0;               // tokens for decode_attention
  bool dec_all = false;       // ... namely every token, in order
  int npre = 0, max_pre = 0;  // segments for prefill_attention, their largest token count
  int nlast = 0;              // rows whose logits this pass writes ...
  int row0 = 0;               // ... from logits row row0 on
  bool last_all = false;      // the rows' last tokens are tokens 0 .. n-1
  int splits = 1;             // decode_attention context splits
  MetaLayout meta;
};

struct KvSlotState {
  DeviceBuffer buf;
  int stride = 0;    // positions the buffer has room for
  int capacity = 0;  // what new_slot() was asked for
  int length = 0;
  bool live = false;
};

struct CudaRunner::Impl {
  enum class EmbedMode { DeviceTable, HostTable, Random };

  CudaRunnerOptions opts;
  std::shared_ptr<const lm::LmWeights> weights;  // null for random weights
  Emu3Config cfg;
  ActType act = ActType::BF16;
  int H = 0, V = 0, I = 0, nh = 0, nkv = 0, hd = 0, qd = 0, kvd = 0, layers = 0, maxpos = 0;
  float eps = 0, scale = 0;
  int64_t vpad = 0;  // logits row stride
  int tmax = 0;      // tokens per pass
  int sms = 1;
  bool prefill_tc = false;
  bool pdl = false;  // decode chains use programmatic dependent launch (options, EMU35_PDL)
  // EMU35_STEP_PROFILE=1: an event after each kernel of a pass (graphs off).
  bool profile = false;
  std::vector<std::pair<const char*, std::unique_ptr<Event>>> marks;
  std::map<std::string, std::pair<double, int>> profile_ms;
  void mark(const char* what);
  void collect_marks();

  std::unique_ptr<Stream> stream;
  std::unique_ptr<GemmEngine> gemm;
  std::vector<LayerWeights> lw;
  DevMatrix lm_head;
  DeviceBuffer lm_head_buf;
  DeviceBuffer norms;  // per layer [input H | post H | q hd | k hd], then final H (float)

  EmbedMode embed_mode = EmbedMode::DeviceTable;
  DType embed_dtype = DType::BF16;
  DeviceBuffer embed_table;
  const uint8_t* embed_host = nullptr;  // HostTable: rows of the mapped checkpoint
  uint64_t embed_seed = 0;              // Random
  float embed_scale = 0;

  DeviceBuffer rope_cos, rope_sin;
  // Pass buffers, tmax tokens each.
  DeviceBuffer x, h, qkv, q, att, o, gu, a;
  DeviceBuffer decode_ws;
  DeviceBuffer meta_dev, emb_rows_dev;
  PinnedBuffer meta_host, emb_rows_host;
  std::unique_ptr<Event> meta_uploaded;
  // Logits of up to rows_cap rows.
  int rows_cap = 0;
  DeviceBuffer logits, hl;

  std::vector<KvSlotState> slots;
  std::vector<KvSlotState> spare;  // freed KV blocks kept for reuse
  uint64_t kv_bytes_per_token = 0;

  struct Graph {
    cudaGraphExec_t exec = nullptr;
  };
  std::map<int, Graph> graphs;  // by row count
  std::set<int> eager_seen;     // row counts run eagerly once (plans and choices made)

  RunnerMemory mem;

  ~Impl();

  // lm_runner_setup.cpp
  void init_common(const Emu3Config& c, const CudaRunnerOptions& o);
  void plan_and_allocate(uint64_t embed_device_bytes_if_placed);
  void upload_weights();
  void random_weights(uint64_t seed);
  void build_rope();
  float* norm_in(int l) const;
  float* norm_post(int l) const;
  float* norm_q(int l) const;
  float* norm_k(int l) const;
  float* norm_final() const;

  // lm_cuda_runner.cpp
  void ensure_rows(int rows);
  void clear_graphs();
  void validate(std::span<const lm::LmRow> rows) const;
  void enqueue(const Pass& p);
  void upload_meta(const Pass& p, int n_emb_rows);
  void run_decode_graph(std::span<const lm::LmRow> rows);
  void run_eager(std::span<const lm::LmRow> rows);
  void gather_host_embeddings(const int32_t* ids, int n);
  template <class T>
  T* meta_host_at(size_t off) const {
    return reinterpret_cast<T*>(static_cast<char*>(meta_host.get()) + off);
  }
  template <class T>
  T* meta_dev_at(size_t off) const {
    return reinterpret_cast<T*>(static_cast<char*>(meta_dev.get()) + off);
  }
};

}  // namespace emu35::cuda
