// Unit tests of the pieces of `emu35 edit` that need no model: CSV, row
// filter, sharding, environment, image cells, output names, MD5, GPU slices,
// appended tables.
#include <gtest/gtest.h>

#include <map>

#include "app/edit/csv.h"
#include "app/edit/csv_appender.h"
#include "app/edit/dataset.h"
#include "app/edit/edit_plan.h"
#include "app/edit/env_vars.h"
#include "app/edit/gpu_slices.h"
#include "app/edit/image_refs.h"
#include "app/edit/output_names.h"
#include "app/edit/remote_image.h"
#include "app/edit/row_filter.h"
#include "app/edit/sharding.h"
#include "common/error.h"
#include "test_support.h"

using namespace emu35::app::edit;
using emu35::Error;

namespace {

EnvLookup env_of(std::map<std::string, std::string> m) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(m));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(EditCsv, QuotedFieldsDoubledQuotesNewlinesAndCommas) {
  auto recs = parse_csv("a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"two\nlines\",\n\n3,,z");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(recs[2].line, 3u);
  EXPECT_EQ(recs[3].fields, (std::vector<std::string>{"3", "", "z"}));
  EXPECT_EQ(recs[3].line, 6u);  // the blank line 5 is skipped but counted
  for (auto& r : recs) EXPECT_EQ(r.error, "");
}

TEST(EditCsv, BomIsDroppedAndStrayQuotesInUnquotedFieldsAreKept) {
  auto recs = parse_csv("\xEF\xBB\xBFh\nab\"c\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].fields[0], "h");
  EXPECT_EQ(recs[1].fields[0], "ab\"c");
}

TEST(EditCsv, UnterminatedQuoteFailsOneRecordAndParsingResumes) {
  auto recs = parse_csv("a,b\n1,\"open\n2,ok\n");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_NE(recs[1].error.find("unterminated"), std::string::npos);
  EXPECT_EQ(recs[1].line, 2u);
  EXPECT_EQ(recs[2].error, "");
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"2", "ok"}));
  EXPECT_EQ(recs[2].line, 3u);
}

TEST(EditCsv, TextAfterClosingQuoteIsAnError) {
  auto recs = parse_csv("a,b\n\"x\"y,1\n3,4\n");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_NE(recs[1].error.find("closing quote"), std::string::npos);
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"3", "4"}));
}

TEST(EditCsv, WritingRoundTrips) {
  std::vector<std::string> f = {"plain", "a,b", "q\"q", "line\nbreak", " pad", ""};
  std::string line = csv_line(f);
  EXPECT_EQ(line, "plain,\"a,b\",\"q\"\"q\",\"line\nbreak\",\" pad\",\n");
  auto recs = parse_csv(line);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].fields, f);
}

TEST(EditRowFilter, SlicesListsAndErrors) {
  RowFilter a = RowFilter::parse("0:3");
  EXPECT_TRUE(a.contains(0));
  EXPECT_TRUE(a.contains(2));
  EXPECT_FALSE(a.contains(3));
  RowFilter b = RowFilter::parse("100:");
  EXPECT_FALSE(b.contains(99));
  EXPECT_TRUE(b.contains(100));
  EXPECT_TRUE(b.contains(1000000));
  RowFilter c = RowFilter::parse("0, 5,10");
  EXPECT_TRUE(c.contains(5));
  EXPECT_FALSE(c.contains(6));
  EXPECT_TRUE(c.contains(10));
  RowFilter d = RowFilter::parse(":2,7:9");
  EXPECT_TRUE(d.contains(1));
  EXPECT_FALSE(d.contains(2));
  EXPECT_TRUE(d.contains(8));
  EXPECT_TRUE(RowFilter().contains(12345));
  for (const char* bad : {"", "x", "1:2:3", "5:2", "-1", "1,,2", "1.5"})
    EXPECT_NE(error_of([&] { RowFilter::parse(bad); }).find("--filter_rows"), std::string::npos) << bad;
}

