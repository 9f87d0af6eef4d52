// `emu35 tokenize` / `emu35 detokenize` on the fixture model folder.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace emu35 {
namespace {

// Single-quoted for the shell (built by appending: GCC 12 warns falsely on "'" + str).
std::string quoted(const std::string& s) {
  std::string q(1, '\'');
  q += s;
  q += '\'';
  return q;
}
std::string bin() { return quoted(test::emu35_binary().string()); }
std::string model() { return quoted(test::fixture("model").string()); }

TEST(TokenizeCli, TokenizeText) {
  std::string out;
  ASSERT_EQ(test::run_command(bin() + " tokenize --tokenizer " + model() + " --text '<|extra_203|>64*64'", &out,
                              false),
            0)
      << out;
  EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json::parse("[151849,21,19,9,21,19]"));
  EXPECT_EQ(out, "[151849,21,19,9,21,19]\n");
}

TEST(TokenizeCli, TokenizeFile) {
  test::TempDir dir("cli");
  test::write_file(dir / "p.txt", "Hello world\n");
  std::string out;
  ASSERT_EQ(test::run_command(bin() + " tokenize --model " + model() + " --file " + quoted((dir / "p.txt").string()),
                              &out, false),
            0)
      << out;
  EXPECT_EQ(out, "[9707,1879,198]\n");
}

TEST(TokenizeCli, Detokenize) {
  std::string out;
  ASSERT_EQ(test::run_command(bin() + " detokenize --tokenizer " + model() + " --ids '[151849, 9707, 1879, 151854]'",
                              &out, false),
            0)
      << out;
  EXPECT_EQ(out, "<|extra_203|>Hello world<|visual token 000000|>");
}

TEST(TokenizeCli, ClearErrors) {
  std::string out;
  EXPECT_NE(test::run_command(bin() + " detokenize --tokenizer " + model() + " --ids '[1, 999999]'", &out), 0);
  EXPECT_NE(out.find("error: tokenizer: token id 999999 out of range"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(test::run_command(bin() + " detokenize --tokenizer " + model() + " --ids '[1, \"x\"]'", &out), 0);
  EXPECT_NE(out.find("--ids element 1"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(test::run_command(bin() + " detokenize --tokenizer " + model() + " --ids '[1,'", &out), 0);
  EXPECT_NE(out.find("not valid JSON"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(test::run_command(bin() + " tokenize --tokenizer /nonexistent/dir --text hi", &out), 0);
  EXPECT_NE(out.find("/nonexistent/dir"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(test::run_command(bin() + " tokenize --tokenizer " + model(), &out), 0);
  EXPECT_NE(out.find("--text"), std::string::npos) << out;
}

}  // namespace
}  // namespace emu35
