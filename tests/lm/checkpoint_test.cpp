// Loading checkpoints in the real format (random weights the test writes itself):
// sharded files, bf16 / f16 / f32, tied embeddings, heads x head_dim != hidden; the
// results against an independent double-precision forward; and the loader's and the
// runner's errors.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "lm/cpu_runner.h"
#include "lm/lm_weights.h"
#include "lm/random_checkpoint.h"
#include "lm_test_util.h"
#include "test_support.h"

namespace emu35::test {
namespace {

using lm::CpuRunner;
using lm::LmRow;
using lm::LmWeights;

std::vector<int32_t> ids_for(const Emu3Config& c, int n) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<int32_t>((i * 37 + 11) % c.vocab_size));
  return v;
}

double rel_err(const float* got, const double* ref, size_t n) {
  std::vector<float> r(ref, ref + n);
  return rel_max_error(got, r.data(), n);
}

// Prefill of 9 tokens then 3 decode steps, against the naive reference.
void check_against_reference(const std::filesystem::path& dir, const Emu3Config& cfg, double bound) {
  auto W = LmWeights::load(dir);
  const std::vector<int32_t> ids = ids_for(cfg, 12);
  const std::vector<double> ref = reference_logits(W->tensors(), cfg, ids);
  const int64_t V = cfg.vocab_size;
  for (int gemm_min_rows : {1, 1 << 30}) {
    lm::CpuRunnerOptions o;
    o.gemm_min_rows = gemm_min_rows;
    CpuRunner r(W, o);
    const int slot = r.new_slot(12);
    std::vector<float> lg(V), hidden, all;
    const LmRow prompt{slot, std::span<const int32_t>(ids).first(9)};
    r.forward_all({&prompt, 1}, lg.data(), &hidden, &all);
    for (int t = 0; t < 9; ++t)
      EXPECT_LE(rel_err(all.data() + t * V, ref.data() + t * V, V), bound) << "prefill position " << t;
    EXPECT_LE(rel_err(lg.data(), ref.data() + 8 * V, V), bound);
    for (int t = 9; t < 12; ++t) {
      const LmRow step{slot, std::span<const int32_t>(ids).subspan(t, 1)};
      r.forward({&step, 1}, lg.data());
      EXPECT_LE(rel_err(lg.data(), ref.data() + t * V, V), bound) << "decode position " << t;
    }
  }
}

TEST(LmCheckpoint, ShardedBf16MatchesReference) {
  TempDir dir("lm-sharded");
  const Emu3Config cfg = tiny_config();
  lm::RandomCheckpointOptions o;
  o.seed = 7;
  o.max_shard_bytes = 20000;
  lm::write_random_checkpoint(dir.path(), cfg, o);
  ASSERT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  int shards = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    shards += e.path().extension() == ".safetensors";
  EXPECT_GT(shards, 2);
  EXPECT_NE(cfg.q_dim(), cfg.hidden_size);
  check_against_reference(dir.path(), cfg, 1e-5);
}

TEST(LmCheckpoint, F16AndF32Weights) {
  for (DType dt : {DType::F16, DType::F32}) {
    TempDir dir("lm-dtype");
    const Emu3Config cfg = tiny_config();
    lm::RandomCheckpointOptions o;
    o.dtype = dt;
    lm::write_random_checkpoint(dir.path(), cfg, o);
    auto W = LmWeights::load(dir.path());
    EXPECT_EQ(W->layers[0].q_proj.dtype, dt);
    check_against_reference(dir.path(), cfg, 1e-5);
  }
}

TEST(LmCheckpoint, TiedEmbeddings) {
  TempDir dir("lm-tied");
  Emu3Config cfg = tiny_config();
  cfg.tie_word_embeddings = true;
  lm::write_random_checkpoint(dir.path(), cfg);
  auto W = LmWeights::load(dir.path());
  EXPECT_EQ(W->lm_head.data, W->embed_tokens.data);
  check_against_reference(dir.path(), cfg, 1e-5);
}

std::string load_error(const std::filesystem::path& dir) {
  try {
    LmWeights::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LmCheckpoint, MissingTensorIsNamed) {
  TempDir dir("lm-missing");
  lm::RandomCheckpointOptions o;
  o.edit = [](const std::string& name, std::vector<int64_t>&) { return name != "model.layers.1.mlp.up_proj.weight"; };
  lm::write_random_checkpoint(dir.path(), tiny_config(), o);
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find("missing tensor model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
}

TEST(LmCheckpoint, MissingLmHeadIsNamed) {
  TempDir dir("lm-nohead");
  lm::RandomCheckpointOptions o;
  o.edit = [](const std::string& name, std::vector<int64_t>&) { return name != "lm_head.weight"; };
  lm::write_random_checkpoint(dir.path(), tiny_config(), o);
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find("lm_head.weight"), std::string::npos) << msg;
}

TEST(LmCheckpoint, WrongShapeIsNamed) {
  TempDir dir("lm-shape");
  lm::RandomCheckpointOptions o;
  o.max_shard_bytes = 30000;
  o.edit = [](const std::string& name, std::vector<int64_t>& shape) {
    if (name == "model.layers.2.self_attn.k_proj.weight") shape = {44, 44};
    return true;
  };
  lm::write_random_checkpoint(dir.path(), tiny_config(), o);
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find("model.layers.2.self_attn.k_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[44, 44]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [36, 44]"), std::string::npos) << msg;
}

