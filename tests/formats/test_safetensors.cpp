// safetensors: good single/sharded files, every header validation, dtype conversions.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "formats/safetensors.h"
#include "test_support.h"

using namespace emu35;
using emu35::test::TempDir;
using nlohmann::json;

namespace {

// Builds a raw safetensors file from a header JSON and a data blob (for bad-file tests).
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

// Expects open() to throw an Error whose message contains every fragment.
void expect_error(const std::filesystem::path& p, std::initializer_list<std::string> fragments) {
  try {
    SafeTensors::open(p);
    FAIL() << "expected an error for " << p;
  } catch (const Error& e) {
    std::string msg = e.what();
    for (auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
  }
}

}  // namespace

TEST(SafeTensors, RoundTripAllDtypes) {
  TempDir dir("st");
  SafeTensorsWriter w;
  std::vector<float> f = {1.5f, -2.25f, 0.375f, 65504.0f, -0.0f, 7.0f};
  w.add_f32("f32", {2, 3}, f.data());
  w.add_bf16("bf16", {6}, f.data());
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) h[i] = f32_to_f16(f[i]);
  w.add("f16", DType::F16, {3, 2}, h.data(), h.size() * 2);
  std::vector<int64_t> i64 = {-5, 1ll << 40, 7};
  w.add("i64", DType::I64, {3}, i64.data(), 24);
  std::vector<int32_t> i32 = {-1, 2};
  w.add("i32", DType::I32, {2}, i32.data(), 8);
  std::vector<uint8_t> u8 = {0, 255, 9};
  w.add("u8", DType::U8, {3}, u8.data(), 3);
  std::vector<uint8_t> f8 = {0x38, 0xb8, 0x7e, 0x01};  // 1.0, -1.0, 448, 2^-9
  w.add("f8", DType::F8_E4M3, {4}, f8.data(), 4);
  w.add("empty", DType::F32, {0, 4}, nullptr, 0);
  w.set_metadata("format", "pt");
  w.write(dir / "m.safetensors");

