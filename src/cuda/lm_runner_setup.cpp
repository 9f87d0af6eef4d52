// CudaRunner construction: configuration checks, the memory plan (everything
// is sized and checked against the GPU's free memory before the first large
// allocation), the weight upload or random initialisation, and the RoPE table.
#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <limits>

#include "cuda/cuda_check.h"
#include "cuda/device_info.h"
#include "cuda/lm_attention.h"
#include "cuda/lm_progress_bar.h"
#include "cuda/lm_runner_impl.h"
#include "cuda/lm_weights_upload.h"
#include "lm/cpu_ops.h"

namespace emu35::cuda {

namespace {
constexpr int kDefaultChunk = 2048;
constexpr int kInitialRows = 64;
constexpr uint64_t kMargin = uint64_t(256) << 20;  // CUDA context, cuBLASLt internals
constexpr uint64_t kLtWorkspace = uint64_t(32) << 20;

size_t align256(size_t b) { return (b + 255) & ~size_t(255); }

int checked_device(int device) {
  const int devices = device_count();
  if (device < 0 || device >= devices)
    throw Error("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(devices) + " visible)");
  return device;
}
}  // namespace

Precision parse_precision(const std::string& s) {
  if (s == "bf16") return Precision::BF16;
  if (s == "fp32") return Precision::FP32;
  throw Error("precision \"" + s + "\": expected bf16 or fp32");
}

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

MetaLayout MetaLayout::of(int n, int nseg, int ndec, int npre, int nlast) {
  auto al = [](size_t v) { return (v + 15) & ~size_t(15); };
  MetaLayout m;
  size_t o = 0;
  m.toks = o;
  o = al(o + size_t(n) * sizeof(TokMeta));
  m.segs = o;
  o = al(o + size_t(nseg) * sizeof(SegMeta));
  m.ids = o;
  o = al(o + size_t(n) * sizeof(int32_t));
  m.dec = o;
  o = al(o + size_t(ndec) * sizeof(int32_t));
  m.pre = o;
  o = al(o + size_t(npre) * sizeof(int32_t));
  m.last = o;
  o = al(o + size_t(nlast) * sizeof(int32_t));
  m.end = o;
  return m;
}

CudaRunner::Impl::~Impl() {
  if (stream) cudaStreamSynchronize(stream->get());
  for (auto& [r, g] : graphs)
    if (g.exec) cudaGraphExecDestroy(g.exec);
}

void CudaRunner::Impl::init_common(const Emu3Config& c, const CudaRunnerOptions& o) {
  opts = o;
  cfg = c;
  act = o.precision == Precision::BF16 ? ActType::BF16 : ActType::F32;
  const auto bad = [&](const std::string& why) { throw Error("CUDA backend: unsupported model config: " + why); };
  if (c.hidden_size <= 0 || c.vocab_size <= 0 || c.intermediate_size <= 0 || c.num_hidden_layers <= 0 ||
      c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 || c.head_dim <= 0)
    bad("every size must be positive");
  const int64_t lim = std::numeric_limits<int>::max() / 4;
  if (c.hidden_size > lim || c.vocab_size > lim || c.intermediate_size > lim || c.q_dim() > lim ||
      c.max_position_embeddings > lim)
    bad("a dimension is too large");
  if (c.num_attention_heads % c.num_key_value_heads != 0) bad("attention heads not a multiple of key/value heads");
  H = static_cast<int>(c.hidden_size);
  V = static_cast<int>(c.vocab_size);
  I = static_cast<int>(c.intermediate_size);
  nh = static_cast<int>(c.num_attention_heads);
  nkv = static_cast<int>(c.num_key_value_heads);
  hd = static_cast<int>(c.head_dim);
  qd = nh * hd;
  kvd = nkv * hd;
  layers = static_cast<int>(c.num_hidden_layers);
  maxpos = static_cast<int>(c.max_position_embeddings);
  if (!lmk::decode_attention_supported(nh, nkv, hd))
    bad(std::to_string(nh / nkv) + " query heads per key/value head with head_dim " + std::to_string(hd) +
        " (the attention kernels take at most 8 query heads per key/value head and head_dim 192)");
  eps = static_cast<float>(c.rms_norm_eps);
  scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));  // as the CPU runner
  vpad = (static_cast<int64_t>(V) + 7) / 8 * 8;
  tmax = o.max_chunk_tokens > 0 ? o.max_chunk_tokens : kDefaultChunk;

  sms = device_sm_count();
  stream = std::make_unique<Stream>();
  gemm = std::make_unique<GemmEngine>(kLtWorkspace);
  meta_uploaded = std::make_unique<Event>();
  prefill_tc = o.prefill_tensor_cores && lmk::prefill_attention_supported(act, hd);
  const char* pdl_env = std::getenv("EMU35_PDL");
  pdl = pdl_env ? std::string(pdl_env) == "1" : o.programmatic_launch;
  const char* prof_env = std::getenv("EMU35_STEP_PROFILE");
  profile = prof_env && std::string(prof_env) == "1";
  if (profile) opts.cuda_graphs = false;  // events between kernels cannot sit in a replayed graph
  kv_bytes_per_token = uint64_t(layers) * 2 * nkv * hd * act_size(act);
}

