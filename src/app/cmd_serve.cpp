// `emu35 serve`: the Cog prediction API, the OpenAI Images API, live progress
// (server-sent events), a web page and Prometheus metrics from one process,
// with concurrent requests batched together on the model. See docs/serve.md.
#include <iostream>
#include <memory>

#include "app/command.h"
#include "app/serve/http_server.h"
#include "app/serve/serve_options.h"

namespace emu35::app {
namespace {

const RegisterCommand reg_serve{
    "serve", "HTTP server: Cog predictions, OpenAI images API, web page, batched generation", 40,
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<serve::ServeOptions>();
      auto body_mb = std::make_shared<int>(50);
      sub.add_option("--model", o->model, "Emu3.5 model folder (config.json + safetensors)")->required();
      sub.add_option("--vq", o->vq, "Emu3.5-VisionTokenizer folder")->required();
      sub.add_option("--tokenizer", o->tokenizer, "folder with emu3.tiktoken + emu3_vision_tokens.txt (default: --model)");
      sub.add_option("--host", o->host, "address to listen on (loopback by default)")->capture_default_str();
      sub.add_option("--port", o->port, "port (0: any free port, printed on stdout)")->capture_default_str();
      sub.add_option("--device", o->device, "cpu, cuda[:N] or auto")->capture_default_str();
      sub.add_option("--precision", o->precision, "GPU math: bf16 (IBQ decoder in TF32) or fp32 (all float32)")->capture_default_str();
      sub.add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
      sub.add_option("--max-batch", o->max_batch, "requests generated together (each with its CFG rows)")->capture_default_str();
      sub.add_option("--max-queue", o->max_queue, "requests waiting beyond the batch; more are answered 429")->capture_default_str();
      sub.add_option("--api-key", o->api_key, "require Authorization: Bearer KEY on every route but the health checks");
      sub.add_flag("--allow-url-images", o->allow_url_images, "let requests name http(s) pictures for the server to fetch");
      sub.add_option("--max-body-mb", *body_mb, "largest request body, MiB")->capture_default_str();
      sub.add_option("--max-images", o->max_images, "reference pictures per request")->capture_default_str();
      sub.add_option("--max-image-pixels", o->max_image_pixels, "largest reference picture, pixels")->capture_default_str();
      sub.add_option("--model-name", o->model_name, "model id for /v1/models (default: the model folder's name)");
      sub.add_option("--preview-rows", o->preview_rows, "live preview every N finished rows")->capture_default_str();
      sub.add_option("--preview-interval-ms", o->preview_interval_ms, "at most one preview per request this often")->capture_default_str();
      sub.add_option("--keep-predictions", o->keep_predictions, "finished predictions kept for GET")->capture_default_str();
      sub.add_option("--http-threads", o->http_threads, "HTTP worker threads (0: max-batch + max-queue + 16)")->capture_default_str();
      sub.add_option("--startup-delay-ms", o->startup_delay_ms, "")->group("");  // tests: stay STARTING this long
      return [o, body_mb] {
        if (!serve::http_server_available()) {
          std::cerr << "error: emu35 serve: this emu35 was built without the HTTP server (cpp-httplib was not found "
                       "at configure time). Install libcpp-httplib-dev (scripts/setup.sh) and rebuild.\n";
          return 2;
        }
        if (*body_mb < 1) {
          std::cerr << "error: --max-body-mb must be at least 1\n";
          return 1;
        }
        o->max_body_bytes = static_cast<int64_t>(*body_mb) << 20;
        return serve::run_server(*o);
      };
    }};

}  // namespace
}  // namespace emu35::app
