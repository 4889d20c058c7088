#include "core/common/memory.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>

#include <sys/resource.h>

namespace rkd {

MemoryInfo machineMemory() {
  MemoryInfo m;
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (!(fields >> key >> kib)) continue;
    if (key == "MemTotal:") m.total = kib * 1024;
    if (key == "MemAvailable:") m.available = kib * 1024;
  }
  return m;
}

std::string memoryText(uint64_t bytes) {
  char buf[64];
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  if (gib >= 1.0)
    std::snprintf(buf, sizeof buf, "%.1f GiB", gib);
  else
    std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::optional<uint64_t> failedAllocation(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return 0;
  const std::string text = e.what();
  // LibTorch's CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes" (or
  // "not enough memory: you tried to allocate N bytes"); CUDA: "CUDA out of memory. Tried to allocate 2.00 GiB".
  const bool cpu = text.find("DefaultCPUAllocator") != std::string::npos &&
                   (text.find("can't allocate memory") != std::string::npos ||
                    text.find("not enough memory") != std::string::npos);
  const bool cuda = text.find("CUDA out of memory") != std::string::npos;
  if (!cpu && !cuda) return std::nullopt;
  const size_t at = text.find("you tried to allocate ");
  if (cpu && at != std::string::npos) {
    unsigned long long n = 0;
    if (std::sscanf(text.c_str() + at + 22, "%llu", &n) == 1) return static_cast<uint64_t>(n);
  }
  const size_t cudaAt = text.find("Tried to allocate ");
  if (cuda && cudaAt != std::string::npos) {
    double v = 0;
    char unit[8] = {0};
    if (std::sscanf(text.c_str() + cudaAt + 18, "%lf %3s", &v, unit) == 2) {
      const std::string u = unit;
      const double scale = u == "GiB" ? 1073741824.0 : u == "MiB" ? 1048576.0 : u == "KiB" ? 1024.0 : 1.0;
      return static_cast<uint64_t>(v * scale);
    }
  }
  return 0;
}

std::string memoryFacts() {
  const MemoryInfo m = machineMemory();
  std::string out = m.total == 0 ? "this machine's memory is unknown"
                                 : "this machine has " + memoryText(m.available) + " available of " + memoryText(m.total);
  // Limits below the machine's: the address space (ulimit -v) and the cgroup (a container, a systemd slice).
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
    out += ", and this process may map at most " + memoryText(static_cast<uint64_t>(as.rlim_cur)) + " (ulimit -v)";
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string max;
  if (cgroup >> max && max != "max") {
    const uint64_t bytes = std::strtoull(max.c_str(), nullptr, 10);
    if (bytes > 0 && (m.total == 0 || bytes < m.total))
      out += ", and its control group at most " + memoryText(bytes) + " (/sys/fs/cgroup/memory.max)";
  }
  return out;
}

}  // namespace rkd
