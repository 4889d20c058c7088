#pragma once
// Text helpers the config's reader and summary and the services share (not for the front ends).
#include <sstream>
#include <string>
#include <vector>

namespace rkd::detail {

/// A CSV field (RFC 4180): quoted, with inner quotes doubled, when it holds a comma, a quote or a line break.
inline std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

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
