#include "cuda/sampling_device.h"

#include <algorithm>

#include "cuda/cuda_check.h"
#include "cuda/lm_device_memory.h"
#include "cuda/sampling_kernels.h"
#include "gen/rng.h"
#include "text/special_tokens.h"

namespace emu35::cuda {

struct DeviceSampler::Impl {
  int vocab;
  int task_cap = 0, row_cap = 0;
  DeviceBuffer tasks_dev, work, cand_ids, cand_vals, out_dev, stats, kept;
  PinnedBuffer tasks_host, out_host;

  void ensure(int ntasks, int rows, bool want_kept) {
    if (ntasks > task_cap) {
      const int cap = std::max(ntasks, 2 * task_cap);
      tasks_dev = DeviceBuffer(size_t(cap) * sizeof(sampling::DeviceTask), "sampling tasks");
      tasks_host = PinnedBuffer(size_t(cap) * sizeof(sampling::DeviceTask), "sampling tasks");
      work = DeviceBuffer(size_t(cap) * vocab * 4, "sampling rows");
      cand_ids = DeviceBuffer(size_t(cap) * vocab * 4, "sampling candidates");
      cand_vals = DeviceBuffer(size_t(cap) * vocab * 4, "sampling candidates");
      out_dev = DeviceBuffer(size_t(cap) * 4, "sampled ids");
      out_host = PinnedBuffer(size_t(cap) * 4, "sampled ids");
      kept.reset();
      task_cap = cap;
    }
    if (want_kept && !kept) kept = DeviceBuffer(size_t(task_cap) * vocab, "sampling trace");
    if (rows > row_cap) {
      row_cap = std::max(rows, 2 * row_cap);
      stats = DeviceBuffer(sampling::stats_doubles(row_cap) * sizeof(double), "log-softmax statistics");
    }
  }
};

DeviceSampler::DeviceSampler(int vocab) : impl_(std::make_unique<Impl>()) {
  check(vocab > 0, "DeviceSampler: vocabulary size must be positive");
  impl_->vocab = vocab;
}

DeviceSampler::~DeviceSampler() = default;

void DeviceSampler::sample(const float* logits, int rows, int64_t ld, std::span<const SampleTask> tasks, int32_t* next,
                           cudaStream_t stream, std::vector<Trace>* trace) {
  Impl& m = *impl_;
  const int V = m.vocab;
  if (trace) trace->assign(tasks.size(), Trace{});
  std::vector<sampling::DeviceTask> dt;
  std::vector<size_t> which;  // task index of each device task
  bool any_visual = false;
  const auto row_ok = [rows](int r) { return r >= 0 && r < rows; };
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SampleTask& t = tasks[i];
    next[i] = -1;
    if (t.plan.kind == StepPlan::Kind::Forced) {
      next[i] = t.plan.forced;
      continue;
    }
    sampling::DeviceTask d{};
    d.cond = t.cond_row;
    d.uncond = -1;
    d.full = -1;
    d.bov = tok::BOV;
    d.guidance = t.guidance_scale;
    d.image_guidance = t.image_cfg_scale;
    const SamplingParams& p = t.plan.kind == StepPlan::Kind::Text ? t.text : t.image;
    d.top_k = p.top_k;
    d.top_p = p.top_p;
    d.temperature = p.temperature;
    d.u = uniform01(t.seed, 0, t.step);
    if (!row_ok(t.cond_row)) continue;
    switch (t.plan.kind) {
      case StepPlan::Kind::Text:
        d.kind = sampling::kText;
        break;
      case StepPlan::Kind::Digits:
        d.kind = sampling::kDigits;
        d.lo = t.plan.lo;
        d.hi = t.plan.hi;
        break;
      case StepPlan::Kind::Visual:
        d.kind = sampling::kVisual;
        if (!row_ok(t.uncond_row) || (t.full_row >= 0 && !row_ok(t.full_row))) continue;
        d.uncond = t.uncond_row;
        d.full = t.full_row;
        any_visual = true;
        break;
      case StepPlan::Kind::Forced:
        break;
    }
    dt.push_back(d);
    which.push_back(i);
  }
  if (dt.empty()) return;

  const int nt = static_cast<int>(dt.size());
  m.ensure(nt, rows, trace != nullptr);
  std::copy(dt.begin(), dt.end(), m.tasks_host.as<sampling::DeviceTask>());
  EMU35_CUDA_CHECK(cudaMemcpyAsync(m.tasks_dev.get(), m.tasks_host.get(), dt.size() * sizeof(sampling::DeviceTask),
                                   cudaMemcpyHostToDevice, stream));
  if (any_visual) sampling::row_stats(logits, rows, ld, V, m.stats.as<double>(), stream);
  sampling::build_rows(logits, ld, V, m.stats.as<double>(), m.tasks_dev.as<sampling::DeviceTask>(), nt,
                       m.work.as<float>(), stream);
  uint8_t* kept = nullptr;
  if (trace) {
    kept = m.kept.as<uint8_t>();
    EMU35_CUDA_CHECK(cudaMemsetAsync(kept, 0, size_t(nt) * V, stream));
  }
  std::vector<float> rows_copy;
  if (trace) {
    // The built rows, before select_and_draw (it does not modify them, but read them first anyway).
    rows_copy.resize(size_t(nt) * V);
    EMU35_CUDA_CHECK(
        cudaMemcpyAsync(rows_copy.data(), m.work.get(), rows_copy.size() * 4, cudaMemcpyDeviceToHost, stream));
  }
  sampling::select_and_draw(m.work.as<float>(), V, m.tasks_dev.as<sampling::DeviceTask>(), nt, m.cand_ids.as<int32_t>(),
                            m.cand_vals.as<float>(), m.out_dev.as<int32_t>(), kept, stream);
  EMU35_CUDA_CHECK(cudaMemcpyAsync(m.out_host.get(), m.out_dev.get(), size_t(nt) * 4, cudaMemcpyDeviceToHost, stream));
  std::vector<uint8_t> kept_copy;
  if (trace) {
    kept_copy.resize(size_t(nt) * V);
    EMU35_CUDA_CHECK(cudaMemcpyAsync(kept_copy.data(), kept, kept_copy.size(), cudaMemcpyDeviceToHost, stream));
  }
  EMU35_CUDA_CHECK(cudaStreamSynchronize(stream));
  const int32_t* out = m.out_host.as<int32_t>();
  for (int j = 0; j < nt; ++j) {
    next[which[size_t(j)]] = out[j];
    if (trace) {
      Trace& tr = (*trace)[which[size_t(j)]];
      tr.row.assign(rows_copy.begin() + size_t(j) * V, rows_copy.begin() + size_t(j + 1) * V);
      tr.kept.assign(kept_copy.begin() + size_t(j) * V, kept_copy.begin() + size_t(j + 1) * V);
    }
  }
}

}  // namespace emu35::cuda
