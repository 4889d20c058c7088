#pragma once
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace rkd {

/// The named logger of one subsystem ("core.train", "core.store", ...), created on first use.
/// All loggers share one sink list, so a GUI can add a sink and see every subsystem's messages.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

/// Adds a sink to every existing and future subsystem logger (the studio's log pane uses this). Safe while
/// other threads log: the sink list is locked.
void addLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink);
/// Removes a sink added with addLogSink; when it returns, the sink receives no further message.
void removeLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink);

/// Level for every subsystem logger: "trace", "debug", "info", "warn", "error", "off".
void setLogLevel(const std::string& level);

}  // namespace rkd
