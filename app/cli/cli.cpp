#include "app/cli/cli.h"

#include <cstdlib>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/table_cell.h"
#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/services/run_history.h"
#include "core/services/training_service.h"

namespace rkd::cli {

std::string GlobalOptions::storePath() const { return services::resolveStorePath(db); }

int run(int argc, char** argv) {
  CLI::App app{"reviewkd: knowledge-review distillation (ReviewKD, CVPR 2021) from the command line"};
  app.require_subcommand(1);
  app.set_version_flag("--version", services::versionText("reviewkd"));
  GlobalOptions global;
  app.add_option("--log-level", global.logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--db", global.db, "run store (SQLite); default $REVIEWKD_DB, else " + std::string("~/.local/share/reviewkd-studio/runs.sqlite"));
  Command command;
  addModelsCommand(app, command);
  addParityCommand(app, command);
  addBenchCommand(app, command);
  addDevicesCommand(app, command);
  addTrainCommands(app, command, global);
  addRunsCommand(app, command, global);
  addInspectCommand(app, command);
  addLaunchCommand(app, command, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kSuccess : kBadInput;
  }
  global.dbGiven = app.count("--db") > 0;
  global.logLevelGiven = app.count("--log-level") > 0;
  try {
    // An empty --db (an unset variable: --db "$STORE") must not fall back to the user's real history.
    if (global.dbGiven && global.db.empty())
      throw InputError("--db is empty", "give the store file (--db FILE), or leave --db out for the default store");
    setLogLevel(global.logLevel);
    return command.action ? command.action() : kBadInput;
  } catch (...) {
    // The one boundary (describeCurrentError) gives the message, the fix and the exit code of the error's kind.
    // Messages quote file names, keys and values from files: printed escaped (terminalText).
    const ErrorReport report = describeCurrentError();
    std::cerr << "error: " << terminalText(report.full(), true) << "\n";
    return report.exitCode;
  }
}

}  // namespace rkd::cli
