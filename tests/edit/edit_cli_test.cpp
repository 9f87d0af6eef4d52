// `emu35 edit` end to end on the fixture model (CPU, tiny budgets): good rows
// give pictures, bad rows land in failures.csv, reruns skip and append, kills
// leave nothing partial, pictures equal `generate --task x2i`, sharding,
// workers, the diffgentor link, and the errors that must come before loading.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "app/edit/remote_image.h"
#include "edit_test_util.h"
#include "image/image_read.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace emu35::test;
using namespace emu35::test::edit;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

void copy_ref(const fs::path& dir, const std::string& name, const std::string& fixture_name = "ref_0.png") {
  fs::copy_file(fixture("images/" + fixture_name), dir / name, fs::copy_options::overwrite_existing);
}

// Every picture readable, nothing half-written left behind.
void expect_clean_output(const fs::path& out) {
  for (const std::string& f : files_under(out)) {
    EXPECT_FALSE(contains(f, ".tmp.")) << "partial file left: " << f;
    if (fs::path(f).extension() == ".png") {
      EXPECT_NO_THROW(emu35::read_image(out / f)) << f;
    }
  }
}

}  // namespace

TEST(EditCli, GoodRowsDrawBadRowsFailRerunsSkipAndAppend) {
  TempDir tmp("edit-mixed");
  copy_ref(tmp.path(), "a.png");
  copy_ref(tmp.path(), "b.png", "ref_1.png");
  write_file(tmp / "data.csv",
             "index,instruction,input_images\n"
             "0,make it red,a.png\n"
             "1,\"blend them, \"\"nicely\"\"\",\"[\"\"a.png\"\", \"\"b.png\"\"]\"\n"
             "2,missing picture,nothere.png\n"
             "3,too,many,fields\n"
             "4,make it blue,b.png\n");
  const fs::path out = tmp / "out";
  std::string log;
  int rc = run_command(fixture_env() + edit_cmd(tmp / "data.csv", out), &log);
  EXPECT_EQ(rc, 1) << log;
  for (const char* f : {"000000.png", "000001.png", "000004.png"}) EXPECT_TRUE(fs::exists(out / f)) << f << "\n" << log;
  EXPECT_FALSE(fs::exists(out / "000002.png"));
  EXPECT_FALSE(fs::exists(out / "000003.png"));
  expect_clean_output(out);

  Table res = read_table(out / "results.csv");
  EXPECT_EQ(res.header, (std::vector<std::string>{"index", "input_images", "instruction", "output_image", "seed",
                                                  "tokens", "seconds"}));
  ASSERT_EQ(res.rows.size(), 3u);
  std::set<std::string> done;
  for (size_t i = 0; i < res.rows.size(); ++i) {
    const std::string idx = res.column(i, "index");
    done.insert(idx);
    EXPECT_EQ(res.column(i, "output_image"), "00000" + idx + ".png");
    EXPECT_EQ(res.column(i, "seed"), std::to_string(6666 + std::stoi(idx)));
    EXPECT_GT(std::stoi(res.column(i, "tokens")), 0);
    EXPECT_GT(std::stod(res.column(i, "seconds")), 0.0);
    if (idx == "1") {
      EXPECT_EQ(res.column(i, "instruction"), "blend them, \"nicely\"");
    }
  }
  EXPECT_EQ(done, (std::set<std::string>{"0", "1", "4"}));

  Table fail = read_table(out / "failures.csv");
  EXPECT_EQ(fail.header[0], "index");
  EXPECT_EQ(fail.header[1], "error");
  ASSERT_EQ(fail.rows.size(), 2u);
  EXPECT_EQ(fail.column(0, "index"), "2");
  EXPECT_TRUE(contains(fail.column(0, "error"), "nothere.png")) << fail.column(0, "error");
  EXPECT_EQ(fail.column(1, "index"), "3");
  EXPECT_TRUE(contains(fail.column(1, "error"), "malformed")) << fail.column(1, "error");

  // A rerun skips the finished rows: pictures untouched, results.csv not rewritten.
  const std::string pic0 = read_file(out / "000000.png");
  const auto mtime0 = fs::last_write_time(out / "000000.png");
  log.clear();
  rc = run_command(fixture_env() + edit_cmd(tmp / "data.csv", out), &log);
  EXPECT_EQ(rc, 1) << log;
  EXPECT_TRUE(contains(log, "Completed (skipped): 3")) << log;
  EXPECT_EQ(fs::last_write_time(out / "000000.png"), mtime0);
  EXPECT_EQ(read_table(out / "results.csv").rows.size(), 3u);
  EXPECT_EQ(read_table(out / "failures.csv").rows.size(), 4u);  // appended, never overwritten

  // The missing picture appears: that row now succeeds and is appended.
  copy_ref(tmp.path(), "nothere.png");
  rc = run_command(fixture_env() + edit_cmd(tmp / "data.csv", out), &log);
  EXPECT_EQ(rc, 1);  // the malformed row still fails
  EXPECT_TRUE(fs::exists(out / "000002.png"));
  res = read_table(out / "results.csv");
  ASSERT_EQ(res.rows.size(), 4u);
  EXPECT_EQ(res.column(3, "index"), "2");

  // --no_resume regenerates (same seed: same picture) and appends again.
  log.clear();
  rc = run_command(fixture_env() + edit_cmd(tmp / "data.csv", out, "--no_resume --filter_rows 0"), &log);
  EXPECT_EQ(rc, 0) << log;
  EXPECT_EQ(read_file(out / "000000.png"), pic0);
  EXPECT_EQ(read_table(out / "results.csv").rows.size(), 5u);
  expect_clean_output(out);
}

