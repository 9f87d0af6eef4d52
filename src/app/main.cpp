// emu35: native inference for the Emu3.5 family. Subcommands live in src/app/cmd_*.cpp.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/command.h"
#include "common/error.h"

namespace emu35::app {
std::vector<Command>& command_registry() {
  static std::vector<Command> registry;
  return registry;
}
}  // namespace emu35::app

int main(int argc, char** argv) {
  using namespace emu35::app;
  CLI::App app{
      "emu35 - native inference engine for BAAI's Emu3.5 (Emu3.5, Emu3.5-Image, Emu3.5-VisionTokenizer)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "emu35 0.1.0");
  app.footer("Run 'emu35 COMMAND --help' for a command's options.");

  auto& cmds = command_registry();
  std::stable_sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const emu35::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
