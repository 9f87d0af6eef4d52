// Samplers: filters against their definitions, and draw frequencies against the
// exact probabilities over many draws (chi-square).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "gen/rng.h"
#include "gen/sampler.h"

using namespace emu35;
constexpr float NEG = -std::numeric_limits<float>::infinity();

namespace {

// Reference distribution straight from the definitions, in double precision.
std::map<int32_t, double> reference(const std::vector<float>& logits, SamplingParams p) {
  std::vector<std::pair<double, int32_t>> v;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != NEG) v.emplace_back(static_cast<double>(logits[i]) / p.temperature, static_cast<int32_t>(i));
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first; });
  if (p.top_k < static_cast<int>(v.size())) {
    double kth = v[p.top_k - 1].first;
    while (!v.empty() && v.back().first < kth) v.pop_back();
  }
  double z = 0;
  for (auto& x : v) z += std::exp(x.first - v[0].first);
  if (p.top_p < 1) {
    double cum = 0;
    size_t keep = v.size();
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0 && cum > p.top_p) {
        keep = i;
        break;
      }
      cum += std::exp(v[i].first - v[0].first) / z;
    }
    v.resize(keep);
    z = 0;
    for (auto& x : v) z += std::exp(x.first - v[0].first);
  }
  std::map<int32_t, double> out;
  for (auto& x : v) out[x.second] = std::exp(x.first - v[0].first) / z;
  return out;
}

// Draws n samples with counter-based uniforms and returns the chi-square statistic
// and degrees of freedom against the expected distribution.
void expect_frequencies(const std::vector<float>& logits, SamplingParams p, int n, uint64_t seed) {
  auto expected = reference(logits, p);
  auto dist = sampling_distribution(logits, p);
  ASSERT_EQ(dist.size(), expected.size());
  for (auto& [id, prob] : dist) EXPECT_NEAR(prob, expected.at(id), 1e-6) << id;
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    int32_t t = sample_token(logits, p, uniform01(seed, 7, static_cast<uint64_t>(i)));
    ASSERT_TRUE(expected.count(t)) << "drew filtered-out token " << t;
    ++counts[t];
  }
  double chi2 = 0;
  for (auto& [id, prob] : expected) {
    double e = prob * n;
    double o = counts[id];
    chi2 += (o - e) * (o - e) / e;
  }
  int dof = static_cast<int>(expected.size()) - 1;
  // Mean dof, sd sqrt(2 dof): 6 sd above the mean fails only by a real bias.
  if (dof > 0) {
    EXPECT_LT(chi2, dof + 6 * std::sqrt(2.0 * dof) + 10) << "dof " << dof;
  }
}

std::vector<float> random_logits(int n, uint64_t seed, float scale) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

TEST(Sampler, TopKKeepsTiesAtTheKthValue) {
  std::vector<float> l = {1, 3, 3, 2, 3, 0};
  auto d = sampling_distribution(l, {2, 1.0f, 1.0f});
  ASSERT_EQ(d.size(), 3u);  // three 3's tie at the 2nd value: all survive
  for (auto& [id, p] : d) EXPECT_NEAR(p, 1.0 / 3, 1e-9);
  EXPECT_EQ(sample_token(l, {1, 1.0f, 1.0f}, 0.99f), 4);
  EXPECT_EQ(sample_token(l, {1, 1.0f, 1.0f}, 0.0f), 1);
}

TEST(Sampler, TopPKeepsTheTokenThatCrossesP) {
  // probabilities 0.5, 0.3, 0.2 (by construction of the logits)
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  EXPECT_EQ(sampling_distribution(l, {10, 0.5f, 1.0f}).size(), 1u);   // 0.5 reaches p: stop after it
  EXPECT_EQ(sampling_distribution(l, {10, 0.51f, 1.0f}).size(), 2u);  // second crosses 0.51: kept
  EXPECT_EQ(sampling_distribution(l, {10, 0.79f, 1.0f}).size(), 2u);
  EXPECT_EQ(sampling_distribution(l, {10, 0.81f, 1.0f}).size(), 3u);
  EXPECT_EQ(sampling_distribution(l, {10, 0.05f, 1.0f}).size(), 1u);  // always at least one
}

TEST(Sampler, MaskedTokensNeverDrawn) {
  std::vector<float> l(50, NEG);
  l[7] = 0.3f;
  l[40] = 0.1f;
  for (int i = 0; i < 1000; ++i) {
    int32_t t = sample_token(l, {1024, 0.9f, 0.7f}, uniform01(1, 0, i));
    EXPECT_TRUE(t == 7 || t == 40);
  }
  std::vector<float> none(5, NEG);
  EXPECT_ANY_THROW(sample_token(none, {}, 0.5f));
}

TEST(Sampler, FrequenciesMatchExactProbabilities) {
  const int n = 60000;
  auto l = random_logits(300, 11, 1.5f);
  expect_frequencies(l, {1000, 1.0f, 1.0f}, n, 1);  // plain softmax
  expect_frequencies(l, {20, 1.0f, 1.0f}, n, 2);    // top-k
  expect_frequencies(l, {1000, 0.6f, 1.0f}, n, 3);  // top-p
  expect_frequencies(l, {200, 0.8f, 0.7f}, n, 4);   // howto text settings
  expect_frequencies(l, {50, 1.0f, 2.5f}, n, 5);    // hot temperature
  expect_frequencies(l, {1000, 0.9f, 0.3f}, n, 6);  // cold temperature + top-p
}

TEST(Sampler, UniformsAreUniformAndCounterBased) {
  EXPECT_EQ(uniform01(42, 0, 17), uniform01(42, 0, 17));
  EXPECT_NE(uniform01(42, 0, 17), uniform01(43, 0, 17));
  EXPECT_NE(uniform01(42, 0, 17), uniform01(42, 1, 17));
  int bins[10] = {};
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    float u = uniform01(9, 0, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    ++bins[static_cast<int>(u * 10)];
  }
  double chi2 = 0;
  for (int b : bins) chi2 += (b - n / 10.0) * (b - n / 10.0) / (n / 10.0);
  EXPECT_LT(chi2, 40.0);  // 9 dof
}

TEST(Sampler, CfgCombineIsLogSoftmaxMix) {
  std::vector<float> c = {1, 2, 3, 0.5f}, u = {0.2f, 0.1f, 3, 2}, out(4), lc(4), lu(4);
  log_softmax(c, lc);
  log_softmax(u, lu);
  double s = 0;
  for (float x : lc) s += std::exp(x);
  EXPECT_NEAR(s, 1.0, 1e-6);
  cfg_combine(c, u, 3.0f, out);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], lu[i] + 3.0f * (lc[i] - lu[i]), 1e-5);
  cfg_combine(c, u, 1.0f, out);  // g = 1 gives the conditional distribution
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], lc[i], 1e-6);
  std::vector<float> a = {0, 0, 0, 0}, la(4);
  log_softmax(a, la);
  cfg_combine3(c, u, a, 2.0f, 1.5f, out);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], la[i] + 1.5f * (lu[i] - la[i]) + 2.0f * (lc[i] - lu[i]), 1e-5);
}
