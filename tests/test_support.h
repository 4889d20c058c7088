#pragma once
// Helpers shared by the core test suites, without LibTorch (the store and config suites build without it);
// torch_support.h adds the tensor helpers.
#include <string>

#include <QString>
#include <QProcessEnvironment>
#include <QStringList>

#include <functional>

#include "core/store/run_store.h"
#include "core/vocabulary/run_config.h"

namespace rkdtest {

/// tests/data in the source tree (small files committed with the repository).
std::string testDataDir();
/// The golden directory: $REVIEWKD_GOLDEN_DIR, else ../shared/golden beside the source tree.
std::string goldenDir();
/// A golden file by path relative to a golden root: tests/data/golden first, then goldenDir(); "" if neither.
std::string findGolden(const std::string& relative);
/// A fresh temporary directory, removed when the process exits normally.
std::string tempDir(const std::string& tag);

/// What a `reviewkd` process (the CLI this build made) did: exit code (-1 not started, -2 crashed), output.
struct CliResult {
  int code = -1;
  QString out;
  QString err;
  /// "exit N / stdout / stderr", for failure messages.
  QString describe() const;
};
/// Runs the CLI with `args` and no standard input; waits at most `timeoutMs`. `env`: the child's environment
/// (default: this process's); `workDir`: its working directory (default: this process's).
CliResult runCli(const QStringList& args, int timeoutMs = 600000, const QProcessEnvironment* env = nullptr,
                 const QString& workDir = {});
/// Polls the store at `db` read-only (a child process writes it) every `pollMs` until `ready` holds for the newest
/// run whose name contains `name`; that run's id, or 0 after `timeoutMs`.
int64_t waitForRun(const std::string& db, const std::string& name,
                   const std::function<bool(rkd::RunStore&, const rkd::RunSummary&)>& ready, int pollMs,
                   int timeoutMs = 240000);
/// Runs one SQL statement on a connection of its own (outside the store): the first column of the first row, ""
/// when none, "<error ...>" when SQLite refused it.
std::string rawQuery(const std::string& path, const std::string& sql);
/// The same for any program (e.g. the CLI under setpriv or a shell that sets a ulimit first).
CliResult runProgram(const QString& program, const QStringList& args, int timeoutMs = 600000,
                     const QProcessEnvironment* env = nullptr, const QString& workDir = {});

}  // namespace rkdtest
