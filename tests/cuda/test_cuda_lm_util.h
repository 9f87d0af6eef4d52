// Helpers of the GPU transformer and sampling tests: skipping without a GPU,
// fresh random seeds (printed on failure), device arrays, bf16 rounding, small
// random checkpoints, and host references built from the CPU backend's ops.
#pragma once
#ifdef EMU35_HAVE_CUDA
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_info.h"
#include "formats/dtype.h"
#include "formats/emu3_config.h"
#include "lm/lm_weights.h"
#include "test_support.h"

// Every GPU test starts with this: without a GPU it is skipped, not failed.
#define EMU35_REQUIRE_GPU()                                                \
  do {                                                                     \
    if (::emu35::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA GPU"; \
  } while (0)

namespace emu35::cuda_lm_test {

// A fresh seed per call (std::random_device); tests SCOPED_TRACE it.
uint64_t fresh_seed();
std::string seed_note(uint64_t seed);  // "seed 1234 (rerun: EMU35_TEST_SEED=1234)"

// EMU35_TEST_SEED in the environment, else fresh_seed().
uint64_t test_seed();

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f);
// Round-trips through bf16 (round to nearest even), as the device stores them.
std::vector<float> bf16_round(const std::vector<float>& v);
std::vector<uint16_t> to_bf16(const std::vector<float>& v);

// max |got - ref| / max |ref| (the fixtures' parity measure).
double rel_err(const std::vector<float>& got, const std::vector<float>& ref);

template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    if (n) EMU35_CUDA_CHECK(cudaMalloc(&p_, n * sizeof(T)));
    if (n) EMU35_CUDA_CHECK(cudaMemset(p_, 0, n * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& v) : DeviceArray(v.size()) { upload(v); }
  ~DeviceArray() {
    if (p_) cudaFree(p_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void upload(const std::vector<T>& v) {
    EMU35_CUDA_CHECK(cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> v(n_);
    EMU35_CUDA_CHECK(cudaDeviceSynchronize());
    if (n_) EMU35_CUDA_CHECK(cudaMemcpy(v.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_;
};

// Device values (bf16 bits or float) -> float.
std::vector<float> download_act(const void* p, size_t n, bool bf16);

// Model shapes for whole-runner tests (all with heads * head_dim != hidden).
Emu3Config config_tiny();   // odd sizes: hidden 44, head_dim 18 (scalar fallbacks, cuBLASLt only)
Emu3Config config_hd64();   // head_dim 64: tensor-core prefill, streaming GEMV
Emu3Config config_hd128();  // 8 query heads per kv head x 128, as the real model

// A random checkpoint (HF initialisation scaled up so logits are not flat) in a temp dir.
struct RandomModel {
  std::unique_ptr<test::TempDir> dir;
  std::shared_ptr<const lm::LmWeights> weights;
};
RandomModel random_model(const Emu3Config& cfg, uint64_t seed, DType dtype = DType::BF16);

// Token ids below the vocabulary, deterministic in seed.
std::vector<int32_t> some_ids(int n, uint64_t seed, int vocab);

}  // namespace emu35::cuda_lm_test
#endif  // EMU35_HAVE_CUDA