TEST(EditSharding, ContiguousCeilChunksCoverEveryRowOnce) {
  for (size_t n : {0u, 1u, 5u, 7u, 10u})
    for (int parts : {1, 2, 3, 4}) {
      size_t covered = 0, expect_first = 0;
      for (int p = 0; p < parts; ++p) {
        auto [a, b] = contiguous_chunk(n, parts, p);
        EXPECT_EQ(a, expect_first);
        EXPECT_LE(b - a, (n + parts - 1) / parts);
        covered += b - a;
        expect_first = b;
      }
      EXPECT_EQ(covered, n);
    }
  EXPECT_EQ(contiguous_chunk(10, 3, 0), (std::pair<size_t, size_t>{0, 4}));
  EXPECT_EQ(contiguous_chunk(10, 3, 2), (std::pair<size_t, size_t>{8, 10}));
}

TEST(EditSharding, NodeRankFromFlagsSlurmAndKubernetes) {
  auto none = env_of({});
  auto p = resolve_node_placement(std::nullopt, std::nullopt, none);
  EXPECT_EQ(p.rank, 0);
  EXPECT_EQ(p.count, 1);
  p = resolve_node_placement(1, 3, none);
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.count, 3);
  auto slurm = env_of({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "3"}});
  p = resolve_node_placement(std::nullopt, std::nullopt, slurm);
  EXPECT_EQ(p.rank, 2);
  EXPECT_EQ(p.count, 4);
  EXPECT_EQ(p.source, "SLURM_ARRAY_TASK_ID");
  // Flags win over the environment.
  p = resolve_node_placement(0, 2, slurm);
  EXPECT_EQ(p.rank, 0);
  EXPECT_EQ(p.count, 2);
  auto k8s = env_of({{"JOB_COMPLETION_INDEX", "3"}});
  EXPECT_NE(error_of([&] { resolve_node_placement(std::nullopt, std::nullopt, k8s); }).find("--num_nodes"),
            std::string::npos);
  p = resolve_node_placement(std::nullopt, 4, k8s);
  EXPECT_EQ(p.rank, 3);
  EXPECT_EQ(p.count, 4);
  p = resolve_node_placement(std::nullopt, std::nullopt,
                             env_of({{"JOB_COMPLETION_INDEX", "1"}, {"JOB_COMPLETIONS", "2"}}));
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.count, 2);
  EXPECT_NE(error_of([&] { resolve_node_placement(2, 2, none); }).find("outside"), std::string::npos);
  EXPECT_NE(error_of([&] {
              resolve_node_placement(std::nullopt, std::nullopt,
                                     env_of({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}));
            }).find("SLURM_ARRAY_TASK_ID"),
            std::string::npos);
}

TEST(EditEnv, DefaultsAndValues) {
  Emu35Env d = read_emu35_env(env_of({}));
  EXPECT_EQ(d.vq_path, "");
  EXPECT_FLOAT_EQ(d.cfg, 3.0f);
  EXPECT_EQ(d.max_new_tokens, 5120);
  EXPECT_EQ(d.image_area, 1048576);
  EXPECT_EQ(d.hf_device, "auto");
  EXPECT_EQ(d.vq_type, "ibq");
  EXPECT_EQ(d.gpus_per_model, 0);
  Emu35Env e = read_emu35_env(env_of({{"DG_EMU35_VQ_PATH", "/vq"},
                                      {"DG_EMU35_TOKENIZER_PATH", "/tok"},
                                      {"DG_EMU35_CFG", " 2.5 "},
                                      {"DG_EMU35_MAX_NEW_TOKENS", "100"},
                                      {"DG_EMU35_IMAGE_AREA", "4096"},
                                      {"DG_EMU35_HF_DEVICE", "cuda:1"},
                                      {"DG_EMU35_VQ_DEVICE", "CPU"},
                                      {"DG_EMU35_VQ_TYPE", "IBQ"},
                                      {"DG_EMU35_GPUS_PER_MODEL", "2"}}));
  EXPECT_EQ(e.vq_path, "/vq");
  EXPECT_EQ(e.tokenizer_path, "/tok");
  EXPECT_FLOAT_EQ(e.cfg, 2.5f);
  EXPECT_EQ(e.max_new_tokens, 100);
  EXPECT_EQ(e.image_area, 4096);
  EXPECT_EQ(e.hf_device, "cuda:1");
  EXPECT_EQ(e.vq_device, "cpu");
  EXPECT_EQ(e.vq_type, "ibq");
  EXPECT_EQ(e.gpus_per_model, 2);
}

