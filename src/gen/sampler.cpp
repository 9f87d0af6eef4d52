#include "gen/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace emu35 {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Cand {
  int32_t id;
  float logit;
};

// Candidates (finite logits) after temperature, top-k and top-p; sorted by id.
std::vector<Cand> filtered_candidates(std::span<const float> logits, const SamplingParams& p) {
  std::vector<Cand> c;
  c.reserve(1024);
  const bool temp = p.temperature != 1.0f;
  for (size_t i = 0; i < logits.size(); ++i) {
    float v = logits[i];
    if (v == kNegInf || std::isnan(v)) continue;
    c.push_back({static_cast<int32_t>(i), temp ? v / p.temperature : v});
  }
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) {
    std::vector<float> vals(c.size());
    for (size_t i = 0; i < c.size(); ++i) vals[i] = c[i].logit;
    std::nth_element(vals.begin(), vals.begin() + (p.top_k - 1), vals.end(), std::greater<float>());
    const float kth = vals[p.top_k - 1];
    std::erase_if(c, [kth](const Cand& x) { return x.logit < kth; });
  }
  if (p.top_p < 1.0f && c.size() > 1) {
    std::vector<Cand> s = c;
    std::stable_sort(s.begin(), s.end(), [](const Cand& a, const Cand& b) { return a.logit > b.logit; });
    const float mx = s.front().logit;
    double total = 0;
    std::vector<double> e(s.size());
    for (size_t i = 0; i < s.size(); ++i) total += (e[i] = std::exp(static_cast<double>(s[i].logit - mx)));
    // Keep every token whose preceding cumulative probability is <= p: the
    // first token crossing p is kept, the rest removed.
    double cum = 0;
    size_t keep = s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      if (i > 0 && cum > p.top_p) {
        keep = i;
        break;
      }
      cum += e[i] / total;
    }
    s.resize(keep);
    std::sort(s.begin(), s.end(), [](const Cand& a, const Cand& b) { return a.id < b.id; });
    c = std::move(s);
  }
  return c;
}
}  // namespace

void apply_temperature_top_k_top_p(std::span<float> logits, const SamplingParams& p) {
  std::vector<Cand> c = filtered_candidates(logits, p);
  std::fill(logits.begin(), logits.end(), kNegInf);
  for (auto& x : c) logits[x.id] = x.logit;
}

std::vector<std::pair<int32_t, double>> sampling_distribution(std::span<const float> logits, const SamplingParams& p) {
  std::vector<Cand> c = filtered_candidates(logits, p);
  std::vector<std::pair<int32_t, double>> out;
  if (c.empty()) return out;
  float mx = kNegInf;
  for (auto& x : c) mx = std::max(mx, x.logit);
  double total = 0;
  for (auto& x : c) {
    double e = std::exp(static_cast<double>(x.logit - mx));
    out.emplace_back(x.id, e);
    total += e;
  }
  for (auto& o : out) o.second /= total;
  return out;
}

int32_t sample_token(std::span<const float> logits, const SamplingParams& p, float u) {
  std::vector<Cand> c = filtered_candidates(logits, p);
  if (c.empty()) throw Error("sampling: every token is masked (no finite logit left)");
  if (c.size() == 1) return c[0].id;
  float mx = kNegInf;
  for (auto& x : c) mx = std::max(mx, x.logit);
  std::vector<double> cum(c.size());
  double total = 0;
  for (size_t i = 0; i < c.size(); ++i) cum[i] = (total += std::exp(static_cast<double>(c[i].logit - mx)));
  const double target = static_cast<double>(u) * total;
  size_t i = std::upper_bound(cum.begin(), cum.end(), target) - cum.begin();
  return c[std::min(i, c.size() - 1)].id;
}

void log_softmax(std::span<const float> x, std::span<float> out) {
  float mx = kNegInf;
  for (float v : x) mx = std::max(mx, v);
  double s = 0;
  for (float v : x) s += std::exp(static_cast<double>(v - mx));
  const float lse = mx + static_cast<float>(std::log(s));
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] - lse;
}

void cfg_combine(std::span<const float> cond, std::span<const float> uncond, float g, std::span<float> out) {
  std::vector<float> lu(uncond.size());
  log_softmax(cond, out);
  log_softmax(uncond, lu);
  for (size_t i = 0; i < out.size(); ++i) out[i] = lu[i] + g * (out[i] - lu[i]);
}

void cfg_combine3(std::span<const float> cond, std::span<const float> uncond, std::span<const float> uncond_full,
                  float g, float gi, std::span<float> out) {
  std::vector<float> lu(uncond.size()), la(uncond_full.size());
  log_softmax(cond, out);
  log_softmax(uncond, lu);
  log_softmax(uncond_full, la);
  for (size_t i = 0; i < out.size(); ++i) out[i] = la[i] + gi * (lu[i] - la[i]) + g * (out[i] - lu[i]);
}

}  // namespace emu35
