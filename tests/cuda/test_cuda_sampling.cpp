// On-device sampling against the host sampler (sample_task_on_host) on fresh
// random logits over the real 282926-id vocabulary: the processed row (masks,
// CFG, temperature), the ids kept by top-k / top-p, and the sampled id, for
// every step kind and a spread of sampling settings; ties at the k-th value
// and at the top-p cut; forced steps and bad tasks.
#include <gtest/gtest.h>

#ifdef EMU35_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "cuda/sampling_device.h"
#include "gen/sampler.h"
#include "gen/step_backend.h"
#include "test_cuda_lm_util.h"
#include "text/special_tokens.h"

namespace emu35::cuda_lm_test {
namespace {

constexpr int V = tok::VOCAB;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The host's row for a task before top-k / top-p, temperature not yet applied
// (as sample_task_on_host builds it).
std::vector<float> host_row_raw(const std::vector<float>& logits, const SampleTask& t) {
  auto row = [&](int r) { return std::span<const float>(logits.data() + size_t(r) * V, size_t(V)); };
  std::vector<float> w(size_t(V), kNegInf);
  switch (t.plan.kind) {
    case StepPlan::Kind::Text: {
      auto c = row(t.cond_row);
      std::copy(c.begin(), c.end(), w.begin());
      for (int i = tok::BOV; i < V; ++i) w[size_t(i)] = kNegInf;
      break;
    }
    case StepPlan::Kind::Digits: {
      auto c = row(t.cond_row);
      for (int i = t.plan.lo; i <= t.plan.hi && i < V; ++i) w[size_t(i)] = c[size_t(i)];
      break;
    }
    case StepPlan::Kind::Visual:
      if (t.full_row >= 0)
        cfg_combine3(row(t.cond_row), row(t.uncond_row), row(t.full_row), t.guidance_scale, t.image_cfg_scale, w);
      else
        cfg_combine(row(t.cond_row), row(t.uncond_row), t.guidance_scale, w);
      for (int i = 0; i < tok::BOV; ++i) w[size_t(i)] = kNegInf;
      break;
    case StepPlan::Kind::Forced:
      break;
  }
  return w;
}

const SamplingParams& params_of(const SampleTask& t) { return t.plan.kind == StepPlan::Kind::Text ? t.text : t.image; }

std::vector<float> with_temperature(std::vector<float> w, float temp) {
  if (temp != 1.0f)
    for (float& v : w)
      if (v != kNegInf && !std::isnan(v)) v = v / temp;
  return w;
}

// Random logits: mostly N(0, 2) with a heavier head so that top-p cuts fall inside.
std::vector<float> random_logits(int rows, uint64_t seed) {
  std::vector<float> l = randn(size_t(rows) * V, seed, 2.0f);
  std::mt19937_64 g(seed ^ 0x5bd1e995);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < 300; ++j) l[size_t(r) * V + g() % V] += 6.0f + float(g() % 1000) * 0.004f;
  return l;
}

SampleTask task(StepPlan::Kind kind, int cond, SamplingParams p, uint64_t seed, uint64_t step) {
  SampleTask t;
  t.plan.kind = kind;
  t.cond_row = cond;
  t.text = p;
  t.image = p;
  t.seed = seed;
  t.step = step;
  return t;
}

void check_against_host(const std::vector<float>& logits, int rows, const std::vector<SampleTask>& tasks) {
  DeviceArray<float> d(logits);
  cuda::DeviceSampler s(V);
  std::vector<int32_t> next(tasks.size(), -7);
  std::vector<cuda::DeviceSampler::Trace> trace;
  s.sample(d.get(), rows, V, tasks, next.data(), nullptr, &trace);
  std::vector<float> scratch(static_cast<size_t>(V));
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SampleTask& t = tasks[i];
    const SamplingParams& p = params_of(t);
    SCOPED_TRACE("task " + std::to_string(i) + " kind " + std::to_string(int(t.plan.kind)) + " top_k " +
                 std::to_string(p.top_k) + " top_p " + std::to_string(p.top_p) + " temp " +
                 std::to_string(p.temperature) + " step " + std::to_string(t.step));
    EXPECT_EQ(next[i], sample_task_on_host(logits.data(), V, t, scratch));
    if (t.plan.kind == StepPlan::Kind::Forced) continue;
    const std::vector<float> raw = host_row_raw(logits, t);
    const std::vector<float> built = with_temperature(raw, p.temperature);
    ASSERT_EQ(trace[i].row.size(), size_t(V));
    size_t mismatched = 0;
    for (int j = 0; j < V; ++j) {
      const float a = trace[i].row[size_t(j)], b = built[size_t(j)];
      const bool same = (a == b) || (std::isfinite(a) && std::isfinite(b) &&
                                     std::fabs(a - b) <= 1e-6f * std::max(1.0f, std::fabs(b)));
      mismatched += !same;
    }
    EXPECT_EQ(mismatched, 0u) << "processed row";
    std::vector<float> filtered = raw;
    apply_temperature_top_k_top_p(filtered, p);
    size_t kept_host = 0, kept_dev = 0, differ = 0;
    for (int j = 0; j < V; ++j) {
      const bool h = filtered[size_t(j)] != kNegInf, g = trace[i].kept[size_t(j)] != 0;
      kept_host += h;
      kept_dev += g;
      differ += h != g;
    }
    EXPECT_EQ(differ, 0u) << "kept sets: host " << kept_host << ", device " << kept_dev;
  }
}