TEST(EditEnv, UnparseableValuesAreErrorsNamingTheVariable) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"DG_EMU35_CFG", "three"},          {"DG_EMU35_CFG", "-1"},          {"DG_EMU35_CFG", "nan"},
      {"DG_EMU35_MAX_NEW_TOKENS", "5k"},  {"DG_EMU35_MAX_NEW_TOKENS", "0"}, {"DG_EMU35_IMAGE_AREA", "12.5"},
      {"DG_EMU35_IMAGE_AREA", "100"},     {"DG_EMU35_HF_DEVICE", "gpu"},   {"DG_EMU35_VQ_DEVICE", "cuda:x"},
      {"DG_EMU35_VQ_TYPE", "vae"},        {"DG_EMU35_GPUS_PER_MODEL", "-2"}, {"DG_EMU35_CFG", ""}};
  for (auto& [k, v] : bad) {
    std::string msg = error_of([&] { read_emu35_env(env_of({{k, v}})); });
    EXPECT_NE(msg.find(k), std::string::npos) << k << "=" << v << " -> " << msg;
  }
  std::string dcae = error_of([] { read_emu35_env(env_of({{"DG_EMU35_VQ_TYPE", "dcae"}})); });
  EXPECT_NE(dcae.find("not available"), std::string::npos) << dcae;
}

