// What the engine needs of a vision tokenizer, whatever runs it (CPU or GPU):
// pictures -> codes and codes -> pictures.
#pragma once
#include <memory>

#include "image/image.h"
#include "vq/code_grid.h"

namespace emu35::vq {

class IbqModel;

class VqCodec {
 public:
  virtual ~VqCodec() = default;
  virtual const IbqModel& model() const = 0;  // config and CPU weights
  // `img` already smart-resized (sides multiples of 16).
  virtual CodeGrid encode(const Image& img) const = 0;
  virtual Image decode(const CodeGrid& codes) const = 0;
};

// The CPU reference implementation; shares the model.
std::unique_ptr<VqCodec> make_cpu_codec(std::shared_ptr<const IbqModel> model);

}  // namespace emu35::vq
