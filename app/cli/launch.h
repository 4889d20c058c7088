#pragma once
// `reviewkd launch`'s worker start, for the commands that start workers themselves (bench step --nproc).
#include <string>
#include <vector>

namespace rkd::cli {

struct LaunchArgs {
  int nprocPerNode = 1;
  int nnodes = 1;
  int nodeRank = 0;
  std::string masterAddr;
  int masterPort = 0;
  int timeout = 0;
  std::vector<std::string> command;  ///< the reviewkd arguments every worker runs
};

/// Starts the local workers with torchrun's environment, forwards Ctrl-C and SIGTERM, waits for all; the exit
/// code is 0 when all succeed, 2 when one refused bad input, else the first failure's.
int launchWorkers(const LaunchArgs& args);

}  // namespace rkd::cli
