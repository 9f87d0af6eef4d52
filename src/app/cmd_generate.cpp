// `emu35 generate`: one request from the command line, or many from a JSONL
// file generated together in one batch; pictures, text and result.json out.
#include <emu35/emu35.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/command.h"
#include "app/output_writer.h"
#include "app/progress.h"
#include "app/request_json.h"
#include "app/story_proto.h"
#include "common/file_util.h"
#include "common/error.h"
#include "formats/emu3_config.h"
#include "image/image_read.h"
#include "image/resize.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace emu35::app {
namespace {

struct GenerateArgs {
  std::string model, vq, tokenizer, device = "cpu";
  std::string precision = "bf16";
  std::string task = "t2i", prompt, aspect_ratio, target_size, format = "png", output, requests, proto;
  std::vector<std::string> images;
  bool raw_prompt = false, start_image = false, quiet = false, overwrite = false;
  std::optional<uint64_t> seed;
  std::optional<float> guidance, image_cfg;
  std::optional<int> max_new_tokens, text_top_k, image_top_k;
  std::optional<float> text_top_p, text_temperature, image_top_p, image_temperature;
  std::optional<int64_t> image_area;
  int quality = 95, threads = 0;
};

std::string default_output_dir() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "outputs/%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

Request request_from_args(const GenerateArgs& a) {
  Request r;
  r.task = parse_task(a.task);
  r.prompt = a.prompt;
  r.raw_prompt = a.raw_prompt;
  for (auto& p : a.images) r.images.push_back({p, read_image(p)});
  r.seed = a.seed;
  r.guidance_scale = a.guidance;
  r.image_cfg_scale = a.image_cfg;
  r.max_new_tokens = a.max_new_tokens;
  r.aspect_ratio = a.aspect_ratio;
  if (!a.target_size.empty()) r.target_size = parse_token_size(a.target_size);
  r.image_area = a.image_area;
  r.text_top_k = a.text_top_k;
  r.text_top_p = a.text_top_p;
  r.text_temperature = a.text_temperature;
  r.image_top_k = a.image_top_k;
  r.image_top_p = a.image_top_p;
  r.image_temperature = a.image_temperature;
  r.start_image = a.start_image;
  return r;
}

// Cheap checks that need only config.json: the prompt's pictures plus the
// token budget must fit the context.
void precheck_context(const Request& r, const ResolvedParams& p, int64_t max_pos, const std::string& where) {
  int64_t tokens = 16 + static_cast<int64_t>(r.prompt.size() / 8);
  for (auto& img : r.images) {
    auto [w, h] = smart_resize_size(img.image.width, img.image.height, p.image_area);
    tokens += image_token_count(TokenSize{h / 16, w / 16});
  }
  if (tokens + p.max_new_tokens > max_pos)
    throw Error(where + "the prompt (about " + std::to_string(tokens) + " tokens with its pictures) + max_new_tokens (" +
                std::to_string(p.max_new_tokens) + ") exceed the model's context of " + std::to_string(max_pos) +
                " tokens: lower --max-new-tokens or --image-area");
}

int run_generate(const GenerateArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  // Everything the user gave is checked before any weights load.
  std::vector<Request> reqs;
  std::vector<std::string> subdirs;
  if (!a.requests.empty()) {
    if (!a.prompt.empty() || !a.images.empty())
      throw Error("--requests replaces --prompt/--image: give one or the other");
    std::ifstream f(a.requests);
    if (!f) throw Error(a.requests + ": cannot open");
    std::string line;
    int lineno = 0;
    while (std::getline(f, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = a.requests + ":" + std::to_string(lineno);
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception& e) {
        throw Error(where + ": not valid JSON: " + e.what());
      }
      reqs.push_back(request_from_json(j, fs::path(a.requests).parent_path(), where));
      char name[32];
      std::snprintf(name, sizeof name, "%03zu", reqs.size() - 1);
      std::string sub = j.contains("output") && j["output"].is_string() ? j["output"].get<std::string>() : name;
      if (sub.empty() || sub.find("..") != std::string::npos || fs::path(sub).is_absolute())
        throw Error(where + ": \"output\" must be a plain folder name inside --output");
      subdirs.push_back(sub);
    }
    if (reqs.empty()) throw Error(a.requests + ": no requests in the file");
  } else {
    if (a.prompt.empty()) throw Error("--prompt is required (or --requests FILE.jsonl)");
    reqs.push_back(request_from_args(a));
    subdirs.push_back("");
  }
  const ImageFormat fmt = parse_image_format(a.format);
  if (a.quality < 1 || a.quality > 100) throw Error("--quality must be 1..100");
  const Emu3Config cfg = Emu3Config::load(a.model);
  if (a.vq.empty()) throw Error("--vq is required: the Emu3.5-VisionTokenizer folder");
  std::vector<ResolvedParams> params;
  for (size_t i = 0; i < reqs.size(); ++i) {
    params.push_back(resolve_params(reqs[i]));
    reqs[i].seed = params.back().seed;  // the chosen seed is recorded and reused
    precheck_context(reqs[i], params.back(), cfg.max_position_embeddings,
                     reqs.size() > 1 ? "request " + std::to_string(i) + ": " : "");
  }
  const fs::path out = a.output.empty() ? fs::path(default_output_dir()) : fs::path(a.output);
  for (auto& sub : subdirs)
    if (fs::exists(out / sub / "result.json") && !a.overwrite)
      throw Error((out / sub).string() + " already holds a result.json: choose another --output or pass --overwrite");

  if (!a.quiet) std::cerr << "loading " << a.model << " and " << a.vq << " ...\n";
  EngineOptions eo;
  eo.model_dir = a.model;
  eo.vq_dir = a.vq;
  eo.tokenizer_dir = a.tokenizer;
  eo.device = a.device;
  eo.threads = a.threads;
  eo.precision = a.precision;
  auto engine = Engine::open(eo);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  std::vector<PreparedRequest> prepared;
  for (auto& r : reqs) prepared.push_back(engine->prepare(r));
  Generator gen(engine->backend());
  ProgressLine progress(reqs.size(), !a.quiet);
  std::vector<int> handles;
  for (size_t i = 0; i < prepared.size(); ++i)
    handles.push_back(gen.submit(prepared[i].gen, [&progress, i](const StepEvent& e) { progress.update(i, e); }));
  std::vector<GenerationResult> results(prepared.size());
  while (gen.active() > 0)
    for (auto& [h, res] : gen.step())
      for (size_t i = 0; i < handles.size(); ++i)
        if (handles[i] == h) {
          results[i] = std::move(res);
          progress.finish_request(i);
        }
  progress.done();

  int failures = 0;
  json summary = json::array();
  for (size_t i = 0; i < prepared.size(); ++i) {
    Output o = engine->finish(std::move(prepared[i]), std::move(results[i]));
    const fs::path dir = out / subdirs[i];
    json extra = {{"model", {{"model_dir", a.model}, {"vq_dir", a.vq}, {"device", a.device}}},
                  {"load_seconds", load_s}};
    json res = write_output_dir(dir, o, {fmt, a.quality}, extra);
    if (o.result.stop_reason == "error") {
      ++failures;
      std::cerr << "request " << i << " failed: " << o.result.error << "\n";
    }
    std::cout << dir.string() << ": " << o.images.size() << " picture(s), "
              << res["text"].size() << " text segment(s), " << o.result.generated_ids.size() << " tokens ("
              << o.result.stop_reason << "), seed " << o.request.params.seed << "\n";
    for (auto& seg : res["segments"])
      if (seg["type"] == "image") std::cout << "  " << (dir / seg["file"].get<std::string>()).string() << "\n";
    if (!a.proto.empty()) {
      std::vector<Image> refs;
      for (auto& ri : reqs[i].images) refs.push_back(ri.image);
      fs::path pf = reqs.size() == 1 ? fs::path(a.proto) : fs::path(a.proto).parent_path() / (subdirs[i] + ".pb");
      write_file_atomic(pf, story_proto_bytes(reqs.size() == 1 ? "000" : subdirs[i], reqs[i].prompt, refs, o));
      std::cout << "  " << pf.string() << "\n";
    }
  }
  return failures ? 1 : 0;
}

const RegisterCommand reg_generate{
    "generate", "Generate pictures and text: t2i, x2i, howto, story, explore, vla", 10,
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<GenerateArgs>();
      sub.add_option("--model", a->model, "Emu3.5 model folder (config.json + safetensors)")->required();
      sub.add_option("--vq", a->vq, "Emu3.5-VisionTokenizer folder (config.yaml + model.ckpt, or config.json + model.safetensors)")->required();
      sub.add_option("--tokenizer", a->tokenizer, "folder with emu3.tiktoken + emu3_vision_tokens.txt (default: --model)");
      sub.add_option("--task", a->task, "t2i, x2i, howto, story, explore or vla")->capture_default_str();
      sub.add_option("--prompt", a->prompt, "the request text");
      sub.add_option("--image", a->images, "a reference picture (PNG, JPEG, WebP); repeat for several");
      sub.add_flag("--raw-prompt", a->raw_prompt, "use --prompt as the whole conditional prompt, no template");
      sub.add_option("--requests", a->requests, "a JSONL file of requests generated together (fields as the options, with underscores)");
      sub.add_option("--seed", a->seed, "random seed (default: random, recorded in result.json)");
      sub.add_option("--guidance-scale", a->guidance, "classifier-free guidance (default 5.0 for t2i, 3.0 otherwise)");
      sub.add_option("--image-cfg-scale", a->image_cfg, "image guidance: three-stream CFG with a fully unconditional stream");
      sub.add_option("--max-new-tokens", a->max_new_tokens, "token budget (default 5120 for t2i/x2i, 32768 otherwise)");
      sub.add_option("--aspect-ratio", a->aspect_ratio, "width:height: 4:3 21:9 16:9 3:2 1:1 3:4 9:16 2:3 or auto (default 1:1 for t2i, auto otherwise)");
      sub.add_option("--target-size", a->target_size, "output size in tokens, ROWSxCOLS (16 px each); wins over --aspect-ratio");
      sub.add_option("--image-area", a->image_area, "pixel area for reference pictures and presets (default 1048576 for t2i/x2i, 518400 otherwise)");
      sub.add_option("--text-top-k", a->text_top_k, "text top-k (default 1024; howto 200)");
      sub.add_option("--text-top-p", a->text_top_p, "text top-p (default 0.9; howto 0.8)");
      sub.add_option("--text-temperature", a->text_temperature, "text temperature (default 1.0; howto 0.7)");
      sub.add_option("--image-top-k", a->image_top_k, "image top-k (default 5120 for t2i/x2i, 10240 otherwise)");
      sub.add_option("--image-top-p", a->image_top_p, "image top-p (default 1.0)");
      sub.add_option("--image-temperature", a->image_temperature, "image temperature (default 1.0)");
      sub.add_flag("--start-image", a->start_image, "begin the answer with <|image start|> (random-weight models need it)");
      sub.add_option("--format", a->format, "picture format: png, jpeg or webp")->capture_default_str();
      sub.add_option("--quality", a->quality, "JPEG/WebP quality")->capture_default_str();
      sub.add_option("--output", a->output, "output folder (default outputs/<date-time>)");
      sub.add_flag("--overwrite", a->overwrite, "replace an earlier result in --output");
      sub.add_option("--proto", a->proto, "also write the upstream Story protobuf to this file (with --requests: one NAME.pb per request beside it)");
      sub.add_option("--device", a->device, "cpu, cuda[:N] or auto")->capture_default_str();
      sub.add_option("--precision", a->precision, "GPU math: bf16 (IBQ decoder in TF32) or fp32 (all float32, for checking against the CPU)")->capture_default_str();
      sub.add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
      sub.add_flag("--quiet", a->quiet, "no progress line");
      return [a] { return run_generate(*a); };
    }};

}  // namespace
}  // namespace emu35::app
