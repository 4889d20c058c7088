#include "test_support.h"

#include <QProcess>

#include "core/io/tensor_check.h"

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

double relError(const torch::Tensor& a, const torch::Tensor& b) { return rkd::relativeError(a, b); }

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

void randomiseBatchNorms(torch::nn::Module& net) {
  torch::NoGradGuard noGrad;
  for (const auto& m : net.modules(false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.normal_(0.0, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0.0, 0.2);
    }
  }
}

int64_t countBatchNorms(torch::nn::Module& net) {
  int64_t n = 0;
  for (const auto& m : net.modules(false)) n += m->as<torch::nn::BatchNorm2d>() != nullptr;
  return n;
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
