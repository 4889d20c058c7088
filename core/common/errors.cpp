#include "core/common/errors.h"

namespace rkd {

UserError::UserError(const std::string& what, const std::string& fix) : std::runtime_error(what), m_fix(fix) {}

std::string UserError::full() const {
  std::string s = what();
  if (!m_fix.empty()) s += ". " + m_fix;
  return s;
}

std::string firstLine(const std::string& text) {
  const auto cut = text.find('\n');
  return cut == std::string::npos ? text : text.substr(0, cut);
}

}  // namespace rkd
