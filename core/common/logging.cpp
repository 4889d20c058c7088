#include "core/common/logging.h"

#include <mutex>
#include <vector>

#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/common/errors.h"

namespace rkd {
namespace {

// Every logger has the same two sinks for its whole life: stderr and one distributing sink. Sinks added later
// (the studio's log pane) go into the distributing sink, which locks its own list, so adding or removing one
// while another thread logs is safe; a logger's own sink vector is never touched after it is created.
struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> extra = std::make_shared<spdlog::sinks::dist_sink_mt>();
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
    r.sinks.push_back(r.extra);
    r.initialised = true;
  }
  for (auto& l : r.loggers)
    if (l->name() == name) return l;
  auto l = std::make_shared<spdlog::logger>(name, r.sinks.begin(), r.sinks.end());
  l->set_level(r.level);
  r.loggers.push_back(l);
  return l;
}

void addLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink) { registry().extra->add_sink(sink); }

void removeLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink) { registry().extra->remove_sink(sink); }

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
