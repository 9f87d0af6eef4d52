// Subcommands register themselves here (one file per command under src/app/),
// so main.cpp never needs editing when a command is added.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace emu35::app {

// setup() adds the command's options to `sub` and returns the function that runs
// it after parsing (its return value is the process exit code).
using CommandSetup = std::function<std::function<int()>(CLI::App& sub)>;

struct Command {
  std::string name;
  std::string help;
  int order;  // position in --help (lower first)
  CommandSetup setup;
};

std::vector<Command>& command_registry();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string help, int order, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(help), order, std::move(setup)});
  }
};

}  // namespace emu35::app
