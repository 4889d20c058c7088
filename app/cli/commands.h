#pragma once
// Registration of the CLI's subcommands; each lives in its own cmd_*.cpp.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "app/cli/cli.h"

namespace rkd::cli {

/// What a subcommand leaves behind after parsing: the action to run (returns an exit code).
struct Command {
  std::function<int()> action;
};

/// Options every subcommand shares.
struct GlobalOptions {
  std::string logLevel = "warn";
  std::string db;  ///< run store path; empty = the XDG default
  /// The run store to open: --db, else $REVIEWKD_DB, else the XDG default (services::resolveStorePath).
  std::string storePath() const;
};

void addModelsCommand(CLI::App& app, Command& command);
void addParityCommand(CLI::App& app, Command& command);
void addBenchCommand(CLI::App& app, Command& command);
void addDevicesCommand(CLI::App& app, Command& command);
void addTrainCommands(CLI::App& app, Command& command, const GlobalOptions& global);
void addRunsCommand(CLI::App& app, Command& command, const GlobalOptions& global);
void addInspectCommand(CLI::App& app, Command& command);
void addLaunchCommand(CLI::App& app, Command& command);

}  // namespace rkd::cli
