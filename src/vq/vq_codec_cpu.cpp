#include "vq/ibq_model.h"
#include "vq/vq_codec.h"

namespace emu35::vq {

namespace {
class CpuCodec final : public VqCodec {
 public:
  explicit CpuCodec(std::shared_ptr<const IbqModel> m) : m_(std::move(m)) {}
  const IbqModel& model() const override { return *m_; }
  CodeGrid encode(const Image& img) const override { return m_->encode(img); }
  Image decode(const CodeGrid& codes) const override { return m_->decode(codes); }

 private:
  std::shared_ptr<const IbqModel> m_;
};
}  // namespace

std::unique_ptr<VqCodec> make_cpu_codec(std::shared_ptr<const IbqModel> model) {
  return std::make_unique<CpuCodec>(std::move(model));
}

}  // namespace emu35::vq
