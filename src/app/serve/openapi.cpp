#include "app/serve/openapi.h"

#include "app/serve/cog_input.h"
#include "gen/task.h"

using nlohmann::json;

namespace emu35::app::serve {

namespace {
json prop(const char* type, const char* title, const char* desc, int order) {
  return {{"type", type}, {"title", title}, {"description", desc}, {"x-order", order}};
}

json input_schema(const ServeOptions& opt, int64_t max_positions) {
  json p = json::object();
  int o = 0;
  p["task_type"] = prop("string", "Task Type", "t2i, x2i (edit with reference pictures), howto, story, explore or vla", o++);
  p["task_type"]["enum"] = {"t2i", "x2i", "howto", "story", "explore", "vla"};
  p["task_type"]["default"] = "t2i";
  p["prompt"] = prop("string", "Prompt", "What to draw or do.", o++);
  p["reference_image"] = prop("array", "Reference Image",
                              "Reference pictures as data: URIs (or uploaded files in a multipart body); x2i needs one. "
                              "http(s) URLs only when the server allows them.",
                              o++);
  p["reference_image"]["items"] = {{"type", "string"}, {"format", "uri"}};
  p["reference_image"]["maxItems"] = opt.max_images;
  p["max_new_tokens"] = prop("integer", "Max New Tokens",
                             "Token budget of the answer (default: the task's, 5120 for t2i/x2i). Taken literally: "
                             "upstream Cog's 4096-means-default rule is not copied.",
                             o++);
  p["max_new_tokens"]["minimum"] = 1;
  p["max_new_tokens"]["maximum"] = max_positions;
  p["seed"] = prop("integer", "Seed", "Random seed; the same seed gives the same result, batched or not (default: random, reported).", o++);
  p["seed"]["minimum"] = 0;
  p["output_format"] = prop("string", "Output Format", "png, jpeg or webp", o++);
  p["output_format"]["enum"] = {"png", "jpeg", "webp"};
  p["output_format"]["default"] = "png";
  p["quality"] = prop("integer", "Quality", "JPEG / WebP quality", o++);
  p["quality"]["minimum"] = 1;
  p["quality"]["maximum"] = 100;
  p["quality"]["default"] = 95;
  p["ratio"] = prop("string", "Ratio",
                    "Aspect ratio as width:height (official presets), match_input (the last reference picture's shape; "
                    "1:1 without one) or auto (the model chooses)",
                    o++);
  p["ratio"]["enum"] = cog_ratio_values();
  p["ratio"]["default"] = "match_input";
  p["guidance_scale"] = prop("number", "Guidance Scale", "Classifier-free guidance (default 5 for t2i, 2 x2i, 1 howto, 3 otherwise)", o++);
  p["guidance_scale"]["minimum"] = 0;
  p["guidance_scale"]["maximum"] = 100;
  p["image_cfg_scale"] = prop("number", "Image Guidance Scale", "Image guidance: a third, fully unconditional stream", o++);
  p["image_cfg_scale"]["minimum"] = 0;
  p["image_cfg_scale"]["maximum"] = 100;
  for (const char* m : {"text", "image"}) {
    const std::string k = m;
    p[k + "_top_k"] = prop("integer", "Top K", (k + " tokens: top-k").c_str(), o++);
    p[k + "_top_k"]["minimum"] = 1;
    p[k + "_top_p"] = prop("number", "Top P", (k + " tokens: top-p, in (0, 1]").c_str(), o++);
    p[k + "_top_p"]["exclusiveMinimum"] = 0;
    p[k + "_top_p"]["maximum"] = 1;
    p[k + "_temperature"] = prop("number", "Temperature", (k + " tokens: temperature, > 0").c_str(), o++);
    p[k + "_temperature"]["exclusiveMinimum"] = 0;
    p[k + "_temperature"]["maximum"] = 100;
  }
  p["target_size"] = prop("string", "Target Size", "Output size in 16-pixel tokens, ROWSxCOLS (e.g. 64x64); wins over ratio", o++);
  p["target_size"]["pattern"] = "^[0-9]{1,3}[x*][0-9]{1,3}$";
  p["image_area"] = prop("integer", "Image Area", "Pixel area for reference pictures and ratio presets (default 1048576 for t2i/x2i, 518400 otherwise)", o++);
  p["image_area"]["minimum"] = 256;
  p["image_area"]["maximum"] = 16777216;
  p["start_image"] = prop("boolean", "Start Image", "Begin the answer with <|image start|> (models that would not start a picture by themselves)", o++);
  p["start_image"]["default"] = false;
  p["raw_prompt"] = prop("boolean", "Raw Prompt", "The prompt is the whole conditional prompt, no template", o++);
  p["raw_prompt"]["default"] = false;
  return {{"type", "object"}, {"title", "Input"}, {"required", {"prompt"}}, {"properties", p}, {"additionalProperties", false}};
}

json ref(const char* name) { return {{"$ref", std::string("#/components/schemas/") + name}}; }

json json_body(const json& schema) { return {{"content", {{"application/json", {{"schema", schema}}}}}}; }
}  // namespace

json openapi_document(const ServeOptions& opt, int64_t max_positions) {
  json schemas = {
      {"Input", input_schema(opt, max_positions)},
      {"Output", {{"type", "array"}, {"title", "Output"}, {"items", {{"type", "string"}, {"format", "uri"}}}}},
      {"Status", {{"type", "string"}, {"title", "Status"}, {"enum", {"starting", "processing", "succeeded", "canceled", "failed"}}}},
      {"PredictionRequest",
       {{"type", "object"},
        {"title", "PredictionRequest"},
        {"properties", {{"input", ref("Input")}, {"id", {{"type", "string"}}}, {"created_at", {{"type", "string"}, {"format", "date-time"}}}}}}},
      {"PredictionResponse",
       {{"type", "object"},
        {"title", "PredictionResponse"},
        {"properties",
         {{"id", {{"type", "string"}}},
          {"input", ref("Input")},
          {"output", ref("Output")},
          {"text", {{"type", "array"}, {"items", {{"type", "string"}}}}},
          {"segments", {{"type", "array"}, {"items", {{"type", "object"}}}}},
          {"status", ref("Status")},
          {"error", {{"type", "string"}}},
          {"logs", {{"type", "string"}}},
          {"seed", {{"type", "integer"}}},
          {"created_at", {{"type", "string"}, {"format", "date-time"}}},
          {"started_at", {{"type", "string"}, {"format", "date-time"}}},
          {"completed_at", {{"type", "string"}, {"format", "date-time"}}},
          {"metrics", {{"type", "object"}, {"properties", {{"predict_time", {{"type", "number"}}}}}}}}}}}};
  const json pred_responses = {
      {"200", json_body(ref("PredictionResponse"))},
      {"202", {{"description", "Accepted (Prefer: respond-async)"}}},
      {"422", {{"description", "Validation error naming the field"}}},
      {"429", {{"description", "Queue full"}}}};
  json paths = {
      {"/", {{"get", {{"summary", "Web page"}}}}},
      {"/health-check", {{"get", {{"summary", "Health check: STARTING, READY, BUSY or SETUP_FAILED"}}}}},
      {"/openapi.json", {{"get", {{"summary", "This document"}}}}},
      {"/metrics", {{"get", {{"summary", "Prometheus metrics"}}}}},
      {"/predictions",
       {{"post", {{"summary", "Predict (synchronous; Prefer: respond-async returns at once)"},
                  {"requestBody", json_body(ref("PredictionRequest"))},
                  {"responses", pred_responses}}}}},
      {"/predictions/{prediction_id}",
       {{"put", {{"summary", "Idempotent predict with the caller's id"},
                 {"requestBody", json_body(ref("PredictionRequest"))},
                 {"responses", pred_responses}}},
        {"get", {{"summary", "A prediction's state"}, {"responses", {{"200", json_body(ref("PredictionResponse"))}}}}}}},
      {"/predictions/{prediction_id}/cancel", {{"post", {{"summary", "Cancel a prediction"}}}}},
      {"/predictions/{prediction_id}/events", {{"get", {{"summary", "Server-sent events: progress, preview, done"}}}}},
      {"/v1/images/generations", {{"post", {{"summary", "OpenAI Images API: generate"}}}}},
      {"/v1/images/edits", {{"post", {{"summary", "OpenAI Images API: edit (multipart image / image[], or JSON images)"}}}}},
      {"/v1/models", {{"get", {{"summary", "OpenAI: the model list"}}}}},
      {"/v1/models/{model_id}", {{"get", {{"summary", "OpenAI: one model (ids may contain /)"}}}}},
      {"/health", {{"get", {{"summary", "diffgentor-style health"}}}}}};
  json doc = {{"openapi", "3.0.2"},
              {"info", {{"title", "emu35 serve"}, {"version", "0.1.0"}}},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
  if (!opt.api_key.empty())
    doc["components"]["securitySchemes"] = {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}};
  return doc;
}

}  // namespace emu35::app::serve
