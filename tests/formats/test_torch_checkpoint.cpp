// torch.save checkpoints: the safe unpickler on hand-built pickles (good and
// hostile), and whole zip archives (the fixture, archives the test builds, and
// damaged copies of the fixture).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "formats/dtype.h"
#include "formats/pickle.h"
#include "formats/torch_checkpoint.h"
#include "test_support.h"

#ifdef EMU35_HAVE_LIBZIP
#include <zip.h>
#endif

namespace fs = std::filesystem;

namespace emu35 {
namespace {

// Writes pickle opcodes by hand, the way torch.save (protocol 2) lays them out.
struct PickleWriter {
  std::string b;
  PickleWriter& op(uint8_t o) { b.push_back(char(o)); return *this; }
  PickleWriter& raw(const std::string& s) { b += s; return *this; }
  PickleWriter& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(char((v >> (8 * i)) & 0xff));
    return *this;
  }
  PickleWriter& proto(int v = 2) { return op(0x80).le(uint64_t(v), 1); }
  PickleWriter& str(const std::string& s) { return op('X').le(s.size(), 4).raw(s); }
  PickleWriter& short_str(const std::string& s) { return op(0x8c).le(s.size(), 1).raw(s); }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').le(uint64_t(v), 1);
    if (v >= 0 && v < 65536) return op('M').le(uint64_t(v), 2);
    return op('J').le(uint64_t(uint32_t(int32_t(v))), 4);
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& ints_tuple(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return tuple();
  }
  PickleWriter& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t storage_numel, int64_t offset,
                       const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(storage_numel).tuple();
    op('Q');  // BINPERSID
    integer(offset).ints_tuple(size).ints_tuple(stride).op(0x89);
    ordered_dict();
    tuple();
    return op('R');
  }
  PickleWriter& stop() { return op('.'); }
};

struct TensorSpec {
  std::string name, storage_type, key;
  int64_t storage_numel, offset;
  std::vector<int64_t> size, stride;
};

// {"state_dict": OrderedDict(name -> tensor)} with torch's _metadata BUILD, or a bare OrderedDict.
std::string state_dict_pickle(const std::vector<TensorSpec>& specs, bool wrapped) {
  PickleWriter p;
  p.proto();
  if (wrapped) p.op('}').op('q').le(0, 1).str("state_dict");
  p.ordered_dict().op('q').le(1, 1);
  p.mark();
  for (const auto& t : specs) p.str(t.name).tensor(t.storage_type, t.key, t.storage_numel, t.offset, t.size, t.stride);
  p.op('u');  // SETITEMS
  // state: {"_metadata": OrderedDict("" -> {"version": 1})}, applied by BUILD
  p.op('}').str("_metadata").ordered_dict().str("").op('}').str("version").integer(1).op('s').op('s').op('s').op('b');
  if (wrapped) p.op('s');
  return p.stop().b;
}

