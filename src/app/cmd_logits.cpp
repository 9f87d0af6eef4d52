// `emu35 logits`: next-token logits after a list of token ids, top K as JSON.
// A debugging tool for the transformer (CPU backend).
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "app/command.h"
#include "common/error.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"

namespace emu35::app {
namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("--ids: not valid JSON (expected a list like [1, 2, 3]): " + std::string(e.what()));
  }
  if (!j.is_array() || j.empty()) throw Error("--ids: expected a non-empty JSON list of token ids");
  std::vector<int32_t> ids;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& v = j[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      throw Error("--ids: entry " + std::to_string(i) + " (" + v.dump() + ") is not a non-negative token id");
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

int run_logits(const std::string& model, const std::string& ids_text, int top, int threads) {
  if (top < 1) throw Error("--top must be at least 1");
  const std::vector<int32_t> ids = parse_ids(ids_text);
  auto weights = lm::LmWeights::load(model);
  auto runner = lm::make_cpu_runner(weights, threads);
  const int V = runner->vocab_size();
  const int64_t maxpos = runner->config().max_position_embeddings;
  if (static_cast<int64_t>(ids.size()) > maxpos)
    throw Error("--ids: " + std::to_string(ids.size()) + " tokens exceed the model's max_position_embeddings (" +
                std::to_string(maxpos) + ")");
  const int slot = runner->new_slot(static_cast<int>(ids.size()));
  std::vector<float> logits(static_cast<size_t>(V));
  const lm::LmRow row{slot, ids};
  runner->forward({&row, 1}, logits.data());

  const int k = std::min(top, V);
  std::vector<int> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  nlohmann::json out = {{"top", nlohmann::json::array()}};
  for (int i = 0; i < k; ++i) {
    const int id = order[static_cast<size_t>(i)];
    out["top"].push_back({{"id", id}, {"logit", logits[static_cast<size_t>(id)]}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

struct LogitsOpts {
  std::string model, ids;
  int top = 10;
  int threads = 0;
};

const RegisterCommand reg_logits{
    "logits", "Print the top next-token logits after a list of token ids (a debugging tool)", 70,
    [](CLI::App& sub) {
      auto o = std::make_shared<LogitsOpts>();
      sub.add_option("--model", o->model, "Emu3.5 model folder (config.json + safetensors)")->required();
      sub.add_option("--ids", o->ids, "Token ids as a JSON array, e.g. '[151849, 3838]'")->required();
      sub.add_option("--top", o->top, "How many of the highest logits to print")->capture_default_str();
      sub.add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
      return std::function<int()>([o] { return run_logits(o->model, o->ids, o->top, o->threads); });
    }};

}  // namespace
}  // namespace emu35::app
