#include "app/cli/cli.h"

#include <cstdlib>
#include <iostream>

#include "app/cli/commands.h"
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
  addLaunchCommand(app, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kSuccess : kBadInput;
  }
  try {
    setLogLevel(global.logLevel);
    return command.action ? command.action() : kBadInput;
  } catch (const InputError& e) {
    std::cerr << "error: " << e.full() << "\n";
    return kBadInput;
  } catch (const UserError& e) {
    std::cerr << "error: " << e.full() << "\n";
    return kRunFailed;
  } catch (const std::exception& e) {
    std::cerr << "error: " << withoutStackTrace(e.what()) << "\n";
    return kRunFailed;
  }
}

}  // namespace rkd::cli
