#pragma once
// The `reviewkd` command line. Kept free of torch types so the thin main compiles in a second.

#include "core/common/errors.h"

namespace rkd::cli {

/// Exit codes of every subcommand: core/common/errors.h's, one per kind of failure.
constexpr int kSuccess = kExitSuccess;
constexpr int kRunFailed = kExitRunFailed;
constexpr int kBadInput = kExitBadInput;
constexpr int kStoreFailed = kExitStoreFailed;

/// Parses the arguments, runs one subcommand, turns every exception into a message and an exit code.
int run(int argc, char** argv);

}  // namespace rkd::cli