TEST(EditCli, PictureEqualsGenerateX2iWithSameImagesPromptAndSeed) {
  TempDir tmp("edit-vs-generate");
  copy_ref(tmp.path(), "a.png");
  copy_ref(tmp.path(), "b.png", "ref_1.png");
  write_file(tmp / "data.csv", "instruction,input_images,index\n\"put the cat, on the sofa\",\"a.png,b.png\",5\n");
  std::string log;
  ASSERT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "out", "--seed 100 --cfg 2.5"), &log), 0) << log;
  const std::string gen = clean_env() + emu35_binary().string() + " generate --task x2i --model " +
                          fixture("model").string() + " --vq " + fixture("vq").string() + " --image " +
                          (tmp / "a.png").string() + " --image " + (tmp / "b.png").string() +
                          " --prompt 'put the cat, on the sofa' --seed 105 --guidance-scale 2.5 --max-new-tokens 24"
                          " --image-area 1024 --start-image --device cpu --quiet --output " +
                          (tmp / "gen").string();
  ASSERT_EQ(run_command(gen, &log), 0) << log;
  ASSERT_TRUE(fs::exists(tmp / "gen" / "image_00.png")) << log;
  EXPECT_EQ(read_file(tmp / "out" / "000005.png"), read_file(tmp / "gen" / "image_00.png"));
  EXPECT_EQ(read_table(tmp / "out" / "results.csv").column(0, "seed"), "105");
}

TEST(EditCli, BatchedRowsEqualOneAtATime) {
  TempDir tmp("edit-batch");
  copy_ref(tmp.path(), "a.png");
  copy_ref(tmp.path(), "b.png", "ref_1.png");
  write_file(tmp / "data.csv", "instruction,input_images\nred,a.png\nblue,b.png\ngreen,a.png\n");
  std::string log;
  ASSERT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "one"), &log), 0) << log;
  ASSERT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "three", "--batch_size 3"), &log), 0) << log;
  for (const char* f : {"000000.png", "000001.png", "000002.png"})
    EXPECT_EQ(read_file(tmp / "one" / f), read_file(tmp / "three" / f)) << f;
}

