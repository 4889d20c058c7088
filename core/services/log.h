#pragma once
// The engine's log as plain lines, for a front end to show.
#include <functional>
#include <memory>
#include <string>

namespace rkd::services {

struct LogLine {
  std::string level;   ///< "info", "warning", "error", ...
  std::string logger;  ///< "core.train", ...
  std::string text;
};
/// Calls `onLine` (on the logging thread) for every engine log message until the returned handle is destroyed.
std::shared_ptr<void> subscribeLog(std::function<void(const LogLine&)> onLine);

}  // namespace rkd::services
