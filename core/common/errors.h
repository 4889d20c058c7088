#pragma once
#include <stdexcept>
#include <string>

namespace rkd {

/// An error a user can act on: what went wrong, and what to do about it. Every boundary (CLI main, worker
/// thread, store call) turns these into a message; nothing below a boundary prints them.
class UserError : public std::runtime_error {
 public:
  UserError(const std::string& what, const std::string& fix = {});
  /// What to do about it (may be empty when the message already says it).
  const std::string& fix() const { return m_fix; }
  /// "what. fix" in one line, for logs and status bars.
  std::string full() const;

 private:
  std::string m_fix;
};

/// Bad input (a file, a config field, a command-line value): the CLI exits with code 2 for these.
class InputError : public UserError {
 public:
  using UserError::UserError;
};

/// The first line of an error text (LibTorch's and c10d's messages go on with stack traces and details).
std::string firstLine(const std::string& text);
/// An error text without the C++ stack trace LibTorch appends ("Exception raised from ...", "frame #0: ...");
/// a message of several lines of its own keeps them.
std::string withoutStackTrace(const std::string& text);

}  // namespace rkd
