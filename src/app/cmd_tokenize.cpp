// `emu35 tokenize` / `emu35 detokenize`: the text tokenizer on the command line,
// for checking prompts against the upstream Python tokenizer.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "app/command.h"
#include "common/error.h"
#include "common/file_util.h"
#include "text/tokenizer.h"

namespace emu35::app {
namespace {

struct TokenizeOpts {
  std::string dir, text, file;
};

const RegisterCommand reg_tokenize{
    "tokenize", "Print the token ids of a text as a JSON array", 60, [](CLI::App& sub) {
      auto o = std::make_shared<TokenizeOpts>();
      sub.add_option("--tokenizer,--model", o->dir,
                     "Folder holding emu3.tiktoken and emu3_vision_tokens.txt (the model folder)")
          ->required();
      auto* t = sub.add_option("--text", o->text, "Text to encode (special tokens like <|extra_203|> allowed)");
      auto* f = sub.add_option("--file", o->file, "Read the text from this file instead");
      t->excludes(f);
      f->excludes(t);
      return std::function<int()>([o, t, f] {
        check(t->count() || f->count(), "tokenize: give --text TEXT or --file PATH");
        const std::string text = f->count() ? read_whole_file(o->file) : o->text;
        const Tokenizer tk = Tokenizer::load(o->dir);
        std::cout << nlohmann::json(tk.encode(text)).dump() << "\n";
        return 0;
      });
    }};

const RegisterCommand reg_detokenize{
    "detokenize", "Print the text of a JSON array of token ids", 61, [](CLI::App& sub) {
      auto o = std::make_shared<TokenizeOpts>();
      sub.add_option("--tokenizer,--model", o->dir,
                     "Folder holding emu3.tiktoken and emu3_vision_tokens.txt (the model folder)")
          ->required();
      sub.add_option("--ids", o->text, "Token ids as a JSON array, e.g. '[151849, 9707]'")->required();
      return std::function<int()>([o] {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(o->text);
        } catch (const nlohmann::json::exception& e) {
          throw Error(std::string("detokenize: --ids is not valid JSON: ") + e.what());
        }
        check(j.is_array(), "detokenize: --ids must be a JSON array of integers");
        std::vector<int32_t> ids;
        ids.reserve(j.size());
        for (size_t i = 0; i < j.size(); ++i) {
          const auto& v = j[i];
          check(v.is_number_integer() && v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX,
                "detokenize: --ids element " + std::to_string(i) + " is not a token id: " + v.dump());
          ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
        }
        const Tokenizer tk = Tokenizer::load(o->dir);
        std::cout << tk.decode(ids);  // exactly the text: no newline added
        return 0;
      });
    }};

}  // namespace
}  // namespace emu35::app
