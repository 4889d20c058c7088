#include "core/services/log.h"

#include <spdlog/sinks/base_sink.h>

#include <mutex>

#include "core/common/logging.h"

namespace rkd::services {

// --- log ------------------------------------------------------------------------------------------------------

namespace {
class CallbackSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(std::function<void(const LogLine&)> onLine) : m_onLine(std::move(onLine)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    LogLine line;
    const auto level = spdlog::level::to_string_view(msg.level);
    line.level.assign(level.data(), level.size());
    line.logger.assign(msg.logger_name.data(), msg.logger_name.size());
    line.text.assign(msg.payload.data(), msg.payload.size());
    m_onLine(line);
  }
  void flush_() override {}

 private:
  std::function<void(const LogLine&)> m_onLine;
};
}  // namespace

std::shared_ptr<void> subscribeLog(std::function<void(const LogLine&)> onLine) {
  auto sink = std::make_shared<CallbackSink>(std::move(onLine));
  addLogSink(sink);
  return std::shared_ptr<void>(sink.get(), [sink](void*) { removeLogSink(sink); });
}

}  // namespace rkd::services
