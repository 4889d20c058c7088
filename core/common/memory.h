#pragma once
// The machine's memory, and telling an allocation that failed from other errors, so that running out of memory
// is reported as what it is, with the setting to lower, instead of an allocator's message and stack trace.
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

namespace rkd {

/// /proc/meminfo's MemTotal and MemAvailable in bytes (0 when unknown).
struct MemoryInfo {
  uint64_t total = 0;
  uint64_t available = 0;
};
MemoryInfo machineMemory();

/// "12.3 GiB" (or MiB below one GiB).
std::string memoryText(uint64_t bytes);

/// When `e` says an allocation failed (std::bad_alloc, LibTorch's CPU allocator, CUDA out of memory): the size
/// asked for in bytes (0 when the message does not say). nullopt for any other error.
std::optional<uint64_t> failedAllocation(const std::exception& e);

/// "this machine has 17.2 GiB available of 23.4 GiB" (or the GPU's own wording when `e` was a CUDA one).
std::string memoryFacts();

}  // namespace rkd