float* CudaRunner::Impl::norm_in(int l) const { return norms.as<float>() + size_t(l) * (2 * H + 2 * hd); }
float* CudaRunner::Impl::norm_post(int l) const { return norm_in(l) + H; }
float* CudaRunner::Impl::norm_q(int l) const { return norm_in(l) + 2 * H; }
float* CudaRunner::Impl::norm_k(int l) const { return norm_in(l) + 2 * H + hd; }
float* CudaRunner::Impl::norm_final() const { return norm_in(layers); }

void CudaRunner::Impl::plan_and_allocate(uint64_t embed_bytes) {
  const uint64_t es = act_size(act);
  const uint64_t layer_elems = uint64_t(qd + 2 * kvd) * H + uint64_t(H) * qd + 2 * uint64_t(I) * H + uint64_t(H) * I;
  const uint64_t head_bytes = uint64_t(V) * H * es;
  const uint64_t norm_floats = uint64_t(layers) * (2 * H + 2 * hd) + H;
  const uint64_t w_bytes = uint64_t(layers) * layer_elems * es + head_bytes + norm_floats * 4;
  const uint64_t rope_bytes = 2 * uint64_t(maxpos) * (hd / 2) * 4;
  const uint64_t T = uint64_t(tmax);
  const uint64_t pass_bytes = T * (uint64_t(H) * 4 + uint64_t(H) * es + uint64_t(qd + 2 * kvd) * 4 +
                                   2 * uint64_t(qd) * es + uint64_t(H) * 4 + 2 * uint64_t(I) * 4 + uint64_t(I) * es);
  size_t dec_floats = 0;
  for (int t = 1; t <= tmax; ++t)
    dec_floats = std::max(dec_floats, lmk::decode_workspace_floats(t, nh, hd, lmk::decode_splits(t, nkv, sms)));
  const size_t meta_bytes = MetaLayout::of(tmax, tmax, tmax, tmax, tmax).end;
  const uint64_t rows_bytes = uint64_t(kInitialRows) * (uint64_t(vpad) * 4 + uint64_t(H) * es);
  const uint64_t host_rows_bytes = embed_mode == EmbedMode::Random ? 0 : T * uint64_t(H) * dtype_size(embed_dtype);
  const uint64_t act_bytes = pass_bytes + dec_floats * 4 + meta_bytes + rows_bytes + rope_bytes;
  const uint64_t base = w_bytes + act_bytes + kLtWorkspace + kMargin;

  size_t free_b = 0, total_b = 0;
  device_memory(&free_b, &total_b);
  bool on_device = false;
  if (embed_mode != EmbedMode::Random) {
    const uint64_t reserve = std::max<uint64_t>(uint64_t(1) << 30, total_b / 5);
    on_device = opts.embedding == EmbeddingPlacement::Device ||
                (opts.embedding == EmbeddingPlacement::Auto && base + embed_bytes + reserve <= free_b);
    embed_mode = on_device ? EmbedMode::DeviceTable : EmbedMode::HostTable;
  }
  const uint64_t needed = base + (on_device ? embed_bytes : host_rows_bytes);
  if (needed > free_b) {
    std::string msg = "GPU " + std::to_string(opts.device) + " (" + device_name(opts.device) + ") has " +
                      format_bytes(double(free_b)) + " free of " + format_bytes(double(total_b)) + ", but the " +
                      std::to_string(layers) + "-layer model in " + precision_name(opts.precision) + " needs " +
                      format_bytes(double(needed)) + ": weights " + format_bytes(double(w_bytes)) +
                      ", activations and workspaces " + format_bytes(double(act_bytes));
    if (on_device) msg += ", input embedding " + format_bytes(double(embed_bytes));
    msg += ", plus KV cache per token " + format_bytes(double(kv_bytes_per_token)) + " per sequence";
    if (opts.precision == Precision::FP32) msg += " (fp32 doubles the weights; use --precision bf16)";
    throw Error(msg);
  }

  const ActType t = act;
  const auto mat = [t](int64_t n, int64_t k, DeviceBuffer& buf, const std::string& what) {
    buf = DeviceBuffer(size_t(n) * size_t(k) * act_size(t), what);
    return DevMatrix{buf.get(), t, n, k};
  };
  lw.resize(static_cast<size_t>(layers));
  for (int l = 0; l < layers; ++l) {
    LayerWeights& L = lw[size_t(l)];
    const std::string p = "layer " + std::to_string(l) + " ";
    L.qkv = mat(qd + 2 * kvd, H, L.qkv_buf, p + "q/k/v weights");
    L.o = mat(H, qd, L.o_buf, p + "o_proj weight");
    L.gu = mat(2 * int64_t(I), H, L.gu_buf, p + "gate/up weights");
    L.down = mat(H, I, L.down_buf, p + "down_proj weight");
  }
  lm_head = mat(V, H, lm_head_buf, "lm_head weight");
  norms = DeviceBuffer(norm_floats * 4, "norm weights");

  if (on_device) embed_table = DeviceBuffer(embed_bytes, "input embedding table");
  if (embed_mode == EmbedMode::HostTable) {
    emb_rows_dev = DeviceBuffer(host_rows_bytes, "embedding rows");
    emb_rows_host = PinnedBuffer(host_rows_bytes, "embedding rows");
  }
  rope_cos = DeviceBuffer(rope_bytes / 2, "RoPE table");
  rope_sin = DeviceBuffer(rope_bytes / 2, "RoPE table");
  x = DeviceBuffer(T * H * 4, "activations");
  h = DeviceBuffer(T * H * es, "activations");
  qkv = DeviceBuffer(T * (qd + 2 * kvd) * 4, "activations");
  q = DeviceBuffer(T * qd * es, "activations");
  att = DeviceBuffer(T * qd * es, "activations");
  o = DeviceBuffer(T * H * 4, "activations");
  gu = DeviceBuffer(T * 2 * uint64_t(I) * 4, "activations");
  a = DeviceBuffer(T * uint64_t(I) * es, "activations");
  decode_ws = DeviceBuffer(std::max<size_t>(dec_floats, 1) * 4, "attention workspace");
  meta_dev = DeviceBuffer(align256(meta_bytes), "pass metadata");
  meta_host = PinnedBuffer(align256(meta_bytes), "pass metadata");
  ensure_rows(kInitialRows);

  mem.weights = w_bytes;
  mem.embedding = on_device ? embed_bytes : 0;
  mem.activations = act_bytes + kLtWorkspace;
  mem.kv_bytes_per_token = kv_bytes_per_token;
  mem.streamed_per_step = uint64_t(layers) * layer_elems * es + head_bytes;
  mem.embedding_on_device = on_device;
}

