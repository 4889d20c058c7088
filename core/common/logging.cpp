#include "core/common/logging.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/common/errors.h"

namespace rkd {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks;
  std::vector<std::shared_ptr<spdlog::logger>> loggers;
  spdlog::level::level_enum level = spdlog::level::warn;
  bool initialised = false;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.initialised) {
    r.sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    r.initialised = true;
  }
  for (auto& l : r.loggers)
    if (l->name() == name) return l;
  auto l = std::make_shared<spdlog::logger>(name, r.sinks.begin(), r.sinks.end());
  l->set_level(r.level);
  r.loggers.push_back(l);
  return l;
}

void addLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.sinks.push_back(sink);
  for (auto& l : r.loggers) l->sinks().push_back(sink);
}

void removeLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.sinks.erase(std::remove(r.sinks.begin(), r.sinks.end(), sink), r.sinks.end());
  for (auto& l : r.loggers) {
    auto& s = l->sinks();
    s.erase(std::remove(s.begin(), s.end(), sink), s.end());
  }
}

void setLogLevel(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw InputError("unknown log level '" + level + "'", "use one of trace, debug, info, warn, error, off");
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.level = lvl;
  for (auto& l : r.loggers) l->set_level(lvl);
}

}  // namespace rkd