TEST(CudaSampling, MatchesHostForEveryKindAndSetting) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const int rows = 6;
  const std::vector<float> logits = random_logits(rows, seed);
  const std::vector<SamplingParams> settings = {{1, 1.0f, 1.0f},      {1024, 0.9f, 1.0f}, {5120, 1.0f, 1.0f},
                                                {10240, 1.0f, 1.0f},  {200, 0.8f, 0.7f},  {V + 5, 0.5f, 1.3f},
                                                {131072, 1.0f, 1.0f}, {50, 0.3f, 2.0f},   {3, 0.99f, 1.0f}};
  std::mt19937_64 g(seed);
  std::vector<SampleTask> tasks;
  for (const SamplingParams& p : settings) {
    tasks.push_back(task(StepPlan::Kind::Text, 0, p, g(), g() % 5000));
    SampleTask d = task(StepPlan::Kind::Digits, 1, p, g(), g() % 5000);
    d.plan.lo = 15;
    d.plan.hi = 24;
    tasks.push_back(d);
    d.plan.lo = 100;
    d.plan.hi = 60000;
    tasks.push_back(d);
    SampleTask v = task(StepPlan::Kind::Visual, 2, p, g(), g() % 5000);
    v.uncond_row = 3;
    v.guidance_scale = 3.0f;
    tasks.push_back(v);
    v.full_row = 4;
    v.image_cfg_scale = 1.5f;
    v.cond_row = 5;
    tasks.push_back(v);
  }
  check_against_host(logits, rows, tasks);
  // One task per call gives the same ids as all in one call.
  DeviceArray<float> d(logits);
  cuda::DeviceSampler s(V);
  std::vector<int32_t> all(tasks.size());
  s.sample(d.get(), rows, V, tasks, all.data(), nullptr);
  for (size_t i = 0; i < tasks.size(); i += 7) {
    int32_t one = -1;
    s.sample(d.get(), rows, V, std::span<const SampleTask>(&tasks[i], 1), &one, nullptr);
    EXPECT_EQ(one, all[i]) << "task " << i;
  }
}

TEST(CudaSampling, DrawFollowsTheUniformNumberAcrossSteps) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const std::vector<float> logits = random_logits(1, seed);
  std::vector<SampleTask> tasks;
  for (uint64_t step = 0; step < 256; ++step)
    tasks.push_back(task(StepPlan::Kind::Text, 0, {8, 1.0f, 1.0f}, seed, step));
  DeviceArray<float> d(logits);
  cuda::DeviceSampler s(V);
  std::vector<int32_t> next(tasks.size());
  s.sample(d.get(), 1, V, tasks, next.data(), nullptr);
  std::vector<float> scratch(static_cast<size_t>(V));
  std::set<int32_t> distinct;
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(next[i], sample_task_on_host(logits.data(), V, tasks[i], scratch)) << "step " << i;
    distinct.insert(next[i]);
  }
  EXPECT_GT(distinct.size(), 1u);  // the draws really depend on the step
}