void CudaRunner::Impl::build_rope() {
  // The CPU's own table code, so both backends rotate by identical angles.
  const lm::Rope rope(hd, cfg.rope_theta);
  const int half = rope.half();
  std::vector<float> c(size_t(maxpos) * half), s(size_t(maxpos) * half);
  for (int p = 0; p < maxpos; ++p) rope.angles(p, c.data() + size_t(p) * half, s.data() + size_t(p) * half);
  if (half == 0) return;
  EMU35_CUDA_CHECK(cudaMemcpy(rope_cos.get(), c.data(), c.size() * 4, cudaMemcpyHostToDevice));
  EMU35_CUDA_CHECK(cudaMemcpy(rope_sin.get(), s.data(), s.size() * 4, cudaMemcpyHostToDevice));
}

void CudaRunner::Impl::upload_weights() {
  const lm::LmWeights& W = *weights;
  const uint64_t es = act_size(act);
  uint64_t total = 0;
  const auto stored = [](const lm::WeightMatrix& m) { return uint64_t(m.rows) * m.cols * dtype_size(m.dtype); };
  for (const lm::LmLayerWeights& L : W.layers)
    for (const lm::WeightMatrix* m :
         {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj, &L.up_proj, &L.down_proj})
      total += stored(*m);
  total += stored(W.lm_head);
  if (embed_mode == EmbedMode::DeviceTable) total += stored(W.embed_tokens);

  WeightUploader up(stream->get(), total, opts.progress && ProgressBar::stderr_is_tty());
  const auto put = [&](const lm::WeightMatrix& m, void* dst) {
    up.upload(m.data, m.dtype, size_t(m.rows) * size_t(m.cols), dst, act);
  };
  std::vector<float> nv(norms.bytes() / 4);
  for (int l = 0; l < layers; ++l) {
    const lm::LmLayerWeights& L = W.layers[size_t(l)];
    LayerWeights& D = lw[size_t(l)];
    char* qkv_p = D.qkv_buf.as<char>();
    put(L.q_proj, qkv_p);
    put(L.k_proj, qkv_p + size_t(qd) * H * es);
    put(L.v_proj, qkv_p + size_t(qd + kvd) * H * es);
    put(L.o_proj, D.o_buf.get());
    put(L.gate_proj, D.gu_buf.get());
    put(L.up_proj, D.gu_buf.as<char>() + size_t(I) * H * es);
    put(L.down_proj, D.down_buf.get());
    float* n = nv.data() + size_t(l) * (2 * H + 2 * hd);
    std::copy(L.input_norm.begin(), L.input_norm.end(), n);
    std::copy(L.post_attention_norm.begin(), L.post_attention_norm.end(), n + H);
    std::copy(L.q_norm.begin(), L.q_norm.end(), n + 2 * H);
    std::copy(L.k_norm.begin(), L.k_norm.end(), n + 2 * H + hd);
  }
  std::copy(W.final_norm.begin(), W.final_norm.end(), nv.data() + size_t(layers) * (2 * H + 2 * hd));
  put(W.lm_head, lm_head_buf.get());
  if (embed_mode == EmbedMode::DeviceTable)
    up.upload_bytes(W.embed_tokens.data, stored(W.embed_tokens), embed_table.get());
  up.finish();
  EMU35_CUDA_CHECK(cudaMemcpy(norms.get(), nv.data(), nv.size() * 4, cudaMemcpyHostToDevice));
}