  SafeTensors st = SafeTensors::open(dir / "m.safetensors");
  EXPECT_EQ(st.size(), 8u);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.get("f32").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(st.to_f32("f32"), f);
  auto b = st.to_f32("bf16");
  for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(b[i], f[i], std::fabs(f[i]) / 128 + 1e-30) << i;
  EXPECT_EQ(st.to_f32("f16"), f);  // all exactly representable in f16
  EXPECT_EQ(st.to_i64("i64"), i64);
  EXPECT_EQ(st.to_i64("i32"), (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ(st.to_i64("u8"), (std::vector<int64_t>{0, 255, 9}));
  EXPECT_EQ(st.to_f32("f8"), (std::vector<float>{1.0f, -1.0f, 448.0f, std::ldexp(1.0f, -9)}));
  EXPECT_EQ(st.get("empty").numel(), 0);
  EXPECT_THROW(st.to_f32("i64"), Error);
  EXPECT_THROW(st.to_i64("f32"), Error);
  // Directory form finds model.safetensors.
  std::filesystem::rename(dir / "m.safetensors", dir / "model.safetensors");
  EXPECT_EQ(SafeTensors::open(dir.path()).size(), 8u);
}

TEST(SafeTensors, MissingTensorAndWrongShapeAreNamed) {
  TempDir dir("st");
  SafeTensorsWriter w;
  float v[4] = {1, 2, 3, 4};
  w.add_f32("layer.weight", {2, 2}, v);
  w.write(dir / "a.safetensors");
  SafeTensors st = SafeTensors::open(dir / "a.safetensors");
  try {
    st.get("layer.bias");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer.bias"), std::string::npos);
  }
  try {
    st.get("layer.weight", {4, 1});
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("layer.weight"), std::string::npos);
    EXPECT_NE(m.find("[2, 2]"), std::string::npos);
    EXPECT_NE(m.find("[4, 1]"), std::string::npos);
  }
  EXPECT_NO_THROW(st.get("layer.weight", {2, 2}));
}

TEST(SafeTensors, ShardedRoundTrip) {
  TempDir dir("st");
  SafeTensorsWriter w;
  std::vector<float> a(100, 1.0f), b(100, 2.0f), c(100, 3.0f);
  w.add_f32("a", {100}, a.data());
  w.add_f32("b", {10, 10}, b.data());
  w.add_f32("c", {100}, c.data());
  w.write_sharded(dir.path(), 500);  // 400 bytes per tensor -> 3 shards
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00003-of-00003.safetensors"));
  SafeTensors st = SafeTensors::open(dir.path());
  EXPECT_EQ(st.size(), 3u);
  EXPECT_EQ(st.to_f32("b"), b);
  EXPECT_EQ(st.to_f32("c"), c);
  EXPECT_NE(*st.get("a").file, *st.get("c").file);
}

TEST(SafeTensors, ShardIndexErrors) {
  TempDir dir("st");
  SafeTensorsWriter w;
  float v[2] = {1, 2};
  w.add_f32("x", {2}, v);
  w.write(dir / "s1.safetensors");
  auto index = [&](const json& j) { emu35::test::write_file(dir / "model.safetensors.index.json", j.dump()); };

  index({{"weight_map", {{"x", "s1.safetensors"}, {"y", "s2.safetensors"}}}});
  expect_error(dir.path(), {"s2.safetensors", "y", "does not exist"});

  index({{"weight_map", {{"x", "s1.safetensors"}, {"z", "s1.safetensors"}}}});
  expect_error(dir.path(), {"s1.safetensors", "z", "missing"});

  index({{"weight_map", {{"x", "../s1.safetensors"}}}});
  expect_error(dir.path(), {"outside"});

  index({{"nothing", 1}});
  expect_error(dir.path(), {"weight_map"});

  emu35::test::write_file(dir / "model.safetensors.index.json", "{not json");
  expect_error(dir.path(), {"model.safetensors.index.json", "JSON"});

  index({{"weight_map", {{"x", "s1.safetensors"}}}});
  EXPECT_EQ(SafeTensors::open(dir.path()).to_f32("x")[1], 2.0f);
}

TEST(SafeTensors, HeaderValidation) {
  TempDir dir("st");
  auto file = [&](const std::string& name, const std::string& bytes) {
    emu35::test::write_file(dir / name, bytes);
    return dir / name;
  };
  std::string eight_bytes(8, '\0');

  expect_error(file("short.st", "abc"), {"short.st", "too short"});
  std::string huge_len = std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}";
  expect_error(file("hlen.st", huge_len), {"hlen.st", "header length"});
  expect_error(file("json.st", raw_file("{\"a\": [", "")), {"json.st", "JSON"});
  expect_error(file("array.st", raw_file("[1,2]", "")), {"array.st", "object"});
  expect_error(file("dtype.st", raw_file(R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", "x")),
               {"dtype.st", "t", "Q7"});
  expect_error(file("shape.st", raw_file(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "xxxx")),
               {"shape.st", "t", "negative"});
  expect_error(file("noshape.st", raw_file(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", "xxxx")),
               {"noshape.st", "t", "shape"});
  expect_error(file("offs.st", raw_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4]}})", "xxxx")),
               {"offs.st", "t", "data_offsets"});
  expect_error(file("order.st", raw_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "xxxx")),
               {"order.st", "t", "begin"});
  expect_error(file("trunc.st", raw_file(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "xxxx")),
               {"trunc.st", "t", "truncated"});
  expect_error(file("size.st", raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "xxxx")),
               {"size.st", "t", "needs 8"});
  expect_error(file("overlap.st", raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                           std::string(12, 'x'))),
               {"overlap.st", "overlap", "a", "b"});
  expect_error(file("meta.st", raw_file(R"({"__metadata__":{"k":1}})", "")), {"meta.st", "__metadata__"});
  expect_error(dir / "does_not_exist.safetensors", {"does_not_exist.safetensors"});
  std::filesystem::create_directories(dir / "emptydir");
  expect_error(dir / "emptydir", {"emptydir", "model.safetensors"});
  // A valid minimal file with just metadata is accepted.
  EXPECT_EQ(SafeTensors::open(file("ok.st", raw_file(R"({"__metadata__":{"k":"v"}})", ""))).size(), 0u);
}

TEST(DType, ConversionsMatchDefinitions) {
  // bf16 rounding: nearest-even on the dropped 16 bits.
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  float halfway;
  uint32_t u = 0x3f808000u;  // exactly between 0x3f80 and 0x3f81 -> even (0x3f80)
  std::memcpy(&halfway, &u, 4);
  EXPECT_EQ(f32_to_bf16(halfway), 0x3f80);
  u = 0x3f818000u;  // between 0x3f81 and 0x3f82 -> even (0x3f82)
  std::memcpy(&halfway, &u, 4);
  EXPECT_EQ(f32_to_bf16(halfway), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  // f16 specials and subnormals.
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  for (int i = 0; i < 65536; ++i) {
    float v = f16_to_f32(static_cast<uint16_t>(i));
    if (!std::isnan(v)) {
      EXPECT_EQ(f32_to_f16(v), i) << i;
    }
  }
  // E4M3FN: max 448, NaN at 0x7f, subnormal 2^-9 per step.
  EXPECT_EQ(f8e4m3_to_f32(0x7e), 448.0f);
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0x7f)));
  EXPECT_EQ(f8e4m3_to_f32(0x03), 3 * std::ldexp(1.0f, -9));
  EXPECT_EQ(f8e4m3_to_f32(0x80), -0.0f);
}
