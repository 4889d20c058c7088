#pragma once
// Private to core/services: the few text helpers the config's reader, summary and catalog share.
#include <sstream>
#include <string>
#include <vector>

namespace rkd::detail {

/// "a, b, c"
inline std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& x : names) s += (s.empty() ? "" : ", ") + x;
  return s;
}

/// A value as a stream prints it ("0.1", "5", "1e-05"): how messages and summaries show numbers.
template <typename T>
std::string valueText(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace rkd::detail
