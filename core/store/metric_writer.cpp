// MetricWriter: per-step metrics buffered and written in batches, one transaction per batch.
#include <algorithm>

#include "core/store/run_store.h"
#include "core/store/store_internal.h"

namespace rkd {

MetricWriter::MetricWriter(RunStore& store, int64_t runId, size_t flushEvery, std::chrono::milliseconds flushInterval)
    : m_store(store),
      m_runId(runId),
      m_flushEvery(std::max<size_t>(flushEvery, 1)),
      m_flushInterval(flushInterval),
      m_lastFlush(std::chrono::steady_clock::now()) {
  m_buffer.reserve(m_flushEvery);
}

MetricWriter::~MetricWriter() {
  try {
    flush();
  } catch (const std::exception& e) {
    store_detail::storeLog()->error("run {}: {} metric point(s) lost at close: {}", m_runId, m_buffer.size(), e.what());
  }
}

void MetricWriter::add(MetricPoint point) {
  m_buffer.push_back(std::move(point));
  // steady_clock::now() is a vDSO read (tens of ns), cheap beside the rest of a training step.
  if (m_buffer.size() >= m_flushEvery || std::chrono::steady_clock::now() - m_lastFlush >= m_flushInterval) flush();
}

void MetricWriter::add(int epoch, int64_t step, const std::string& key, double value) {
  add(MetricPoint{epoch, step, key, value});
}

void MetricWriter::flush() {
  m_lastFlush = std::chrono::steady_clock::now();
  if (m_buffer.empty()) return;
  m_store.appendMetrics(m_runId, m_buffer);
  m_buffer.clear();
}

}  // namespace rkd
