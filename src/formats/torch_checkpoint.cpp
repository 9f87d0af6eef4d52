#include "formats/torch_checkpoint.h"

#include <cstring>
#include <memory>
#include <unordered_map>

#include "common/error.h"
#include "formats/pickle.h"

#ifdef EMU35_HAVE_LIBZIP
#include <zip.h>
#endif

namespace emu35 {

int64_t FloatTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string FloatTensor::shape_str() const { return shape_string(shape); }

int64_t TorchTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TorchTensorInfo::contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && stride[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::vector<TorchTensorInfo> parse_torch_state_dict_pickle(std::string_view pkl, const std::string& source) {
  using pickle::Kind;
  auto doc = pickle::unpickle(pkl, source);
  const pickle::Value* root = doc->root();
  if (root->kind != Kind::Dict)
    throw Error(source + ": the pickle holds a " + std::string(pickle::kind_name(root->kind)) +
                ", not a state dict");
  const pickle::Value* sd = root;
  if (const pickle::Value* inner = root->get("state_dict")) {
    if (inner->kind != Kind::Dict) throw Error(source + ": \"state_dict\" is not a dict");
    sd = inner;
  }

  std::vector<TorchTensorInfo> out;
  std::unordered_map<std::string, size_t> index;  // a repeated key replaces the earlier value, as in Python
  for (const auto& [k, v] : sd->entries) {
    if (k->kind != Kind::Str) throw Error(source + ": state dict key is a " + std::string(pickle::kind_name(k->kind)) + ", not a string");
    if (v->kind != Kind::Tensor)
      throw Error(source + ": state dict entry '" + k->s + "' is a " + std::string(pickle::kind_name(v->kind)) +
                  ", not a tensor");
    TorchTensorInfo t;
    t.name = k->s;
    t.dtype = v->dtype;
    t.shape = v->shape;
    t.stride = v->stride;
    t.storage_offset = v->offset;
    t.storage_key = v->storage->s;
    t.storage_numel = v->storage->numel;
    // Bounds: every element the view can reach must lie inside its storage.
    int64_t numel = 1, last = 0;
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (__builtin_mul_overflow(numel, t.shape[i], &numel))
        throw Error(source + ": tensor '" + t.name + "' has an absurd shape " + shape_string(t.shape));
      int64_t reach;
      if (t.shape[i] > 0 && (__builtin_mul_overflow(t.shape[i] - 1, t.stride[i], &reach) ||
                             __builtin_add_overflow(last, reach, &last)))
        throw Error(source + ": tensor '" + t.name + "' has absurd strides");
    }
    int64_t end = 0;
    if (numel > 0 && (__builtin_add_overflow(t.storage_offset, last + 1, &end) || end > t.storage_numel))
      throw Error(source + ": tensor '" + t.name + "' " + shape_string(t.shape) + " at offset " +
                  std::to_string(t.storage_offset) + " reaches past its storage '" + t.storage_key + "' of " +
                  std::to_string(t.storage_numel) + " elements");
    auto it = index.find(t.name);
    if (it != index.end()) {
      out[it->second] = std::move(t);
    } else {
      index.emplace(t.name, out.size());
      out.push_back(std::move(t));
    }
  }
  return out;
}

#ifdef EMU35_HAVE_LIBZIP

bool torch_checkpoint_supported() { return true; }

namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileCloser>;

class Archive {
 public:
  explicit Archive(const std::filesystem::path& file) : name_(file.string()) {
    int err = 0;
    zip_t* z = zip_open(name_.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
      zip_error_t ze;
      zip_error_init_with_code(&ze, err);
      std::string why = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      if (err == ZIP_ER_NOENT || err == ZIP_ER_OPEN || err == ZIP_ER_READ)
        throw Error(name_ + ": cannot read file (" + why + ")");
      throw Error(name_ + ": not a readable torch.save zip archive (" + why + ")");
    }
    zip_.reset(z);
  }

  const std::string& name() const { return name_; }

  // Index of the entry, or -1.
  int64_t locate(const std::string& entry) const { return zip_name_locate(zip_.get(), entry.c_str(), 0); }

  int64_t num_entries() const { return zip_get_num_entries(zip_.get(), 0); }
  std::string entry_name(int64_t i) const {
    const char* n = zip_get_name(zip_.get(), static_cast<zip_uint64_t>(i), 0);
    return n ? n : "";
  }

  uint64_t entry_size(int64_t i, const std::string& entry) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw Error(name_ + ": cannot stat zip entry " + entry);
    return st.size;
  }

