// Everything `emu35 serve` is configured with (its command-line flags).
#pragma once
#include <cstdint>
#include <string>

namespace emu35::app::serve {

struct ServeOptions {
  // The model, as for `emu35 generate`.
  std::string model, vq, tokenizer, device = "cpu", precision = "bf16";
  int threads = 0;
  // Where to listen: loopback unless asked otherwise. Port 0 picks a free one
  // (the chosen port is printed on stdout).
  std::string host = "127.0.0.1";
  int port = 5000;
  // Continuous batching: requests drawn together, and waiting beyond them.
  int max_batch = 4;
  int max_queue = 32;
  // Security and input limits.
  std::string api_key;  // non-empty: every route but the health checks needs it
  bool allow_url_images = false;
  int64_t max_body_bytes = int64_t(50) << 20;
  int max_images = 8;
  int64_t max_image_pixels = int64_t(16) << 20;
  // What /v1/models calls the model (default: the model folder's name).
  std::string model_name;
  // Live previews: a VQ decode of the finished rows every `preview_rows` rows,
  // at most one per `preview_interval_ms` per request, only while a client
  // follows the request's events.
  int preview_rows = 8;
  int preview_interval_ms = 1000;
  int keep_predictions = 100;  // finished predictions (with their pictures) kept for GET
  int http_threads = 0;        // 0: enough for every queued and running request
  int startup_delay_ms = 0;    // tests: hold the STARTING state this long
};

}  // namespace emu35::app::serve
