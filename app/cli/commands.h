#pragma once
// Registration of the CLI's subcommands; each lives in its own cmd_*.cpp.
#include <functional>
#include <string>
#include <vector>

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
  bool dbGiven = false;        ///< --db was on the command line (an empty --db "" is refused)
  bool logLevelGiven = false;  ///< --log-level was on the command line
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
void addLaunchCommand(CLI::App& app, Command& command, const GlobalOptions& global);
/// The arguments every worker of `reviewkd [GLOBAL...] launch ... -- COMMAND...` runs: the global options given
/// before `launch` (--db, --log-level) first, then COMMAND. Refuses (InputError) a COMMAND that is itself a launch,
/// and one that gives a global option again with another value.
std::vector<std::string> workerCommand(const GlobalOptions& global, const std::vector<std::string>& command);

}  // namespace rkd::cli