  // Reads exactly `size` bytes (the whole entry) into dst.
  void read(int64_t i, const std::string& entry, void* dst, uint64_t size) const {
    ZipFilePtr f(zip_fopen_index(zip_.get(), static_cast<zip_uint64_t>(i), 0));
    if (!f) throw Error(name_ + ": cannot open zip entry " + entry + " (" + zip_strerror(zip_.get()) + ")");
    uint8_t* out = static_cast<uint8_t*>(dst);
    uint64_t got = 0;
    while (got < size) {
      zip_int64_t n = zip_fread(f.get(), out + got, size - got);
      if (n < 0) throw Error(name_ + ": cannot read zip entry " + entry + " (" + zip_file_strerror(f.get()) + ")");
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (got != size)
      throw Error(name_ + ": zip entry " + entry + " is truncated (" + std::to_string(got) + " of " +
                  std::to_string(size) + " bytes)");
    // Reading past the end lets libzip verify the entry's CRC.
    uint8_t extra;
    if (zip_fread(f.get(), &extra, 1) != 0)
      throw Error(name_ + ": zip entry " + entry + " is corrupt (" + zip_file_strerror(f.get()) + ")");
  }

  std::string read_all(int64_t i, const std::string& entry, uint64_t max_size) const {
    uint64_t size = entry_size(i, entry);
    if (size > max_size) throw Error(name_ + ": zip entry " + entry + " is implausibly large (" + std::to_string(size) + " bytes)");
    std::string s(size, '\0');
    read(i, entry, s.data(), size);
    return s;
  }

 private:
  std::string name_;
  ZipPtr zip_;
};

void to_f32(DType dt, const uint8_t* src, float* dst, size_t n) {
  switch (dt) {
    case DType::I64:
      for (size_t i = 0; i < n; ++i) { int64_t v; std::memcpy(&v, src + 8 * i, 8); dst[i] = static_cast<float>(v); }
      return;
    case DType::I32:
      for (size_t i = 0; i < n; ++i) { int32_t v; std::memcpy(&v, src + 4 * i, 4); dst[i] = static_cast<float>(v); }
      return;
    case DType::U8:
      for (size_t i = 0; i < n; ++i) dst[i] = src[i];
      return;
    default: convert_to_f32(dt, src, dst, n);
  }
}

}  // namespace

StateDict load_torch_checkpoint(const std::filesystem::path& file) {
  Archive zip(file);
  const std::string& fname = zip.name();

  // <archive>/data.pkl: the archive folder is named after the file torch.save
  // wrote first, so find it rather than guess it.
  std::string prefix;
  int64_t pkl_index = -1;
  for (int64_t i = 0, n = zip.num_entries(); i < n; ++i) {
    std::string e = zip.entry_name(i);
    if (e.size() > 9 && e.ends_with("/data.pkl") && e.find('/') == e.size() - 9) {
      if (pkl_index >= 0) throw Error(fname + ": more than one data.pkl in the archive");
      pkl_index = i;
      prefix = e.substr(0, e.size() - 8);  // keeps the trailing '/'
    }
  }
  if (pkl_index < 0) throw Error(fname + ": no <archive>/data.pkl entry (not a torch.save checkpoint)");

  if (int64_t bo = zip.locate(prefix + "byteorder"); bo >= 0) {
    std::string order = zip.read_all(bo, prefix + "byteorder", 64);
    if (order != "little")
      throw Error(fname + ": byteorder is '" + order + "'; only little-endian checkpoints are supported");
  }

  std::string pkl = zip.read_all(pkl_index, prefix + "data.pkl", uint64_t(1) << 30);
  std::vector<TorchTensorInfo> infos = parse_torch_state_dict_pickle(pkl, fname + " (data.pkl)");

  for (const auto& t : infos)
    if (!t.contiguous())
      throw Error(fname + ": tensor '" + t.name + "' " + shape_string(t.shape) + " has non-contiguous strides " +
                  shape_string(t.stride) + " (not supported)");

  // Read each storage once, then cut every tensor that views it.
  std::map<std::string, std::vector<size_t>> by_storage;
  for (size_t i = 0; i < infos.size(); ++i) by_storage[infos[i].storage_key].push_back(i);

  StateDict out;
  std::vector<uint8_t> buf;
  for (const auto& [key, users] : by_storage) {
    const TorchTensorInfo& first = infos[users.front()];
    std::string entry = prefix + "data/" + key;
    int64_t idx = zip.locate(entry);
    if (idx < 0) throw Error(fname + ": storage entry " + entry + " for tensor '" + first.name + "' is missing");
    uint64_t esize = dtype_size(first.dtype);
    uint64_t want = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(first.storage_numel), esize, &want))
      throw Error(fname + ": storage " + key + " (tensor '" + first.name + "') has an absurd size");
    uint64_t have = zip.entry_size(idx, entry);
    if (have != want)
      throw Error(fname + ": storage entry " + entry + " (tensor '" + first.name + "') holds " + std::to_string(have) +
                  " bytes, but data.pkl describes " + std::to_string(first.storage_numel) + " " +
                  std::string(dtype_name(first.dtype)) + " elements (" + std::to_string(want) + " bytes)");

    // The common case, one float32 tensor covering its whole storage, reads
    // straight into the tensor.
    if (users.size() == 1 && first.dtype == DType::F32 && first.storage_offset == 0 &&
        first.numel() == first.storage_numel) {
      FloatTensor ft;
      ft.shape = first.shape;
      ft.data.resize(static_cast<size_t>(first.numel()));
      zip.read(idx, entry, ft.data.data(), want);
      out[first.name] = std::move(ft);
      continue;
    }
    buf.resize(want);
    zip.read(idx, entry, buf.data(), want);
    for (size_t u : users) {
      const TorchTensorInfo& t = infos[u];
      FloatTensor ft;
      ft.shape = t.shape;
      ft.data.resize(static_cast<size_t>(t.numel()));
      to_f32(t.dtype, buf.data() + static_cast<size_t>(t.storage_offset) * esize, ft.data.data(), ft.data.size());
      out[t.name] = std::move(ft);
    }
  }
  return out;
}

#else  // no libzip

bool torch_checkpoint_supported() { return false; }

StateDict load_torch_checkpoint(const std::filesystem::path& file) {
  throw Error(file.string() + ": built without libzip: use config.json + model.safetensors");
}

#endif

}  // namespace emu35
