#pragma once
#include <stdexcept>
#include <string>

namespace rkd {

/// The command line's exit codes, one per kind of failure (README, "Reliability").
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitRunFailed = 1;    ///< a run failed, diverged or was stopped; anything unforeseen
inline constexpr int kExitBadInput = 2;     ///< bad input: a file, a field, a value, a path; nothing was done
inline constexpr int kExitStoreFailed = 3;  ///< the run store's database failed (damaged, locked, read-only, full)

/// An error a user can act on: what went wrong, and what to do about it. Every boundary (CLI main, worker
/// thread, store call) turns these into a message; nothing below a boundary prints them.
class UserError : public std::runtime_error {
 public:
  UserError(const std::string& what, const std::string& fix = {});
  /// What to do about it (may be empty when the message already says it).
  const std::string& fix() const { return m_fix; }
  /// "what. fix" in one line, for logs and status bars.
  std::string full() const;
  /// The exit code of this kind of error: kExitRunFailed here, each kind its own.
  virtual int exitCode() const { return kExitRunFailed; }

 private:
  std::string m_fix;
};

/// Bad input (a file, a config field, a command-line value): the CLI exits with code 2 for these.
class InputError : public UserError {
 public:
  using UserError::UserError;
  int exitCode() const override { return kExitBadInput; }
};

/// An error as every front end reports it: what happened, what to do, and the exit code of its kind.
struct ErrorReport {
  std::string message;
  std::string fix;
  int exitCode = kExitRunFailed;
  /// "message. fix", or the message alone.
  std::string full() const;
  bool badInput() const { return exitCode == kExitBadInput; }
};

/// The one error boundary: any exception as an ErrorReport. A UserError (and each kind of it) gives its message,
/// fix and exit code; anything else (LibTorch's errors, the standard library's) its message without LibTorch's
/// C++ stack trace, and kExitRunFailed. The CLI's main, the services' guards, the trainer and the studio use it.
ErrorReport describeError(const std::exception& error);
/// The same for the exception being handled (call inside a catch block), one that is no std::exception included.
ErrorReport describeCurrentError();

/// The first line of an error text (LibTorch's and c10d's messages go on with stack traces and details).
std::string firstLine(const std::string& text);
/// An error text without the C++ stack trace LibTorch appends ("Exception raised from ...", "frame #0: ...");
/// a message of several lines of its own keeps them.
std::string withoutStackTrace(const std::string& text);

}  // namespace rkd
