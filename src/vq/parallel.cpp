#include "vq/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <mutex>

namespace emu35::vq {

int num_threads() { return omp_get_max_threads(); }

namespace {
std::mutex blas_mutex;
int blas_scopes = 0;
int blas_saved_threads = 1;
}  // namespace

BlasSingleThreaded::BlasSingleThreaded() {
  std::lock_guard<std::mutex> lock(blas_mutex);
  if (blas_scopes++ == 0) {
    blas_saved_threads = openblas_get_num_threads();
    if (blas_saved_threads != 1) openblas_set_num_threads(1);
  }
}

BlasSingleThreaded::~BlasSingleThreaded() {
  std::lock_guard<std::mutex> lock(blas_mutex);
  if (--blas_scopes == 0 && blas_saved_threads != 1) openblas_set_num_threads(blas_saved_threads);
}

}  // namespace emu35::vq
