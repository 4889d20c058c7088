#include "core/train/run_recorder.h"

#include <chrono>
#include <thread>

#include "core/common/logging.h"
#include "core/vocabulary/metric_keys.h"

namespace rkd {

RunRecorder::RunRecorder(RunStore& store, int64_t runId) : m_store(store), m_runId(runId), m_writer(store, runId) {}

std::unique_ptr<RunRecorder> RunRecorder::create(RunStore& store, const RunRecord& record) {
  const int64_t runId = store.createRun(record);
  return std::unique_ptr<RunRecorder>(new RunRecorder(store, runId));
}

std::unique_ptr<RunRecorder> RunRecorder::claim(RunStore& store, int64_t runId, int64_t epoch, int64_t globalStep,
                                                const std::string& note, const RunRecord& layout,
                                                const nlohmann::json* config) {
  store.resumeRunAt(runId, epoch, globalStep, note, &layout);
  if (config) store.setConfig(runId, *config);  // only the resume that claimed the run
  return std::unique_ptr<RunRecorder>(new RunRecorder(store, runId));
}

void RunRecorder::stepDone(const StepEvent& e) {
  const StepProgress& p = e.progress;
  m_writer.add(p.epoch, p.step, metric::kTrainLoss, p.loss);
  m_writer.add(p.epoch, p.step, metric::kTrainCe, p.ce);
  if (e.logReview) {
    m_writer.add(p.epoch, p.step, metric::kTrainReview, p.review);
    for (size_t i = 0; i < p.levelLosses.size() && i < p.levelLabels.size(); ++i)
      m_writer.add(p.epoch, p.step, metric::trainLevel(p.levelLabels[i]), p.levelLosses[i]);
  }
  if (e.logKd) m_writer.add(p.epoch, p.step, metric::kTrainKd, p.kd);
  m_writer.add(p.epoch, p.step, metric::kLr, p.lr);
}

void RunRecorder::diverged(int epoch, int64_t globalStep, double loss) {
  m_writer.add(epoch, globalStep, metric::kTrainLoss, loss);
}

void RunRecorder::epochEvaluated(const EpochProgress& ep) {
  const int e = ep.epoch;
  m_writer.add(MetricPoint::epochLevel(e, metric::kEpochTrainLoss, ep.trainLoss));
  m_writer.add(MetricPoint::epochLevel(e, metric::kEpochTrainTop1, ep.trainTop1));
  m_writer.add(MetricPoint::epochLevel(e, metric::kTestLoss, ep.testLoss));
  m_writer.add(MetricPoint::epochLevel(e, metric::kTestTop1, ep.testTop1));
  m_writer.add(MetricPoint::epochLevel(e, metric::kTestTop5, ep.testTop5));
  if (ep.valTop1 >= 0) m_writer.add(MetricPoint::epochLevel(e, metric::kValTop1, ep.valTop1));
  m_writer.add(MetricPoint::epochLevel(e, metric::kEpochLr, ep.lr));
  m_writer.add(MetricPoint::epochLevel(e, metric::kEpochSeconds, ep.seconds));
  m_writer.flush();
}

void RunRecorder::epochDone(const EpochEvent& e) {
  // The checkpoint rows first, then the epoch count: the store never claims an epoch that no checkpoint holds.
  const int epoch = e.progress.epoch;
  m_store.addCheckpoint(m_runId, epoch, e.lastCheckpoint, CheckpointKind::Last);
  if (!e.bestCheckpoint.empty()) m_store.addCheckpoint(m_runId, epoch, e.bestCheckpoint, CheckpointKind::Best);
  m_store.recordEpoch(m_runId, static_cast<int>(e.epochsDone), e.progress.testTop1);
  if (!e.classes.empty()) m_store.setClassAccuracy(m_runId, epoch, e.classes);
}

void RunRecorder::stoppedMidEpoch(int epoch, const std::string& lastCheckpoint) {
  m_store.addCheckpoint(m_runId, epoch, lastCheckpoint, CheckpointKind::Last);
}

std::optional<std::string> RunRecorder::close(RunStatus status, const std::string& message) {
  try {
    m_writer.flush();
  } catch (const std::exception& e) {
    logger("core.train")->error("metrics flush failed: {}", e.what());
  }
  constexpr int kAttempts = 3;
  std::string error;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    try {
      m_store.finishRun(m_runId, status, message);
      return std::nullopt;
    } catch (const std::exception& e) {
      error = e.what();
    }
    logger("core.train")->warn("closing run {} failed (attempt {} of {}): {}", m_runId, attempt, kAttempts, error);
    if (attempt < kAttempts) std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
  }
  return error;
}

bool RunRecorder::abandon(const std::string& error) { return m_store.abandonRun(m_runId, error); }

}  // namespace rkd
