#include "core/runtime/threads.h"

#include <algorithm>
#include <climits>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/common/errors.h"

namespace rkd {

int useThreads(int requested) {
  if (requested < 0)
    throw InputError("thread count " + std::to_string(requested) + " is negative",
                     "give 0 (all cores) or a positive count");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (requested > cores)
    throw InputError("thread count " + std::to_string(requested) + " is more than the " + std::to_string(cores) +
                         " cores of this machine (more threads than cores only slow the step down)",
                     "set threads to at most " + std::to_string(cores) + ", or 0 for all cores");
  const int n = requested > 0 ? requested : cores;
  if (at::get_num_threads() != n) at::set_num_threads(n);
  return at::get_num_threads();
}

int parallelChunkCount(int64_t n) {
  if (n <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(n, std::max(1, at::get_num_threads())));
}

void parallelChunks(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  const int chunks = parallelChunkCount(n);
  if (chunks == 0) return;
  auto bounds = [&](int k) { return n * k / chunks; };
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks));
  auto guarded = [&](int k) {
    try {
      fn(bounds(k), bounds(k + 1), k);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> others;
  others.reserve(static_cast<size_t>(chunks - 1));
  for (int k = 1; k < chunks; ++k) others.emplace_back(guarded, k);
  guarded(0);
  for (auto& t : others) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void retainFreedMemory() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
  });
#endif
}

}  // namespace rkd
