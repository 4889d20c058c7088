#include "core/distributed/environment.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "core/common/errors.h"

namespace rkd::dist {
namespace {

const char* const kVariables[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                  "MASTER_PORT", nullptr};

const std::string kHowToSet =
    "start the workers with torchrun (torchrun --nproc-per-node N $(which reviewkd) train ...) or with "
    "reviewkd launch --nproc-per-node N -- train ..., which set RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, "
    "MASTER_ADDR and MASTER_PORT";

long long integer(const char* name, const char* text, long long low, long long high) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < low || v > high)
    throw InputError("the environment variable " + std::string(name) + "='" + text + "' is not a whole number from " +
                         std::to_string(low) + " to " + std::to_string(high),
                     "set " + std::string(name) + " to such a number; " + kHowToSet);
  return v;
}

}  // namespace

const char* const* environmentVariables() { return kVariables; }

std::optional<Environment> readEnvironment(const std::function<const char*(const char*)>& get) {
  const auto value = [&](const char* name) -> const char* {
    const char* v = get ? get(name) : std::getenv(name);
    return v && *v ? v : nullptr;
  };
  std::vector<std::string> missing;
  bool any = false;
  for (const char* const* n = kVariables; *n; ++n) {
    if (value(*n)) any = true;
    else missing.push_back(*n);
  }
  if (!any) return std::nullopt;
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    throw InputError("this looks like a distributed worker (some torchrun variables are set), but " + names +
                         (missing.size() == 1 ? " is" : " are") + " not set",
                     "set " + names + "; or " + kHowToSet + "; or unset them all for a one-process run");
  }
  Environment e;
  e.worldSize = static_cast<int>(integer("WORLD_SIZE", value("WORLD_SIZE"), 1, 65536));
  e.rank = static_cast<int>(integer("RANK", value("RANK"), 0, e.worldSize - 1));
  e.localWorldSize = static_cast<int>(integer("LOCAL_WORLD_SIZE", value("LOCAL_WORLD_SIZE"), 1, e.worldSize));
  e.localRank = static_cast<int>(integer("LOCAL_RANK", value("LOCAL_RANK"), 0, e.localWorldSize - 1));
  e.masterAddr = value("MASTER_ADDR");
  e.masterPort = static_cast<int>(integer("MASTER_PORT", value("MASTER_PORT"), 1, 65535));
  if (const char* t = value("REVIEWKD_DIST_TIMEOUT"))
    e.timeout = std::chrono::milliseconds(1000 * integer("REVIEWKD_DIST_TIMEOUT", t, 1, 7 * 24 * 3600));
  return e;
}

}  // namespace rkd::dist
