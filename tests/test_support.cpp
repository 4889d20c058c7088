#include "test_support.h"

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

}  // namespace rkdtest