TEST(EditCli, SigkillMidRowLeavesNothingPartialAndRerunCompletes) {
  TempDir tmp("edit-kill");
  copy_ref(tmp.path(), "a.png");
  write_file(tmp / "data.csv", "instruction,input_images\none,a.png\ntwo,a.png\nthree,a.png\n");
  const fs::path out = tmp / "out";
  // Bigger budgets: each row takes long enough to be killed in the middle.
  const std::string env = clean_env("DG_EMU35_VQ_PATH=" + fixture("vq").string() +
                                    " DG_EMU35_IMAGE_AREA=4096 DG_EMU35_MAX_NEW_TOKENS=150");
  {
    Background run(env + edit_cmd(tmp / "data.csv", out), tmp / "run1.log");
    // The first row is complete once its results line is written; the second is then in flight.
    ASSERT_TRUE(wait_for(
        [&] {
          std::error_code ec;
          if (!fs::exists(out / "results.csv", ec)) return false;
          const std::string t = read_file(out / "results.csv");
          return std::count(t.begin(), t.end(), '\n') >= 2;  // header + the first row
        },
        60))
        << read_file(tmp / "run1.log");
    run.signal(SIGKILL);
    EXPECT_EQ(run.wait(), 128 + SIGKILL);
  }
  expect_clean_output(out);
  EXPECT_TRUE(fs::exists(out / "000000.png"));
  size_t pictures = 0;
  for (auto& f : files_under(out)) pictures += fs::path(f).extension() == ".png";
  EXPECT_EQ(read_table(out / "results.csv").rows.size(), pictures);
  EXPECT_LT(pictures, 3u) << "the run was not killed mid-way";

  std::string log;
  EXPECT_EQ(run_command(env + edit_cmd(tmp / "data.csv", out), &log), 0) << log;
  for (const char* f : {"000000.png", "000001.png", "000002.png"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(read_table(out / "results.csv").rows.size(), 3u);
  expect_clean_output(out);
}

TEST(EditCli, CtrlCCancelsTheRowInFlightAndExits130) {
  TempDir tmp("edit-int");
  copy_ref(tmp.path(), "a.png");
  write_file(tmp / "data.csv", "instruction,input_images\none,a.png\ntwo,a.png\nthree,a.png\n");
  const fs::path out = tmp / "out";
  const std::string env = clean_env("DG_EMU35_VQ_PATH=" + fixture("vq").string() +
                                    " DG_EMU35_IMAGE_AREA=4096 DG_EMU35_MAX_NEW_TOKENS=150");
  Background run(env + edit_cmd(tmp / "data.csv", out), tmp / "run.log");
  ASSERT_TRUE(wait_for([&] { return fs::exists(out / "000000.png"); }, 60)) << read_file(tmp / "run.log");
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 130) << read_file(tmp / "run.log");
  EXPECT_TRUE(contains(read_file(tmp / "run.log"), "Interrupted by user"));
  expect_clean_output(out);
  size_t pictures = 0;
  for (auto& f : files_under(out)) pictures += fs::path(f).extension() == ".png";
  EXPECT_LT(pictures, 3u);
  EXPECT_EQ(read_table(out / "results.csv").rows.size(), pictures);
  EXPECT_FALSE(fs::exists(out / "failures.csv"));  // a cancelled row is not a failure
}

TEST(EditCli, JsonlInputWithFilterRows) {
  TempDir tmp("edit-jsonl");
  fs::create_directories(tmp / "imgs");
  copy_ref(tmp / "imgs", "a.png");
  write_file(tmp / "data.jsonl",
             "{\"index\": 10, \"instruction\": \"zero\", \"input_images\": [\"imgs/a.png\"]}\n"
             "{\"index\": 11, \"instruction\": \"one\", \"input_images\": [\"imgs/a.png\"], \"note\": \"x,y\"}\n"
             "\n"
             "{\"index\": 12, \"instruction\": \"two\", \"input_images\": \"imgs/a.png\"}\n"
             "{\"index\": 13, \"instruction\": \"three\", \"input_images\": [\"imgs/a.png\"]}\n");
  std::string log;
  ASSERT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.jsonl", tmp / "out", "--filter_rows 1:3"), &log), 0) << log;
  EXPECT_FALSE(fs::exists(tmp / "out" / "000010.png"));
  EXPECT_TRUE(fs::exists(tmp / "out" / "000011.png"));
  EXPECT_TRUE(fs::exists(tmp / "out" / "000012.png"));
  EXPECT_FALSE(fs::exists(tmp / "out" / "000013.png"));
  Table t = read_table(tmp / "out" / "results.csv");
  EXPECT_EQ(t.header, (std::vector<std::string>{"index", "input_images", "instruction", "note", "output_image", "seed",
                                                "tokens", "seconds"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.column(0, "note"), "x,y");
  EXPECT_EQ(t.column(0, "input_images"), "[\"imgs/a.png\"]");
}

TEST(EditCli, OutputNameColumnStaysInsideTheOutputFolder) {
  TempDir tmp("edit-names");
  copy_ref(tmp.path(), "a.png");
  write_file(tmp / "data.csv",
             "instruction,input_images,name\n"
             "good,a.png,sub/dir/Pic.JPG\n"
             "abs,a.png,/tmp/evil.png\n"
             "up,a.png,../evil.png\n"
             "deep,a.png,x/../../evil\n"
             "blank,a.png,\n");
  std::string log;
  EXPECT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "out", "--output_name_column name"), &log), 1)
      << log;
  ASSERT_TRUE(fs::exists(tmp / "out" / "sub" / "dir" / "Pic.jpg")) << log;
  EXPECT_EQ(read_file(tmp / "out" / "sub" / "dir" / "Pic.jpg").substr(0, 2), "\xFF\xD8");  // JPEG
  EXPECT_TRUE(fs::exists(tmp / "out" / "000004.png"));  // blank name: the index name
  EXPECT_FALSE(fs::exists(tmp / "evil.png"));
  EXPECT_FALSE(fs::exists(tmp / "evil.png.png"));
  Table f = read_table(tmp / "out" / "failures.csv");
  ASSERT_EQ(f.rows.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(contains(f.column(i, "error"), "output name")) << f.column(i, "error");
  EXPECT_EQ(read_table(tmp / "out" / "results.csv").column(0, "output_image"), "sub/dir/Pic.jpg");
}

TEST(EditCli, TwoWorkersOnOneHostSplitTheRows) {
  TempDir tmp("edit-workers");
  copy_ref(tmp.path(), "a.png");
  write_file(tmp / "data.csv", "instruction,input_images\nr0,a.png\nr1,a.png\nr2,a.png\nr3,a.png\n");
  std::string log;
  const std::string env = fixture_env("CUDA_VISIBLE_DEVICES=0,1 DG_EMU35_GPUS_PER_MODEL=1");
  ASSERT_EQ(run_command(env + edit_cmd(tmp / "data.csv", tmp / "out", "--log_dir " + (tmp / "logs").string()), &log), 0)
      << log;
  EXPECT_TRUE(contains(log, "Instance 0: CUDA_VISIBLE_DEVICES=0")) << log;
  EXPECT_TRUE(contains(log, "Instance 1: CUDA_VISIBLE_DEVICES=1")) << log;
  for (const char* f : {"000000.png", "000001.png", "000002.png", "000003.png"}) EXPECT_TRUE(fs::exists(tmp / "out" / f));
  EXPECT_FALSE(fs::exists(tmp / "out" / "results.csv"));
  Table p0 = read_table(tmp / "out" / "results_process0.csv");
  Table p1 = read_table(tmp / "out" / "results_process1.csv");
  ASSERT_EQ(p0.rows.size(), 2u);
  ASSERT_EQ(p1.rows.size(), 2u);
  EXPECT_EQ(p0.column(0, "output_image"), "000000.png");
  EXPECT_EQ(p0.column(1, "output_image"), "000001.png");
  EXPECT_EQ(p1.column(0, "output_image"), "000002.png");
  EXPECT_EQ(p1.column(1, "output_image"), "000003.png");
  EXPECT_TRUE(fs::exists(tmp / "logs" / "node0_process0.log"));
  EXPECT_TRUE(fs::exists(tmp / "logs" / "node0_process1.log"));
  EXPECT_TRUE(contains(read_file(tmp / "logs" / "node0_process1.log"), "Saved: 000002.png"));
}

TEST(EditCli, NodeShardsFromFlagsSlurmAndKubernetes) {
  // Rows whose pictures are missing fail without generating: failures show who did what.
  TempDir tmp("edit-nodes");
  std::string csv = "instruction,input_images\n";
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    csv.append("r").append(n).append(",missing").append(n).append(".png\n");
  }
  write_file(tmp / "data.csv", csv);
  const fs::path out = tmp / "out";
  auto indices = [&](const std::string& file) {
    std::vector<std::string> v;
    Table t = read_table(out / file);
    for (size_t i = 0; i < t.rows.size(); ++i) v.push_back(t.column(i, "index"));
    return v;
  };
  std::string log;
  EXPECT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", out, "--node_rank 0 --num_nodes 2"), &log), 1) << log;
  EXPECT_EQ(indices("failures_node0.csv"), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(run_command(fixture_env("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2") + edit_cmd(tmp / "data.csv", out),
                        &log),
            1)
      << log;
  EXPECT_EQ(indices("failures_node1.csv"), (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(run_command(fixture_env("JOB_COMPLETION_INDEX=1 JOB_COMPLETIONS=2") + edit_cmd(tmp / "data.csv", out), &log),
            1);
  EXPECT_EQ(indices("failures_node1.csv"), (std::vector<std::string>{"3", "4", "3", "4"}));
  log.clear();
  EXPECT_EQ(run_command(fixture_env("JOB_COMPLETION_INDEX=1") + edit_cmd(tmp / "data.csv", out), &log), 1);
  EXPECT_TRUE(contains(log, "JOB_COMPLETION_INDEX is set")) << log;
}

TEST(EditCli, FinishedDatasetExitsAtOnceThroughTheDiffgentorLink) {
  TempDir tmp("edit-link");
  fs::create_symlink(emu35_binary(), tmp / "diffgentor");
  std::string csv = "instruction,input_images\n";
  for (int i = 0; i < 200; ++i) csv.append("row ").append(std::to_string(i)).append(",a.png\n");
  write_file(tmp / "data.csv", csv);
  fs::create_directories(tmp / "out");
  for (int i = 0; i < 200; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06d.png", i);
    write_file(tmp / "out" / name, "done");
  }
  // The model folder does not even exist: nothing may load.
  const std::string cmd = clean_env("DG_EMU35_VQ_PATH=/nonexistent/vq") + (tmp / "diffgentor").string() +
                          " edit --backend emu35 --model_name /nonexistent/model --input " + (tmp / "data.csv").string() +
                          " --output_dir " + (tmp / "out").string() +
                          " --num_inference_steps 30 --negative_prompt blurry --guidance_scale 4";
  std::string log;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(run_command(cmd, &log), 0) << log;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 2.0);  // ~0.01 s here; generous for loaded CI machines (the missing model proves nothing loads)
  EXPECT_TRUE(contains(log, "Completed (skipped): 200")) << log;
  EXPECT_TRUE(contains(log, "Nothing to do")) << log;
  EXPECT_TRUE(contains(log, "Ignored (no meaning for emu35): --num_inference_steps, --guidance_scale, --negative_prompt"))
      << log;
  EXPECT_FALSE(contains(log, "Loading model"));

  // And real work through the link.
  copy_ref(tmp.path(), "a.png");
  write_file(tmp / "one.csv", "instruction,input_images\nred,a.png\n");
  log.clear();
  const std::string work = fixture_env() + (tmp / "diffgentor").string() + " edit --backend emu35 --model_name " +
                           fixture("model").string() + " --input " + (tmp / "one.csv").string() + " --output_dir " +
                           (tmp / "out2").string() + " --start_image --device cpu --quiet";
  EXPECT_EQ(run_command(work, &log), 0) << log;
  EXPECT_TRUE(fs::exists(tmp / "out2" / "000000.png")) << log;
}

TEST(EditCli, SettingAndInputErrorsComeBeforeLoading) {
  TempDir tmp("edit-errors");
  write_file(tmp / "data.csv", "instruction,input_images\nred,a.png\n");
  const std::string base = emu35_binary().string() + " edit --model_name /nonexistent/model --input " +
                           (tmp / "data.csv").string() + " --output_dir " + (tmp / "out").string() + " ";
  struct Case {
    std::string env, args, expect;
  };
  const std::vector<Case> cases = {
      {"", "", "DG_EMU35_VQ_PATH is not set"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_CFG=abc", "", "DG_EMU35_CFG"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_MAX_NEW_TOKENS=1.5", "", "DG_EMU35_MAX_NEW_TOKENS"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_IMAGE_AREA=big", "", "DG_EMU35_IMAGE_AREA"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_HF_DEVICE=tpu", "", "DG_EMU35_HF_DEVICE"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_GPUS_PER_MODEL=two", "", "DG_EMU35_GPUS_PER_MODEL"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_VQ_TYPE=dcae", "", "not available"},
      {"DG_EMU35_VQ_PATH=/v DG_EMU35_GPUS_PER_MODEL=4 CUDA_VISIBLE_DEVICES=0,1", "", "not enough GPUs"},
      {"DG_EMU35_VQ_PATH=/v", "--filter_rows 5:2", "--filter_rows"},
      {"DG_EMU35_VQ_PATH=/v", "--batch_size 0", "--batch_size"},
  };
  for (const Case& c : cases) {
    std::string log;
    EXPECT_EQ(run_command(clean_env(c.env) + base + c.args, &log), 1) << c.env << " " << c.args;
    EXPECT_TRUE(contains(log, c.expect)) << c.env << " " << c.args << "\n" << log;
    EXPECT_FALSE(contains(log, "Loading model")) << log;
  }
  std::string log;
  write_file(tmp / "data.parquet", "PAR1");
  EXPECT_EQ(run_command(clean_env("DG_EMU35_VQ_PATH=/v") + emu35_binary().string() +
                            " edit --model_name /m --input " + (tmp / "data.parquet").string() + " --output_dir " +
                            (tmp / "out").string(),
                        &log),
            1);
  EXPECT_TRUE(contains(log, "Parquet")) << log;
  EXPECT_TRUE(contains(log, "CSV or JSONL")) << log;
  write_file(tmp / "noinst.csv", "prompt,input_images\nred,a.png\n");
  log.clear();
  EXPECT_EQ(run_command(clean_env("DG_EMU35_VQ_PATH=/v") + emu35_binary().string() + " edit --model_name /m --input " +
                            (tmp / "noinst.csv").string() + " --output_dir " + (tmp / "out").string(),
                        &log),
            1);
  EXPECT_TRUE(contains(log, "no \"instruction\" column")) << log;
  log.clear();
  EXPECT_EQ(run_command(clean_env("DG_EMU35_VQ_PATH=/v") + emu35_binary().string() + " edit --model_name /m --input " +
                            (tmp / "absent.csv").string() + " --output_dir " + (tmp / "out").string(),
                        &log),
            1);
  EXPECT_TRUE(contains(log, "no such file")) << log;
}

TEST(EditCli, RemotePicturesNeedTheFlagAndUseTheCache) {
  TempDir tmp("edit-remote");
  const std::string url = "http://127.0.0.1:9/pictures/cat.png";
  write_file(tmp / "data.csv", "instruction,input_images\nred," + url + "\n");
  std::string log;
  EXPECT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "out"), &log), 1) << log;
  EXPECT_TRUE(contains(read_table(tmp / "out" / "failures.csv").column(0, "error"), "--allow_remote_images"));
  // A cached copy under diffgentor's md5 name is used without any network.
  fs::create_directories(tmp / "cache");
  copy_ref(tmp / "cache", emu35::app::edit::cache_file_name(url));
  log.clear();
  EXPECT_EQ(run_command(fixture_env() + edit_cmd(tmp / "data.csv", tmp / "out",
                                                 "--allow_remote_images --image_cache_dir " + (tmp / "cache").string()),
                        &log),
            0)
      << log;
  EXPECT_TRUE(fs::exists(tmp / "out" / "000000.png"));
}
