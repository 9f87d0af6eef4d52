// `emu35 logits` on the fixture model: the top ids after the golden prompt are the
// golden prefill logits' top ids at the last position.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "lm_test_util.h"
#include "test_support.h"

namespace emu35::test {
namespace {

TEST(LmCli, TopIdsMatchGolden) {
  const Golden& g = golden();
  const int64_t last = static_cast<int64_t>(g.input_ids.size()) - 1;
  const auto it = std::find(g.prefill_positions.begin(), g.prefill_positions.end(), last);
  ASSERT_NE(it, g.prefill_positions.end()) << "golden file has no logits at the last prompt position";
  const int64_t V = static_cast<int64_t>(g.prefill_logits.size() / g.prefill_positions.size());
  const float* ref = g.prefill_logits.data() + (it - g.prefill_positions.begin()) * V;

  const int K = 8;
  std::string out;
  const std::string cmd = emu35_binary().string() + " logits --model '" + fixture("model").string() + "' --ids '" +
                          nlohmann::json(g.input_ids).dump() + "' --top " + std::to_string(K);
  ASSERT_EQ(run_command(cmd, &out, false), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.contains("top"));
  ASSERT_EQ(j["top"].size(), static_cast<size_t>(K));

  std::vector<int> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int a, int b) { return ref[a] > ref[b]; });
  const float max_abs = std::abs(ref[order[0]]);
  for (int i = 0; i < K; ++i) {
    EXPECT_EQ(j["top"][i]["id"].get<int>(), order[static_cast<size_t>(i)]) << "rank " << i;
    EXPECT_NEAR(j["top"][i]["logit"].get<double>(), ref[order[static_cast<size_t>(i)]], 1e-4 * max_abs);
  }
}

TEST(LmCli, DefaultTopIsTen) {
  std::string out;
  const std::string cmd =
      emu35_binary().string() + " logits --model '" + fixture("model").string() + "' --ids '[1, 2]'";
  ASSERT_EQ(run_command(cmd, &out, false), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["top"].size(), 10u);
}

TEST(LmCli, BadIdsAreClearErrors) {
  const std::string base = emu35_binary().string() + " logits --model '" + fixture("model").string() + "' --ids ";
  std::string out;
  EXPECT_NE(run_command(base + "'[1, 2'", &out), 0);
  EXPECT_NE(out.find("--ids"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(run_command(base + "'[1, 99999999]'", &out), 0);
  EXPECT_NE(out.find("outside the vocabulary"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(run_command(base + "'[]'", &out), 0);
  EXPECT_NE(out.find("non-empty"), std::string::npos) << out;
}

TEST(LmCli, MissingModelIsAClearError) {
  std::string out;
  EXPECT_NE(run_command(emu35_binary().string() + " logits --model /nonexistent/model --ids '[1]'", &out), 0);
  EXPECT_NE(out.find("/nonexistent/model"), std::string::npos) << out;
}

}  // namespace
}  // namespace emu35::test
