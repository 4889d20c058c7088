#pragma once
// Private to core/services: how a service call turns any exception into a message for a front end.
#include <cstdio>
#include <exception>
#include <string>

#include "core/common/errors.h"

namespace rkd::services::detail {

// Runs `body`, turning every exception into (message, fix) so facade calls never throw into a GUI.
template <typename F>
bool guarded(F&& body, std::string& error, std::string* fix = nullptr) {
  try {
    body();
    return true;
  } catch (...) {
    const ErrorReport report = describeCurrentError();  // the one boundary
    error = fix ? report.message : report.full();
    if (fix) *fix = report.fix;
  }
  return false;
}

inline std::string shapeText(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

inline std::string fixedText(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace rkd::services::detail
