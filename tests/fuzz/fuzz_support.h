#pragma once
// What the fuzz targets share: a scratch folder of this process for the files a reader takes by path, reused by
// every iteration (in /dev/shm when there is one: a file write per input must not be the bottleneck).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include <unistd.h>

#include "core/common/logging.h"

namespace rkd::fuzz {

/// What every target's LLVMFuzzerInitialize does first: logging off (a reader's warnings on every input would
/// be most of the run's time). The targets that link LibTorch also keep its kernels on one thread.
inline void quiet() { rkd::setLogLevel("off"); }

/// The process's scratch folder, made on first use and removed when the process exits normally (libFuzzer
/// exits after -max_total_time or -runs; after a crash it stays, a few kB in /dev/shm or $TMPDIR).
inline const std::string& scratchDir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::string base = "/dev/shm";
    if (!fs::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string pattern = base + "/reviewkd-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("fuzz: cannot make a scratch folder in " + base);
    static std::string made = pattern;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(made, ignored);
    });
    return pattern;
  }();
  return dir;
}

/// Writes `size` bytes to `name` in the scratch folder (replacing what the last input left) and returns its path.
inline std::string writeScratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratchDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz: cannot write " + path);
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    std::fclose(f);
    throw std::runtime_error("fuzz: cannot write " + path);
  }
  std::fclose(f);
  return path;
}

/// A folder `name` in the scratch folder, made when missing.
inline std::string scratchFolder(const std::string& name) {
  const std::string path = scratchDir() + "/" + name;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw std::runtime_error("fuzz: cannot make " + path + ": " + ec.message());
  return path;
}

}  // namespace rkd::fuzz
