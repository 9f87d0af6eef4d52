#include "app/edit/gpu_slices.h"

#include <filesystem>

#include "common/error.h"

namespace emu35::app::edit {

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Without CUDA_VISIBLE_DEVICES: the GPUs the NVIDIA driver lists.
int driver_gpu_count() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}
}  // namespace

std::vector<std::string> visible_gpus(std::optional<int> num_gpus, const EnvLookup& env) {
  std::vector<std::string> ids;
  const char* cvd = env("CUDA_VISIBLE_DEVICES");
  if (cvd) {
    const std::string s = cvd;
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      std::string id = trim(s.substr(start, comma - start));
      if (!id.empty()) ids.push_back(id);
      start = comma + 1;
    }
  } else {
    const int n = num_gpus ? *num_gpus : driver_gpu_count();
    for (int i = 0; i < n; ++i) ids.push_back(std::to_string(i));
  }
  if (num_gpus) {
    if (*num_gpus < 1) throw Error("--num_gpus must be at least 1, got " + std::to_string(*num_gpus));
    if (cvd && static_cast<size_t>(*num_gpus) > ids.size())
      throw Error("--num_gpus " + std::to_string(*num_gpus) + " but CUDA_VISIBLE_DEVICES lists only " +
                  std::to_string(ids.size()) + " GPU(s)");
    ids.resize(static_cast<size_t>(*num_gpus));
  }
  if (ids.empty()) ids.push_back("0");  // diffgentor counts at least one GPU
  return ids;
}

std::vector<std::string> gpu_slices(const std::vector<std::string>& gpus, int g) {
  if (g <= 0) return {};
  const size_t k = gpus.size() / static_cast<size_t>(g);
  if (k == 0)
    throw Error("not enough GPUs: DG_EMU35_GPUS_PER_MODEL=" + std::to_string(g) + " but " +
                std::to_string(gpus.size()) + " GPU(s) are visible");
  if (k < 2) return {};
  std::vector<std::string> out;
  for (size_t i = 0; i < k; ++i) {
    std::string s;
    for (size_t j = 0; j < static_cast<size_t>(g); ++j) {
      if (j) s += ",";
      s += gpus[i * g + j];
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace emu35::app::edit