TEST(CudaSampling, TiesAtTheKthValueAndAtTheTopPCut) {
  EMU35_REQUIRE_GPU();
  std::vector<float> logits(size_t(2) * V, -10.0f);
  // Row 0: 10 large values, then 20 ids tied at the value top-k 15 lands on.
  for (int i = 0; i < 10; ++i) logits[size_t(1000 + 37 * i)] = 5.0f + float(i);
  for (int i = 0; i < 20; ++i) logits[size_t(50000 + 11 * i)] = 2.0f;
  // Row 1: 100 ids tied at the top; top-p 0.505 keeps the 51 lowest of them.
  for (int i = 0; i < 100; ++i) logits[size_t(V) + size_t(3000 + 17 * (99 - i))] = 4.0f;
  std::vector<SampleTask> tasks = {task(StepPlan::Kind::Text, 0, {15, 1.0f, 1.0f}, 1, 0),
                                   task(StepPlan::Kind::Text, 1, {1000, 0.505f, 1.0f}, 2, 0),
                                   task(StepPlan::Kind::Text, 1, {40, 0.505f, 1.0f}, 3, 9)};
  check_against_host(logits, 2, tasks);
  DeviceArray<float> d(logits);
  cuda::DeviceSampler s(V);
  std::vector<int32_t> next(tasks.size());
  std::vector<cuda::DeviceSampler::Trace> trace;
  s.sample(d.get(), 2, V, tasks, next.data(), nullptr, &trace);
  EXPECT_EQ(std::accumulate(trace[0].kept.begin(), trace[0].kept.end(), 0), 30);
  EXPECT_EQ(std::accumulate(trace[1].kept.begin(), trace[1].kept.end(), 0), 51);
  EXPECT_EQ(trace[1].kept[3000], 1);            // the lowest tied id is kept ...
  EXPECT_EQ(trace[1].kept[3000 + 17 * 99], 0);  // ... the highest is cut
}

TEST(CudaSampling, ForcedStepsAndTasksWithNothingToSample) {
  EMU35_REQUIRE_GPU();
  std::vector<float> logits(size_t(2) * V, 0.5f);
  for (int i = 0; i < tok::BOV; ++i) logits[size_t(V) + i] = kNegInf;  // row 1: text ids all masked
  SampleTask forced = task(StepPlan::Kind::Forced, 0, {1, 1.0f, 1.0f}, 1, 0);
  forced.plan.forced = tok::EOL;
  SampleTask empty_digits = task(StepPlan::Kind::Digits, 0, {5, 1.0f, 1.0f}, 1, 0);
  empty_digits.plan.lo = 24;
  empty_digits.plan.hi = 15;
  SampleTask masked_text = task(StepPlan::Kind::Text, 1, {5, 1.0f, 1.0f}, 1, 0);
  SampleTask bad_row = task(StepPlan::Kind::Text, 7, {5, 1.0f, 1.0f}, 1, 0);
  SampleTask visual_bad_uncond = task(StepPlan::Kind::Visual, 0, {5, 1.0f, 1.0f}, 1, 0);
  visual_bad_uncond.uncond_row = -1;
  SampleTask ok = task(StepPlan::Kind::Text, 0, {5, 1.0f, 1.0f}, 1, 0);
  const std::vector<SampleTask> tasks = {forced, empty_digits, masked_text, bad_row, visual_bad_uncond, ok};
  DeviceArray<float> d(logits);
  cuda::DeviceSampler s(V);
  std::vector<int32_t> next(tasks.size(), 12345);
  s.sample(d.get(), 2, V, tasks, next.data(), nullptr);
  EXPECT_EQ(next[0], tok::EOL);
  EXPECT_EQ(next[1], -1);
  EXPECT_EQ(next[2], -1);
  EXPECT_EQ(next[3], -1);
  EXPECT_EQ(next[4], -1);
  std::vector<float> scratch(static_cast<size_t>(V));
  EXPECT_EQ(next[5], sample_task_on_host(logits.data(), V, ok, scratch));
  EXPECT_GE(next[5], 0);
  EXPECT_LT(next[5], tok::BOV);
}

}  // namespace
}  // namespace emu35::cuda_lm_test

#else
TEST(CudaSampling, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
