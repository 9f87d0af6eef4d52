// Engine: the shared path of every request (generate, edit, serve):
// reference images -> smart_resize -> IBQ codes -> prompt ids -> generator ->
// segments -> IBQ decode.
#include <emu35/emu35.h>

#include <chrono>
#include <cmath>
#include <random>

#include "common/error.h"
#include "image/resize.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"
#include "vq/ibq_model.h"
#include "vq/vq_codec.h"
#ifdef EMU35_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/device_info.h"
#endif

namespace emu35 {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

void check_sampling(const SamplingParams& p, const std::string& what) {
  if (p.top_k < 1) throw Error(what + "_top_k must be at least 1, got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) throw Error(what + "_top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature))
    throw Error(what + "_temperature must be > 0, got " + std::to_string(p.temperature));
}
}  // namespace

ResolvedParams resolve_params(const Request& r) {
  ResolvedParams p;
  const TaskDefaults d = task_defaults(r.task);
  p.task = r.task;
  if (is_blank(r.prompt)) throw Error("prompt: must not be empty");
  if (r.task == Task::X2I && r.images.empty()) throw Error("images: the x2i task needs at least one reference image");
  p.guidance_scale = r.guidance_scale.value_or(d.guidance_scale);
  if (!(p.guidance_scale >= 0.0f) || !std::isfinite(p.guidance_scale))
    throw Error("guidance_scale: must be a number >= 0, got " + std::to_string(p.guidance_scale));
  p.image_cfg_scale = r.image_cfg_scale;
  if (p.image_cfg_scale && (!(*p.image_cfg_scale >= 0.0f) || !std::isfinite(*p.image_cfg_scale)))
    throw Error("image_cfg_scale: must be a number >= 0");
  p.max_new_tokens = r.max_new_tokens.value_or(d.max_new_tokens);
  if (p.max_new_tokens < 1) throw Error("max_new_tokens: must be at least 1, got " + std::to_string(p.max_new_tokens));
  p.image_area = r.image_area.value_or(d.image_area);
  if (p.image_area < 256 || p.image_area > (int64_t(16) << 20))
    throw Error("image_area: must be between 256 and 16777216 pixels, got " + std::to_string(p.image_area));
  p.text = d.text;
  p.image = d.image;
  if (r.text_top_k) p.text.top_k = *r.text_top_k;
  if (r.text_top_p) p.text.top_p = *r.text_top_p;
  if (r.text_temperature) p.text.temperature = *r.text_temperature;
  if (r.image_top_k) p.image.top_k = *r.image_top_k;
  if (r.image_top_p) p.image.top_p = *r.image_top_p;
  if (r.image_temperature) p.image.temperature = *r.image_temperature;
  check_sampling(p.text, "text");
  check_sampling(p.image, "image");
  if (r.target_size) {
    if (r.target_size->h < 1 || r.target_size->w < 1 || r.target_size->h > 256 || r.target_size->w > 256)
      throw Error("target_size: each side must be 1..256 tokens");
    p.target_size = r.target_size;
    p.aspect_ratio = std::to_string(r.target_size->h) + "x" + std::to_string(r.target_size->w);
  } else {
    p.aspect_ratio = !r.aspect_ratio.empty() ? r.aspect_ratio : r.task == Task::T2I ? "1:1" : "auto";
    p.target_size = aspect_ratio_size(p.aspect_ratio, p.image_area);
  }
  if (p.target_size && image_token_count(*p.target_size) > p.max_new_tokens && (r.start_image || r.task == Task::T2I))
    throw Error("max_new_tokens: " + std::to_string(p.max_new_tokens) + " is too small for a " +
                std::to_string(p.target_size->h) + "x" + std::to_string(p.target_size->w) + "-token picture (needs " +
                std::to_string(image_token_count(*p.target_size)) + ")");
  p.start_image = r.start_image;
  p.raw_prompt = r.raw_prompt;
  p.force_same_image_size = !(r.task == Task::X2I && r.images.size() > 1);
  if (r.seed) {
    p.seed = *r.seed;
  } else {
    std::random_device rd;
    p.seed = ((uint64_t(rd()) << 32) | rd()) & 0x7fffffffffffffffull;
  }
  for (auto& img : r.images)
    if (img.image.empty()) throw Error("images: " + img.name + " is empty");
  return p;
}

struct Engine::Impl {
  EngineOptions opt;
  std::unique_ptr<Tokenizer> tokenizer;
  std::shared_ptr<const vq::IbqModel> vq_model;
  std::unique_ptr<vq::VqCodec> vq;
  std::shared_ptr<const lm::LmWeights> weights;
  std::unique_ptr<lm::LmRunner> lm;
  std::unique_ptr<StepBackend> backend;
};

