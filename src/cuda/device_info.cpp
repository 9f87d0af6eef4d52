#include "cuda/device_info.h"

#include "cuda/cuda_check.h"

namespace emu35::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp p{};
  EMU35_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  return p.name;
}

size_t device_free_memory(int device) {
  int prev = 0;
  EMU35_CUDA_CHECK(cudaGetDevice(&prev));
  EMU35_CUDA_CHECK(cudaSetDevice(device));
  size_t free_b = 0, total = 0;
  EMU35_CUDA_CHECK(cudaMemGetInfo(&free_b, &total));
  EMU35_CUDA_CHECK(cudaSetDevice(prev));
  return free_b;
}

int parse_cuda_device(const std::string& spec) {
  if (spec == "cuda") return 0;
  if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9) {
    int v = 0;
    for (char c : spec.substr(5)) {
      if (c < '0' || c > '9') throw Error("bad device \"" + spec + "\" (expected cpu, cuda or cuda:N)");
      v = v * 10 + (c - '0');
    }
    return v;
  }
  throw Error("bad device \"" + spec + "\" (expected cpu, cuda or cuda:N)");
}

}  // namespace emu35::cuda
