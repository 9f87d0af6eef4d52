// Whether a usable GPU is present (tests skip without one) and what it is.
#pragma once
#include <string>

namespace emu35::cuda {

int device_count();  // 0 when no driver / no GPU (never throws)
std::string device_name(int device);
size_t device_free_memory(int device);
// "cuda" -> 0, "cuda:3" -> 3; Error for anything else.
int parse_cuda_device(const std::string& spec);

}  // namespace emu35::cuda
