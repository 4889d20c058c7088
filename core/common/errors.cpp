#include "core/common/errors.h"

#include <algorithm>

namespace rkd {

UserError::UserError(const std::string& what, const std::string& fix) : std::runtime_error(what), m_fix(fix) {}

std::string UserError::full() const {
  std::string s = what();
  if (!m_fix.empty()) s += ". " + m_fix;
  return s;
}

std::string ErrorReport::full() const { return fix.empty() ? message : message + ". " + fix; }

ErrorReport describeError(const std::exception& error) {
  ErrorReport r;
  if (const auto* user = dynamic_cast<const UserError*>(&error)) {
    r.message = user->what();
    r.fix = user->fix();
    r.exitCode = user->exitCode();
  } else {
    r.message = withoutStackTrace(error.what());
  }
  return r;
}

ErrorReport describeCurrentError() {
  try {
    throw;
  } catch (const std::exception& e) {
    return describeError(e);
  } catch (...) {
    ErrorReport r;
    r.message = "an unknown error (not a std::exception)";
    return r;
  }
}

std::string firstLine(const std::string& text) {
  const auto cut = text.find('\n');
  return cut == std::string::npos ? text : text.substr(0, cut);
}

std::string withoutStackTrace(const std::string& text) {
  size_t cut = text.size();
  for (const char* marker : {"\nException raised from", "\nframe #0"}) cut = std::min(cut, text.find(marker));
  std::string out = text.substr(0, cut);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace rkd