bool cuda_available() {
#ifdef EMU35_HAVE_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}

namespace {
// "auto" -> "cuda" when there is a GPU, else "cpu"; validates the spelling.
std::string resolve_device(const std::string& d) {
  if (d == "auto") return cuda_available() ? "cuda" : "cpu";
  if (d == "cpu") return d;
  if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
#ifdef EMU35_HAVE_CUDA
    if (!cuda_available()) throw Error("device \"" + d + "\": no CUDA GPU is visible (use --device cpu)");
    cuda::parse_cuda_device(d);
    return d;
#else
    throw Error("device \"" + d + "\": this build has no CUDA backend (rebuild where nvcc is installed, or use --device cpu)");
#endif
  }
  throw Error("bad device \"" + d + "\" (expected cpu, cuda, cuda:N or auto)");
}
}  // namespace

Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::open(const EngineOptions& opt) {
  std::unique_ptr<Engine> e(new Engine());
  e->impl_ = std::make_unique<Impl>();
  Impl& m = *e->impl_;
  m.opt = opt;
  const std::string device = resolve_device(opt.device);
  const std::string vq_device = resolve_device(opt.vq_device.empty() ? opt.device : opt.vq_device);
  if (opt.precision != "bf16" && opt.precision != "fp32")
    throw Error("precision \"" + opt.precision + "\": expected bf16 or fp32");
  std::filesystem::path tdir = opt.tokenizer_dir.empty() ? opt.model_dir : opt.tokenizer_dir;
  m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(tdir));
  m.weights = lm::LmWeights::load(opt.model_dir);
  m.vq_model = std::make_shared<const vq::IbqModel>(vq::IbqModel::load(opt.vq_dir));
  const int64_t model_visual = m.weights->config().vocab_size - tok::BOV;
  if (model_visual > m.vq_model->config().n_embed)
    throw Error(opt.model_dir.string() + ": the model has " + std::to_string(model_visual) +
                " visual token ids but the vision tokenizer in " + opt.vq_dir.string() + " has only " +
                std::to_string(m.vq_model->config().n_embed) + " codes: they do not belong together");
  if (device == "cpu") {
    m.lm = lm::make_cpu_runner(m.weights, opt.threads);
    m.backend = make_host_step_backend(*m.lm);
  } else {
#ifdef EMU35_HAVE_CUDA
    cuda::CudaBackend b = cuda::make_cuda_backend(m.weights, cuda::parse_cuda_device(device), opt.precision);
    m.lm = std::move(b.runner);
    m.backend = std::move(b.step);
#endif
  }
  if (vq_device == "cpu") {
    m.vq = vq::make_cpu_codec(m.vq_model);
  } else {
#ifdef EMU35_HAVE_CUDA
    m.vq = cuda::make_cuda_codec(m.vq_model, cuda::parse_cuda_device(vq_device), opt.precision == "bf16");
#endif
  }
  return e;
}

const Tokenizer& Engine::tokenizer() const { return *impl_->tokenizer; }
const vq::VqCodec& Engine::vq() const { return *impl_->vq; }
lm::LmRunner& Engine::lm() { return *impl_->lm; }
StepBackend& Engine::backend() { return *impl_->backend; }
const Emu3Config& Engine::config() const { return impl_->weights->config(); }

PreparedRequest Engine::prepare(const Request& r) const {
  PreparedRequest p;
  p.params = resolve_params(r);
  p.prompt = r.prompt;
  const auto t0 = Clock::now();
  std::vector<std::string> image_strings;
  for (const ReferenceImage& ref : r.images) {
    Image resized = smart_resize(ref.image, p.params.image_area);
    vq::CodeGrid g = impl_->vq->encode(resized);
    image_strings.push_back(image_token_string(g.h, g.w, g.codes));
    p.image_names.push_back(ref.name);
    p.reference_codes.push_back(std::move(g));
  }
  p.vq_encode_seconds = seconds_since(t0);
  PromptOptions po;
  po.start_image = p.params.start_image;
  p.texts = p.params.raw_prompt ? build_raw_prompts(r.prompt, image_strings, po)
                                : build_prompts(p.params.task, r.prompt, image_strings, po);
  GenerationRequest& g = p.gen;
  g.prompt_ids = impl_->tokenizer->encode(p.texts.cond);
  ensure_bos(g.prompt_ids);
  g.uncond_ids = impl_->tokenizer->encode(p.texts.uncond);
  if (p.params.image_cfg_scale) g.uncond_full_ids = impl_->tokenizer->encode(p.texts.uncond_full);
  g.guidance_scale = p.params.guidance_scale;
  g.image_cfg_scale = p.params.image_cfg_scale;
  g.text = p.params.text;
  g.image = p.params.image;
  g.max_new_tokens = p.params.max_new_tokens;
  g.target_size = p.params.target_size;
  g.force_same_image_size = p.params.force_same_image_size;
  g.seed = p.params.seed;
  validate_request(g, impl_->lm->vocab_size(), config().max_position_embeddings);
  return p;
}

Output Engine::finish(PreparedRequest p, GenerationResult r) const {
  Output o;
  // A prompt ending in <|image start|> (--start-image) opened the first picture:
  // it belongs to the answer.
  std::vector<int32_t> answer;
  if (!p.gen.prompt_ids.empty() && p.gen.prompt_ids.back() == tok::BOI) answer.push_back(tok::BOI);
  answer.insert(answer.end(), r.generated_ids.begin(), r.generated_ids.end());
  o.segments = extract_segments(answer, *impl_->tokenizer);
  const auto t0 = Clock::now();
  for (const Segment& s : o.segments)
    if (s.kind == Segment::Kind::Image) o.images.push_back(impl_->vq->decode(vq::CodeGrid{s.h, s.w, s.codes}));
  o.vq_decode_seconds = seconds_since(t0);
  o.request = std::move(p);
  o.result = std::move(r);
  return o;
}

std::vector<Output> Engine::generate(const std::vector<Request>& reqs,
                                     std::function<void(size_t, const StepEvent&)> on_step) {
  std::vector<PreparedRequest> prepared;
  std::vector<GenerationRequest> gens;
  for (const Request& r : reqs) {
    prepared.push_back(prepare(r));
    gens.push_back(prepared.back().gen);
  }
  Generator gen(*impl_->backend);
  std::vector<GenerationResult> results = gen.run(std::move(gens), std::move(on_step));
  std::vector<Output> out;
  for (size_t i = 0; i < results.size(); ++i) out.push_back(finish(std::move(prepared[i]), std::move(results[i])));
  return out;
}

}  // namespace emu35