TEST(Unpickler, ParsesTorchStateDictLayout) {
  std::vector<TensorSpec> specs = {
      {"a.weight", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
      {"a.bias", "HalfStorage", "1", 10, 4, {3}, {1}},
      {"b", "BFloat16Storage", "2", 70000, 0, {70000}, {1}},
  };
  for (bool wrapped : {true, false}) {
    auto infos = parse_torch_state_dict_pickle(state_dict_pickle(specs, wrapped), "test.pkl");
    ASSERT_EQ(infos.size(), 3u);
    EXPECT_EQ(infos[0].name, "a.weight");
    EXPECT_EQ(infos[0].dtype, DType::F32);
    EXPECT_EQ(infos[0].shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(infos[0].stride, (std::vector<int64_t>{3, 1}));
    EXPECT_TRUE(infos[0].contiguous());
    EXPECT_EQ(infos[1].dtype, DType::F16);
    EXPECT_EQ(infos[1].storage_offset, 4);
    EXPECT_EQ(infos[1].storage_key, "1");
    EXPECT_EQ(infos[2].dtype, DType::BF16);
    EXPECT_EQ(infos[2].storage_numel, 70000);
  }
}

TEST(Unpickler, ReadsProtocol4Opcodes) {
  // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINGET of a memoised object, LONG1, BINFLOAT.
  PickleWriter p;
  p.proto(4).op(0x95).le(0, 8);
  p.op('}').op(0x94);  // memo 0: the dict
  p.short_str("x").short_str("collections").short_str("OrderedDict").op(0x93).op(')').op('R').op(0x94);
  p.op('s');
  p.short_str("n").op(0x8a).le(2, 1).le(0xff7f, 2).op('s');  // LONG1 of 2 bytes: 0xff7f = -129
  p.short_str("f").op('G').raw(std::string("\x3f\xf8\0\0\0\0\0\0", 8)).op('s');  // 1.5 big-endian
  p.short_str("l").op(']').mark().op(0x88).op('N').op('e').op('s');
  p.stop();
  auto doc = pickle::unpickle(p.b, "p4.pkl");
  const pickle::Value* root = doc->root();
  ASSERT_EQ(root->kind, pickle::Kind::Dict);
  ASSERT_NE(root->get("x"), nullptr);
  EXPECT_EQ(root->get("x")->kind, pickle::Kind::Dict);
  EXPECT_EQ(root->get("n")->i, -129);
  EXPECT_DOUBLE_EQ(root->get("f")->f, 1.5);
  ASSERT_EQ(root->get("l")->items.size(), 2u);
  EXPECT_TRUE(root->get("l")->items[0]->b);
  EXPECT_EQ(root->get("l")->items[1]->kind, pickle::Kind::None);
}

void expect_error(const std::string& pkl, const std::vector<std::string>& fragments) {
  try {
    parse_torch_state_dict_pickle(pkl, "evil.pkl");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  (missing '" << f << "')";
  }
}

TEST(Unpickler, RejectsForbiddenGlobal) {
  // The classic payload: os.system("echo pwned") via GLOBAL + REDUCE.
  PickleWriter p;
  p.proto().global("os", "system").mark().str("echo pwned").tuple().op('R').stop();
  expect_error(p.b, {"forbidden pickle global 'os system'", "evil.pkl", "at byte 2"});

  PickleWriter q;  // the same through STACK_GLOBAL
  q.proto(4).short_str("builtins").short_str("eval").op(0x93).stop();
  expect_error(q.b, {"forbidden pickle global 'builtins eval'"});

  PickleWriter r;  // a storage class REDUCEd is not a constructor call we allow
  r.proto().global("torch", "FloatStorage").op(')').op('R').stop();
  expect_error(r.b, {"REDUCE on storage class 'torch FloatStorage'"});
}

TEST(Unpickler, RejectsUnsupportedOpcodes) {
  PickleWriter p;
  p.proto().op('}').op('i').raw("os\nsystem\n").stop();  // INST
  expect_error(p.b, {"unsupported pickle opcode 0x69 at byte 3 in evil.pkl"});
  PickleWriter q;
  q.proto().op('}').op(0x8e).le(3, 8).raw("abc").stop();  // BINBYTES8
  expect_error(q.b, {"unsupported pickle opcode 0x8e"});
}

TEST(Unpickler, RejectsMalformedPickles) {
  std::string good = state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {4}, {1}}}, true);
  expect_error(good.substr(0, good.size() / 2), {"truncated pickle"});
  expect_error(good.substr(0, good.size() - 1), {"no STOP"});
  expect_error(good + "x", {"trailing bytes"});
  expect_error(std::string("\x80\x02h\x07.", 5), {"memo entry 7 is not defined"});
  expect_error(std::string("\x80\x02s.", 4), {"stack underflow"});
  expect_error(std::string("\x80\x02K\x01.", 5), {"not a state dict"});
  expect_error(std::string("\x80\x09}.", 4), {"unsupported pickle protocol 9"});
  // A string length pointing far past the end must not allocate or read out of bounds.
  expect_error(std::string("\x80\x02X\xff\xff\xff\x7f", 8), {"truncated pickle"});
}

TEST(Unpickler, RejectsBadStateDictEntries) {
  PickleWriter p;  // a non-tensor value
  p.proto().op('}').str("w").integer(3).op('s').stop();
  expect_error(p.b, {"entry 'w' is a int, not a tensor"});

  // a view reaching past its storage
  expect_error(state_dict_pickle({{"w", "FloatStorage", "0", 6, 2, {2, 3}, {3, 1}}}, true),
               {"tensor 'w'", "reaches past its storage"});
  // float64 storages cannot be represented
  expect_error(state_dict_pickle({{"w", "DoubleStorage", "0", 4, 0, {4}, {1}}}, true),
               {"unsupported tensor storage type 'torch DoubleStorage'"});
  // a persistent id that is not a storage record
  PickleWriter q;
  q.proto().op('}').str("w").mark().str("other").tuple().op('Q').op('s').stop();
  expect_error(q.b, {"unsupported persistent id"});
  // storage key with a path in it
  expect_error(state_dict_pickle({{"w", "FloatStorage", "../x", 4, 0, {4}, {1}}}, true), {"bad storage key"});
}

TEST(Unpickler, ContiguityOfViews) {
  TorchTensorInfo t;
  t.shape = {2, 3};
  t.stride = {3, 1};
  EXPECT_TRUE(t.contiguous());
  t.stride = {1, 2};  // a transpose
  EXPECT_FALSE(t.contiguous());
  t.shape = {1, 3};
  t.stride = {99, 1};  // size-1 dims may have any stride
  EXPECT_TRUE(t.contiguous());
}

