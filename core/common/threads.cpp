#include "core/common/threads.h"

#include <algorithm>
#include <string>
#include <thread>

#include <ATen/Parallel.h>

#include "core/common/errors.h"

namespace rkd {

int useThreads(int requested) {
  if (requested < 0)
    throw InputError("thread count " + std::to_string(requested) + " is negative",
                     "give 0 (all cores) or a positive count");
  const int n = requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (at::get_num_threads() != n) at::set_num_threads(n);
  return at::get_num_threads();
}

}  // namespace rkd
