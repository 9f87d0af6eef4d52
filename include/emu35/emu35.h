// emu35's public API: open an Engine on a model folder, turn user Requests into
// generations, get Outputs (text segments, pictures, ids, timings).
//
//   emu35::EngineOptions opt{.model_dir = "Emu3.5-Image", .vq_dir = "Emu3.5-VisionTokenizer"};
//   auto engine = emu35::Engine::open(opt);
//   emu35::Request req{.task = emu35::Task::T2I, .prompt = "a red fox in snow"};
//   auto out = engine->generate({req});
//   // out[0].images[0] is the picture, out[0].segments the text / CoT / images in order.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/emu3_config.h"
#include "gen/extract.h"
#include "gen/generator.h"
#include "gen/prompt.h"
#include "gen/task.h"
#include "image/image.h"
#include "vq/code_grid.h"

namespace emu35 {

class Tokenizer;
namespace vq {
class IbqModel;
class VqCodec;
}
class StepBackend;

struct ReferenceImage {
  std::string name;  // for messages and records (a path, "upload 1", ...)
  Image image;       // decoded RGB8, before resizing
};

// What a user asks for. Unset values take the task's upstream defaults.
struct Request {
  Task task = Task::T2I;
  std::string prompt;
  bool raw_prompt = false;  // prompt is the full conditional prompt text
  std::vector<ReferenceImage> images;
  std::optional<float> guidance_scale;
  std::optional<float> image_cfg_scale;  // three-stream CFG
  std::optional<int> max_new_tokens;
  std::string aspect_ratio;              // width:height preset or "auto"; "" = task default
  std::optional<TokenSize> target_size;  // rows x columns in tokens; wins over aspect_ratio
  std::optional<int64_t> image_area;     // pixels; reference images are resized to it
  std::optional<int> text_top_k, image_top_k;
  std::optional<float> text_top_p, image_top_p, text_temperature, image_temperature;
  bool start_image = false;  // the answer begins with <|image start|>
  std::optional<uint64_t> seed;
};

// Every parameter made concrete (defaults applied, seed chosen).
struct ResolvedParams {
  Task task = Task::T2I;
  float guidance_scale = 0;
  std::optional<float> image_cfg_scale;
  int max_new_tokens = 0;
  std::string aspect_ratio;  // "auto" when the size is left open
  std::optional<TokenSize> target_size;
  int64_t image_area = 0;
  SamplingParams text, image;
  bool start_image = false;
  bool raw_prompt = false;
  bool force_same_image_size = true;
  uint64_t seed = 0;
};

// Applies defaults and checks every value; throws Error naming the field.
// Needs no weights, so bad requests fail before anything loads.
ResolvedParams resolve_params(const Request& r);

struct PreparedRequest {
  ResolvedParams params;
  std::string prompt;
  std::vector<std::string> image_names;
  std::vector<vq::CodeGrid> reference_codes;  // one per reference image, after smart_resize + IBQ encode
  PromptTexts texts;
  GenerationRequest gen;  // ids and sampling for the generator
  double vq_encode_seconds = 0;
};

struct Output {
  PreparedRequest request;
  GenerationResult result;
  std::vector<Segment> segments;  // in generation order
  std::vector<Image> images;      // one per Image segment, in order
  double vq_decode_seconds = 0;
};

struct EngineOptions {
  std::filesystem::path model_dir;      // config.json + safetensors
  std::filesystem::path vq_dir;         // IBQ vision tokenizer
  std::filesystem::path tokenizer_dir;  // emu3.tiktoken + emu3_vision_tokens.txt; empty = model_dir
  std::string device = "cpu";           // "cpu", "cuda[:N]" or "auto" (a GPU when there is one)
  int threads = 0;                      // CPU threads; 0 = all cores
  // GPU math: "bf16" (transformer in bf16, IBQ decoder convolutions in TF32
  // as PyTorch does by default) or "fp32" (everything float32, for checks).
  std::string precision = "bf16";
  std::string vq_device;                // device for the vision tokenizer; empty = device
};

// Whether this build has the CUDA backend and a GPU is present.
bool cuda_available();

class Engine {
 public:
  static std::unique_ptr<Engine> open(const EngineOptions& opt);
  ~Engine();

  const Tokenizer& tokenizer() const;
  const vq::VqCodec& vq() const;
  lm::LmRunner& lm();
  // What a Generator runs on: Generator gen(engine.backend());
  StepBackend& backend();
  const Emu3Config& config() const;

  // resolve_params + reference images encoded + prompts tokenized + checked
  // against the context.
  PreparedRequest prepare(const Request& r) const;
  // Extraction and IBQ decoding of a finished generation.
  Output finish(PreparedRequest p, GenerationResult r) const;

  // Convenience: all requests in one batch; on_step(request index, event).
  std::vector<Output> generate(const std::vector<Request>& reqs,
                               std::function<void(size_t, const StepEvent&)> on_step = {});

 private:
  Engine() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35
