#pragma once
// The torchrun environment of one worker: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT, with torchrun's names and meanings, so `torchrun ... reviewkd train ...` works unchanged and
// `reviewkd launch` sets exactly the same variables. Torch-free.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace rkd::dist {

struct Environment {
  int rank = 0;             ///< RANK: this worker among all, 0 .. worldSize-1
  int worldSize = 1;        ///< WORLD_SIZE: workers of the job on every node
  int localRank = 0;        ///< LOCAL_RANK: this worker on its node (picks the GPU)
  int localWorldSize = 1;   ///< LOCAL_WORLD_SIZE: workers on this node
  std::string masterAddr;   ///< MASTER_ADDR: host of rank 0's rendezvous store
  int masterPort = 0;       ///< MASTER_PORT
  /// How long a collective or the rendezvous may wait for the others (REVIEWKD_DIST_TIMEOUT seconds, default
  /// 300) before the job ends with a message naming the ranks that did not answer.
  std::chrono::milliseconds timeout{300000};

  bool primary() const { return rank == 0; }
};

/// Reads the environment through `get` (getenv by default). nullopt when none of the torchrun variables is set
/// (a plain one-process run). Throws InputError (exit 2) naming the variable when only some are set, when one
/// is not a number or is out of range (RANK >= WORLD_SIZE, a port outside 1..65535, ...).
std::optional<Environment> readEnvironment(
    const std::function<const char*(const char*)>& get = nullptr);

/// The names of the variables readEnvironment needs, in order.
const char* const* environmentVariables();

}  // namespace rkd::dist