void CudaRunner::Impl::random_weights(uint64_t seed) {
  // Uniform in [-a, a] has standard deviation a / sqrt(3).
  const float a = static_cast<float>(cfg.initializer_range * std::sqrt(3.0));
  uint64_t tensor = 0;
  const auto fill = [&](const DevMatrix& m) {
    lmk::fill_random(const_cast<void*>(m.data), m.type, size_t(m.n) * size_t(m.k), seed * 1000003 + ++tensor, a,
                     stream->get());
  };
  for (const LayerWeights& L : lw)
    for (const DevMatrix* m : {&L.qkv, &L.o, &L.gu, &L.down}) fill(*m);
  fill(lm_head);
  lmk::fill_f32(norms.as<float>(), norms.bytes() / 4, 1.0f, stream->get());
  embed_seed = seed * 1000003 + ++tensor;
  embed_scale = a;
  stream->synchronize();
}

CudaRunner::CudaRunner(std::shared_ptr<const lm::LmWeights> weights, const CudaRunnerOptions& opts)
    : impl_(std::make_unique<Impl>()) {
  check(weights != nullptr, "CudaRunner: no weights given");
  CurrentDevice dev(checked_device(opts.device));
  Impl& m = *impl_;
  m.weights = std::move(weights);
  m.init_common(m.weights->config(), opts);
  m.embed_mode = Impl::EmbedMode::DeviceTable;  // or HostTable, decided by the memory plan
  m.embed_dtype = m.weights->embed_tokens.dtype;
  m.embed_host = m.weights->embed_tokens.data;
  m.plan_and_allocate(uint64_t(m.V) * m.H * dtype_size(m.embed_dtype));
  m.build_rope();
  m.upload_weights();
}

CudaRunner::CudaRunner(const Emu3Config& config, uint64_t seed, const CudaRunnerOptions& opts)
    : impl_(std::make_unique<Impl>()) {
  CurrentDevice dev(checked_device(opts.device));
  Impl& m = *impl_;
  m.init_common(config, opts);
  m.embed_mode = Impl::EmbedMode::Random;
  m.plan_and_allocate(0);
  m.build_rope();
  m.random_weights(seed);
}

}  // namespace emu35::cuda
