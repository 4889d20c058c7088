#pragma once
// The `reviewkd` command line. Kept free of torch types so the thin main compiles in a second.

namespace rkd::cli {

/// Exit codes of every subcommand.
constexpr int kSuccess = 0;
constexpr int kRunFailed = 1;
constexpr int kBadInput = 2;

/// Parses the arguments, runs one subcommand, turns every exception into a message and an exit code.
int run(int argc, char** argv);

}  // namespace rkd::cli