TEST(LmCheckpoint, WrongNormShapeIsNamed) {
  TempDir dir("lm-normshape");
  lm::RandomCheckpointOptions o;
  o.edit = [](const std::string& name, std::vector<int64_t>& shape) {
    if (name == "model.layers.0.self_attn.q_norm.weight") shape = {44};
    return true;
  };
  lm::write_random_checkpoint(dir.path(), tiny_config(), o);
  const std::string msg = load_error(dir.path());
  EXPECT_NE(msg.find("model.layers.0.self_attn.q_norm.weight"), std::string::npos) << msg;
}

TEST(LmCheckpoint, MissingConfigIsAnError) {
  TempDir dir("lm-noconfig");
  lm::write_random_checkpoint(dir.path(), tiny_config());
  std::filesystem::remove(dir / "config.json");
  EXPECT_NE(load_error(dir.path()).find("config.json"), std::string::npos);
}

class LmRunnerErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("lm-errors");
    lm::write_random_checkpoint(dir_->path(), tiny_config());
    runner_ = lm::make_cpu_runner(LmWeights::load(dir_->path()));
    logits_.resize(4 * static_cast<size_t>(runner_->vocab_size()));
  }
  std::string forward_error(std::span<const LmRow> rows) {
    try {
      runner_->forward(rows, logits_.data());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<lm::LmRunner> runner_;
  std::vector<float> logits_;
};

TEST_F(LmRunnerErrors, SlotBeyondMaxPositionEmbeddings) {
  const int maxpos = static_cast<int>(runner_->config().max_position_embeddings);
  try {
    runner_->new_slot(maxpos + 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
}

TEST_F(LmRunnerErrors, SequenceBeyondMaxPositionEmbeddings) {
  const int maxpos = static_cast<int>(runner_->config().max_position_embeddings);
  const int slot = runner_->new_slot(maxpos);
  std::vector<int32_t> ids(static_cast<size_t>(maxpos), 5);
  const LmRow fill{slot, ids};
  runner_->forward({&fill, 1}, logits_.data());  // exactly max_position_embeddings: fine
  EXPECT_EQ(runner_->slot_length(slot), maxpos);
  const int32_t one = 3;
  const LmRow more{slot, {&one, 1}};
  const std::string msg = forward_error({&more, 1});
  EXPECT_NE(msg.find("max_position_embeddings"), std::string::npos) << msg;
  EXPECT_EQ(runner_->slot_length(slot), maxpos);
}

TEST_F(LmRunnerErrors, SequenceBeyondSlotCapacity) {
  const int slot = runner_->new_slot(4);
  std::vector<int32_t> ids(5, 1);
  const LmRow row{slot, ids};
  const std::string msg = forward_error({&row, 1});
  EXPECT_NE(msg.find("capacity (4)"), std::string::npos) << msg;
  EXPECT_EQ(runner_->slot_length(slot), 0);
}

TEST_F(LmRunnerErrors, BadRowsChangeNothing) {
  const int a = runner_->new_slot(8), b = runner_->new_slot(8);
  const std::vector<int32_t> ok = {1, 2}, bad = {1, static_cast<int32_t>(runner_->vocab_size())};
  {
    const LmRow rows[] = {{a, ok}, {b, bad}};
    EXPECT_NE(forward_error(rows).find("outside the vocabulary"), std::string::npos);
  }
  {
    const LmRow rows[] = {{a, ok}, {a, ok}};
    EXPECT_NE(forward_error(rows).find("already used by row 0"), std::string::npos);
  }
  {
    const LmRow rows[] = {{a, ok}, {b, {}}};
    EXPECT_NE(forward_error(rows).find("no tokens"), std::string::npos);
  }
  {
    const LmRow rows[] = {{a, ok}, {99, ok}};
    EXPECT_NE(forward_error(rows).find("slot is not allocated"), std::string::npos);
  }
  EXPECT_EQ(runner_->slot_length(a), 0);
  EXPECT_EQ(runner_->slot_length(b), 0);
}

TEST_F(LmRunnerErrors, FreedSlotsAreReused) {
  const int a = runner_->new_slot(8);
  const std::vector<int32_t> ids = {1, 2, 3};
  const LmRow row{a, ids};
  runner_->forward({&row, 1}, logits_.data());
  const std::vector<float> first(logits_.begin(), logits_.begin() + runner_->vocab_size());
  runner_->free_slot(a);
  EXPECT_THROW(runner_->slot_length(a), Error);
  EXPECT_THROW(runner_->free_slot(a), Error);
  const int b = runner_->new_slot(8);
  EXPECT_EQ(b, a);
  EXPECT_EQ(runner_->slot_length(b), 0);
  const LmRow again{b, ids};
  runner_->forward({&again, 1}, logits_.data());
  EXPECT_EQ(std::vector<float>(logits_.begin(), logits_.begin() + runner_->vocab_size()), first);
}

}  // namespace
}  // namespace emu35::test