#ifdef EMU35_HAVE_LIBZIP

const fs::path kFixtureCkpt = "vq/model.ckpt";

// Builds a zip: entries name -> bytes (stored, as torch writes them).
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    ASSERT_NE(s, nullptr);
    ASSERT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

// A writable copy of the fixture checkpoint, edited with libzip:
// replace (or add) entries, then delete entries.
fs::path edited_fixture(const test::TempDir& dir, const std::vector<std::pair<std::string, std::string>>& replace,
                        const std::vector<std::string>& remove) {
  fs::path out = dir / "edited.ckpt";
  fs::copy_file(test::fixture(kFixtureCkpt.string()), out, fs::copy_options::overwrite_existing);
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_write);
  int err = 0;
  zip_t* z = zip_open(out.c_str(), 0, &err);
  EXPECT_NE(z, nullptr);
  for (const auto& [name, bytes] : replace) {
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    EXPECT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE), 0);
  }
  for (const auto& name : remove) {
    zip_int64_t i = zip_name_locate(z, name.c_str(), 0);
    EXPECT_GE(i, 0) << name;
    EXPECT_EQ(zip_delete(z, zip_uint64_t(i)), 0);
  }
  EXPECT_EQ(zip_close(z), 0);
  return out;
}

std::string raw_entry(const fs::path& zip_path, const std::string& name) {
  int err = 0;
  zip_t* z = zip_open(zip_path.c_str(), ZIP_RDONLY, &err);
  EXPECT_NE(z, nullptr);
  zip_stat_t st;
  EXPECT_EQ(zip_stat(z, name.c_str(), 0, &st), 0);
  std::string bytes(st.size, '\0');
  zip_file_t* f = zip_fopen(z, name.c_str(), 0);
  EXPECT_EQ(zip_fread(f, bytes.data(), st.size), zip_int64_t(st.size));
  zip_fclose(f);
  zip_discard(z);
  return bytes;
}

void expect_load_error(const fs::path& file, const std::vector<std::string>& fragments) {
  try {
    load_torch_checkpoint(file);
    FAIL() << "no error for " << file;
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  (missing '" << f << "')";
  }
}

TEST(TorchCheckpoint, LoadsFixtureStateDict) {
  ASSERT_TRUE(torch_checkpoint_supported());
  const fs::path ckpt = test::fixture(kFixtureCkpt.string());
  StateDict sd = load_torch_checkpoint(ckpt);
  ASSERT_EQ(sd.size(), 243u);
  ASSERT_TRUE(sd.count("encoder.conv_in.weight"));
  EXPECT_EQ(sd["encoder.conv_in.weight"].shape, (std::vector<int64_t>{32, 3, 3, 3}));
  EXPECT_EQ(sd["quantize.embedding.weight"].shape, (std::vector<int64_t>{64, 32}));
  // Values: bit-identical to the raw little-endian float32 storage entries.
  for (const auto& [name, key] : std::vector<std::pair<std::string, std::string>>{
           {"encoder.conv_in.weight", "0"}, {"encoder.conv_in.bias", "1"}, {"quantize.embedding.weight", "238"}}) {
    std::string raw = raw_entry(ckpt, "model/data/" + key);
    const FloatTensor& t = sd[name];
    ASSERT_EQ(raw.size(), t.data.size() * 4) << name;
    EXPECT_EQ(std::memcmp(raw.data(), t.data.data(), raw.size()), 0) << name;
  }
}

