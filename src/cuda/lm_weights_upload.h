// Streams tensors from host memory (the memory-mapped checkpoint) to the GPU
// through two pinned staging buffers: while one chunk is copied to the
// device asynchronously, the next is read from the mapping (by a few threads,
// which also pulls the pages in from disk) into the other. Tensors whose
// stored dtype differs from the device type are converted on the GPU
// (bf16 -> fp32 for the fp32 runner, f16/f32 -> bf16 for the bf16 runner).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cuda/lm_kernels.h"
#include "formats/dtype.h"

namespace emu35::cuda {

class WeightUploader {
 public:
  // total_bytes: what all upload() calls will read (for the progress bar).
  WeightUploader(cudaStream_t stream, uint64_t total_bytes, bool progress);
  ~WeightUploader();
  WeightUploader(const WeightUploader&) = delete;
  WeightUploader& operator=(const WeightUploader&) = delete;

  // n elements of src_dtype at src -> n elements of dst_type at dst.
  void upload(const void* src, DType src_dtype, size_t n, void* dst, ActType dst_type);
  // Bytes as they are.
  void upload_bytes(const void* src, size_t bytes, void* dst);
  void finish();  // waits until everything is on the device

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35::cuda
