#include "test_support.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QProcess>
#include <QThread>

#include <sqlite3.h>


#include <cstdlib>
#include <filesystem>
#include <vector>

namespace rkdtest {
namespace fs = std::filesystem;

std::string testDataDir() { return REVIEWKD_TEST_DATA; }

std::string goldenDir() {
  if (const char* env = std::getenv("REVIEWKD_GOLDEN_DIR"); env && *env) return env;
  return REVIEWKD_GOLDEN_DEFAULT;
}

std::string findGolden(const std::string& relative) {
  for (const std::string& root : {testDataDir() + "/golden", goldenDir()}) {
    fs::path p = fs::path(root) / relative;
    if (fs::exists(p)) return p.string();
  }
  return {};
}

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs& tempDirs() {
  static TempDirs t;
  return t;
}
}  // namespace

std::string tempDir(const std::string& tag) {
  std::string pattern = (fs::temp_directory_path() / ("reviewkd-" + tag + "-XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  if (!made) throw std::runtime_error("mkdtemp failed for " + pattern);
  tempDirs().dirs.emplace_back(made);
  return made;
}

// Qt Test cuts a failure message at about 1 kB, and a CLI's output starts with its progress and warnings: keep
// each stream's end, where the error is, and say how much was left out.
QString CliResult::describe() const {
  auto tail = [](const QString& s, int keep) {
    return s.size() <= keep ? s : QString("[%1 earlier characters left out] ").arg(s.size() - keep) + s.right(keep);
  };
  return QString("exit %1\nstdout: %2\nstderr: %3").arg(code).arg(tail(out, 250), tail(err, 550));
}

CliResult runCli(const QStringList& args, int timeoutMs, const QProcessEnvironment* env, const QString& workDir) {
  return runProgram(QString(REVIEWKD_CLI_PATH), args, timeoutMs, env, workDir);
}

int64_t waitForRun(const std::string& db, const std::string& name,
                   const std::function<bool(rkd::RunStore&, const rkd::RunSummary&)>& ready, int pollMs, int timeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < timeoutMs) {
    QThread::msleep(static_cast<unsigned long>(pollMs));
    QCoreApplication::processEvents();
    rkd::RunStoreOptions ro;
    ro.readOnly = true;
    ro.recoverInterrupted = false;
    try {
      rkd::RunStore reader(db, ro);
      rkd::RunFilter f;
      f.text = name;
      auto runs = reader.listRuns(f);
      if (!runs.empty() && ready(reader, runs.front())) return runs.front().id;
    } catch (const std::exception&) {
      // the writer may still be creating the file
    }
  }
  return 0;
}

std::string rawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "<open failed>";
  }
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE) out = std::string("<error ") + sqlite3_errmsg(db) + ">";
  } else {
    out = std::string("<error ") + sqlite3_errmsg(db) + ">";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

CliResult runProgram(const QString& program, const QStringList& args, int timeoutMs, const QProcessEnvironment* env,
                     const QString& workDir) {
  QProcess p;
  if (env) p.setProcessEnvironment(*env);
  if (!workDir.isEmpty()) p.setWorkingDirectory(workDir);
  p.start(program, args);
  CliResult r;
  if (!p.waitForStarted(10000)) return r;
  p.closeWriteChannel();
  p.waitForFinished(timeoutMs);
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

}  // namespace rkdtest