TEST(TorchCheckpoint, LoadsViewsAndHalfStorages) {
  test::TempDir dir("torchzip");
  // storage 0: 8 floats shared by two views; storage 1: fp16; storage 2: bf16; storage 3: int64
  std::vector<float> f = {0, 1, 2, 3, 4, 5, 6, 7};
  std::string s0(reinterpret_cast<const char*>(f.data()), 32);
  std::vector<uint16_t> h = {f32_to_f16(1.5f), f32_to_f16(-2.0f), f32_to_f16(0.25f)};
  std::string s1(reinterpret_cast<const char*>(h.data()), 6);
  std::vector<uint16_t> bf = {f32_to_bf16(3.0f), f32_to_bf16(-0.5f)};
  std::string s2(reinterpret_cast<const char*>(bf.data()), 4);
  std::vector<int64_t> l = {42};
  std::string s3(reinterpret_cast<const char*>(l.data()), 8);
  std::string pkl = state_dict_pickle({{"head", "FloatStorage", "0", 8, 0, {2, 2}, {2, 1}},
                                       {"tail", "FloatStorage", "0", 8, 5, {3}, {1}},
                                       {"half", "HalfStorage", "1", 3, 0, {3}, {1}},
                                       {"bf", "BFloat16Storage", "2", 2, 1, {1, 1}, {1, 1}},
                                       {"steps", "LongStorage", "3", 1, 0, {}, {}}},
                                      true);
  fs::path file = dir / "views.ckpt";
  write_zip(file, {{"archive/data.pkl", pkl}, {"archive/byteorder", "little"}, {"archive/data/0", s0},
                   {"archive/data/1", s1}, {"archive/data/2", s2}, {"archive/data/3", s3}});
  StateDict sd = load_torch_checkpoint(file);
  ASSERT_EQ(sd.size(), 5u);
  EXPECT_EQ(sd["head"].data, (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(sd["tail"].data, (std::vector<float>{5, 6, 7}));
  EXPECT_EQ(sd["half"].data, (std::vector<float>{1.5f, -2.0f, 0.25f}));
  EXPECT_EQ(sd["bf"].data, (std::vector<float>{-0.5f}));
  EXPECT_EQ(sd["bf"].shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(sd["steps"].data, (std::vector<float>{42.0f}));
  EXPECT_TRUE(sd["steps"].shape.empty());
}

TEST(TorchCheckpoint, RejectsNonContiguousView) {
  test::TempDir dir("torchzip");
  std::vector<float> f(6, 1.0f);
  std::string s0(reinterpret_cast<const char*>(f.data()), 24);
  fs::path file = dir / "t.ckpt";
  write_zip(file, {{"a/data.pkl", state_dict_pickle({{"wt", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}}}, false)},
                   {"a/data/0", s0}});
  expect_load_error(file, {"tensor 'wt'", "non-contiguous"});
}

TEST(TorchCheckpoint, RejectsBadFiles) {
  test::TempDir dir("torchzip");
  const fs::path fixture = test::fixture(kFixtureCkpt.string());

  // not a zip at all
  test::write_file(dir / "text.ckpt", "this is not a zip archive, just some text that is long enough");
  expect_load_error(dir / "text.ckpt", {"text.ckpt", "not a readable torch.save zip"});
  // an empty file
  test::write_file(dir / "empty.ckpt", "");
  expect_load_error(dir / "empty.ckpt", {"empty.ckpt"});
  // truncated: the central directory at the end is gone
  std::string bytes = test::read_file(fixture);
  test::write_file(dir / "trunc.ckpt", bytes.substr(0, bytes.size() / 2));
  expect_load_error(dir / "trunc.ckpt", {"trunc.ckpt", "not a readable torch.save zip"});
  // missing file
  expect_load_error(dir / "nope.ckpt", {"nope.ckpt"});
  // a zip without data.pkl
  write_zip(dir / "nopkl.ckpt", {{"archive/data/0", std::string(16, '\0')}});
  expect_load_error(dir / "nopkl.ckpt", {"nopkl.ckpt", "data.pkl"});
}

TEST(TorchCheckpoint, RejectsDamagedFixtureCopies) {
  {
    test::TempDir dir("torchzip");
    expect_load_error(edited_fixture(dir, {}, {"model/data.pkl"}), {"no <archive>/data.pkl"});
  }
  {
    test::TempDir dir("torchzip");
    expect_load_error(edited_fixture(dir, {}, {"model/data/5"}),
                      {"storage entry model/data/5", "encoder.down.0.block.0.conv1.bias", "missing"});
  }
  {
    test::TempDir dir("torchzip");  // 32 floats expected, 31 present
    expect_load_error(edited_fixture(dir, {{"model/data/5", std::string(124, '\0')}}, {}),
                      {"model/data/5", "holds 124 bytes", "32 F32 elements (128 bytes)"});
  }
  {
    test::TempDir dir("torchzip");
    PickleWriter p;
    p.proto().global("os", "system").mark().str("touch /tmp/pwned").tuple().op('R').stop();
    expect_load_error(edited_fixture(dir, {{"model/data.pkl", p.b}}, {}),
                      {"forbidden pickle global 'os system'", "edited.ckpt (data.pkl)"});
  }
  {
    test::TempDir dir("torchzip");
    expect_load_error(edited_fixture(dir, {{"model/byteorder", "big"}}, {}), {"byteorder is 'big'"});
  }
}

#else

TEST(TorchCheckpoint, ExplainsMissingLibzip) {
  EXPECT_FALSE(torch_checkpoint_supported());
  try {
    load_torch_checkpoint(test::fixture("vq/model.ckpt"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("built without libzip"), std::string::npos);
  }
}

#endif

}  // namespace
}  // namespace emu35