TEST(EditImageRefs, CellFormats) {
  EXPECT_EQ(parse_image_cell(""), std::vector<std::string>{});
  EXPECT_EQ(parse_image_cell("  []  "), std::vector<std::string>{});
  EXPECT_EQ(parse_image_cell("a.png"), std::vector<std::string>{"a.png"});
  EXPECT_EQ(parse_image_cell("a.png, b.png,"), (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(parse_image_cell("[\"x,y.png\", \"z.png\"]"), (std::vector<std::string>{"x,y.png", "z.png"}));
  EXPECT_EQ(parse_image_cell("[a.png]"), std::vector<std::string>{"[a.png]"});  // not JSON: one path, as diffgentor
  EXPECT_NE(error_of([] { parse_image_cell("[1, 2]"); }).find("input_images"), std::string::npos);
  EXPECT_EQ(image_refs_from_json(nlohmann::json::array({"a.png", "b.png"})), (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(image_refs_from_json("a.png,b.png"), (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(image_refs_from_json(nullptr), std::vector<std::string>{});
  EXPECT_TRUE(is_remote_ref("HTTPS://x/y.png"));
  EXPECT_FALSE(is_remote_ref("httpx/y.png"));
  EXPECT_EQ(resolve_image_ref("a.png", "/data"), "/data/a.png");
  EXPECT_EQ(resolve_image_ref("/abs/a.png", "/data"), "/abs/a.png");
  EXPECT_EQ(resolve_image_ref("http://h/a.png", "/data"), "http://h/a.png");
}

TEST(EditOutputNames, IndexNamesAndDiffgentorExtensionRule) {
  EXPECT_EQ(index_output_name(42), "000042.png");
  EXPECT_EQ(index_output_name(1234567), "1234567.png");
  EXPECT_EQ(custom_output_name("  a/b/c  "), "a/b/c.png");
  EXPECT_EQ(custom_output_name("a/b/c.PNG"), "a/b/c.png");
  EXPECT_EQ(custom_output_name("x.JPeG"), "x.jpeg");
  EXPECT_EQ(custom_output_name("x.webp"), "x.webp.png");
  EXPECT_EQ(custom_output_name("./sub//x.jpg"), "sub/x.jpg");
  EXPECT_EQ(custom_output_name("   "), "");
  for (const char* bad : {"/etc/x.png", "../x.png", "a/../../x.png", "a/..", "~/x.png", "sub/"})
    EXPECT_NE(error_of([&] { custom_output_name(bad); }), "") << bad;
  EXPECT_EQ(output_format_for("a/b.jpg"), emu35::ImageFormat::JPEG);
  EXPECT_EQ(output_format_for("a/b.png"), emu35::ImageFormat::PNG);
}

TEST(EditRemote, Md5MatchesRfc1321AndCacheNames) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
  EXPECT_EQ(cache_file_name("https://example.com/a/b.png?x=1"), md5_hex("https://example.com/a/b.png?x=1") + ".png");
  EXPECT_EQ(cache_file_name("https://example.com/a/b"), md5_hex("https://example.com/a/b") + ".jpg");
  EXPECT_EQ(cache_file_name("https://example.com"), md5_hex("https://example.com") + ".jpg");
}

TEST(EditGpus, VisibleListAndSlices) {
  auto cvd = env_of({{"CUDA_VISIBLE_DEVICES", "4,5,6,7"}});
  auto gpus = visible_gpus(std::nullopt, cvd);
  EXPECT_EQ(gpus, (std::vector<std::string>{"4", "5", "6", "7"}));
  EXPECT_EQ(gpu_slices(gpus, 2), (std::vector<std::string>{"4,5", "6,7"}));
  EXPECT_EQ(gpu_slices(gpus, 3), std::vector<std::string>{});  // one instance: no workers
  EXPECT_EQ(gpu_slices(gpus, 0), std::vector<std::string>{});
  EXPECT_NE(error_of([&] { gpu_slices(gpus, 5); }).find("not enough GPUs"), std::string::npos);
  EXPECT_EQ(visible_gpus(2, cvd), (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(visible_gpus(3, env_of({})), (std::vector<std::string>{"0", "1", "2"}));
  auto uuids = env_of({{"CUDA_VISIBLE_DEVICES", "GPU-aaa,GPU-bbb"}});
  EXPECT_EQ(gpu_slices(visible_gpus(std::nullopt, uuids), 1), (std::vector<std::string>{"GPU-aaa", "GPU-bbb"}));
}

TEST(EditTables, AppendKeepsEarlierRowsAndRefusesOtherHeaders) {
  emu35::test::TempDir tmp("edit-tables");
  const auto path = tmp / "sub" / "results.csv";
  {
    CsvAppender a;
    a.open(path, {"a", "b"});
    a.append({"1", "x,y"});
  }
  {
    CsvAppender a;
    a.open(path, {"a", "b"});
    a.append({"2", "z"});
  }
  EXPECT_EQ(emu35::test::read_file(path), "a,b\n1,\"x,y\"\n2,z\n");
  EXPECT_NE(error_of([&] { check_csv_header(path, {"a", "c"}); }).find("other columns"), std::string::npos);
  // A last line cut short (a crash) does not swallow the next row.
  emu35::test::write_file(tmp / "cut.csv", "a,b\n1,");
  {
    CsvAppender a;
    a.open(tmp / "cut.csv", {"a", "b"});
    a.append({"2", "z"});
  }
  EXPECT_EQ(emu35::test::read_file(tmp / "cut.csv"), "a,b\n1,\n2,z\n");
}

TEST(EditDataset, CsvRowsIndicesImagesAndPerRowErrors) {
  emu35::test::TempDir tmp("edit-dataset");
  emu35::test::write_file(tmp / "d.csv",
                          "instruction,input_images,index,name\n"
                          "red,a.png,7,\n"
                          "blue,\"[\"\"b.png\"\",\"\"/abs/c.png\"\"]\",8,custom/x.webp\n"
                          "bad index,a.png,x,\n"
                          "too,many,fields,here,!\n"
                          ",a.png,9,\n"
                          "no images,,10,\n"
                          "escape,a.png,11,../out.png\n"
                          "dup,a.png,7,\n");
  DatasetOptions opt;
  opt.output_name_column = "name";
  Dataset d = load_dataset(tmp / "d.csv", opt);
  ASSERT_EQ(d.rows.size(), 8u);
  EXPECT_EQ(d.columns, (std::vector<std::string>{"index", "input_images", "instruction", "name"}));
  EXPECT_EQ(d.rows[0].error, "");
  EXPECT_EQ(*d.rows[0].index, 7);
  EXPECT_EQ(d.rows[0].output_name, "000007.png");
  EXPECT_EQ(d.rows[0].images, std::vector<std::string>{(tmp.path() / "a.png").string()});
  EXPECT_EQ(d.rows[1].error, "");
  EXPECT_EQ(d.rows[1].output_name, "custom/x.webp.png");
  EXPECT_EQ(d.rows[1].images, (std::vector<std::string>{(tmp.path() / "b.png").string(), "/abs/c.png"}));
  EXPECT_NE(d.rows[2].error.find("index"), std::string::npos);
  EXPECT_EQ(d.rows[2].index_text, "x");
  EXPECT_NE(d.rows[3].error.find("5 fields"), std::string::npos);
  EXPECT_NE(d.rows[4].error.find("empty instruction"), std::string::npos);
  EXPECT_NE(d.rows[5].error.find("no input pictures"), std::string::npos);
  EXPECT_NE(d.rows[6].error.find(".."), std::string::npos);
  EXPECT_NE(d.rows[7].error.find("duplicate"), std::string::npos);
  EXPECT_EQ(d.rows[7].position, 7u);
  EXPECT_EQ(d.rows[7].line, 9u);
}

TEST(EditDataset, FileLevelErrors) {
  emu35::test::TempDir tmp("edit-dataset-errors");
  emu35::test::write_file(tmp / "noinst.csv", "prompt,input_images\nx,a.png\n");
  EXPECT_NE(error_of([&] { load_dataset(tmp / "noinst.csv", {}); }).find("\"instruction\""), std::string::npos);
  DatasetOptions custom;
  custom.instruction_key = "prompt";
  EXPECT_EQ(load_dataset(tmp / "noinst.csv", custom).rows.size(), 1u);
  EXPECT_NE(error_of([&] { load_dataset(tmp / "missing.csv", {}); }).find("no such file"), std::string::npos);
  emu35::test::write_file(tmp / "x.parquet", "PAR1");
  EXPECT_NE(error_of([&] { load_dataset(tmp / "x.parquet", {}); }).find("CSV or JSONL"), std::string::npos);
  EXPECT_NE(error_of([&] { load_dataset(tmp.path(), {}); }).find("CSV or JSONL"), std::string::npos);
  emu35::test::write_file(tmp / "x.tsv", "a\tb\n");
  EXPECT_NE(error_of([&] { load_dataset(tmp / "x.tsv", {}); }).find("unsupported"), std::string::npos);
}

TEST(EditDataset, JsonlRows) {
  emu35::test::TempDir tmp("edit-jsonl");
  emu35::test::write_file(tmp / "d.jsonl",
                          "{\"instruction\": \"a\", \"input_images\": [\"p.png\"], \"extra\": 3}\n"
                          "\n"
                          "not json\n"
                          "{\"instruction\": \"b\", \"input_images\": \"q.png,r.png\", \"index\": 40}\n"
                          "{\"input_images\": \"q.png\"}\n"
                          "{\"instruction\": \"c\", \"input_images\": \"q.png\", \"index\": -1}\n");
  Dataset d = load_dataset(tmp / "d.jsonl", {});
  ASSERT_EQ(d.rows.size(), 5u);
  EXPECT_EQ(d.columns, (std::vector<std::string>{"extra", "index", "input_images", "instruction"}));
  EXPECT_EQ(d.rows[0].error, "");
  EXPECT_EQ(*d.rows[0].index, 0);
  EXPECT_EQ(d.rows[0].fields.at("extra"), "3");
  EXPECT_NE(d.rows[1].error.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(d.rows[1].line, 3u);
  EXPECT_EQ(*d.rows[2].index, 40);
  EXPECT_EQ(d.rows[2].output_name, "000040.png");
  EXPECT_EQ(d.rows[2].images.size(), 2u);
  EXPECT_NE(d.rows[3].error.find("instruction"), std::string::npos);
  EXPECT_NE(d.rows[4].error.find("index"), std::string::npos);
}

TEST(EditTables, PerProcessNamesFollowDiffgentor) {
  ProcessPlacement one;
  EXPECT_EQ(process_suffix(one), "");
  ProcessPlacement node{1, 4, 0, 1};
  EXPECT_EQ(process_suffix(node), "_node1");
  ProcessPlacement worker{0, 1, 2, 3};
  EXPECT_EQ(process_suffix(worker), "_process2");
  ProcessPlacement both{3, 4, 1, 2};
  EXPECT_EQ(process_suffix(both), "_node3_process1");
  EXPECT_EQ(with_suffix("/o/results.csv", "_node3_process1"), std::filesystem::path("/o/results_node3_process1.csv"));
  EXPECT_EQ(failures_path_for("/o/results.csv"), std::filesystem::path("/o/failures.csv"));
  EXPECT_EQ(failures_path_for("/o/results_7.csv"), std::filesystem::path("/o/failures_7.csv"));
  EXPECT_EQ(failures_path_for("/o/table.csv"), std::filesystem::path("/o/table_failures.csv"));
}
