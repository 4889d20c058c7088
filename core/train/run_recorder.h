#pragma once
// What one run writes to the run store, as an observer of its loop (rank 0 only): the run's row (created, or
// claimed for a resume), the metrics of every step and epoch, the checkpoint rows, the epoch count, the per-class
// accuracy, and the run's end.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/store/run_store.h"
#include "core/train/loop_events.h"

namespace rkd {

class RunRecorder : public LoopObserver {
 public:
  /// A new run: inserts its row, with this process as its writer and status running.
  static std::unique_ptr<RunRecorder> create(RunStore& store, const RunRecord& record);
  /// A resume: claims the run at `epoch` and `globalStep` (refused when another process trains it), recording the
  /// layout it continues with; `config`, when given, replaces the run's config once the claim holds.
  static std::unique_ptr<RunRecorder> claim(RunStore& store, int64_t runId, int64_t epoch, int64_t globalStep,
                                            const std::string& note, const RunRecord& layout,
                                            const nlohmann::json* config);

  int64_t runId() const { return m_runId; }

  void stepDone(const StepEvent& e) override;
  void diverged(int epoch, int64_t globalStep, double loss) override;
  void epochEvaluated(const EpochProgress& e) override;
  void epochDone(const EpochEvent& e) override;
  void stoppedMidEpoch(int epoch, const std::string& lastCheckpoint) override;

  /// Records the run's end: the metrics still buffered, then the status. A failure is retried briefly (a long
  /// write lock of another process, a disk that fills and frees): a run left "running" under this live process
  /// would never be recovered. Returns the store's error when every attempt failed.
  std::optional<std::string> close(RunStatus status, const std::string& message);
  /// After close failed: gives the run up, so that it ends interrupted (now or at the next open). True when the
  /// store took the mark now.
  bool abandon(const std::string& error);

 private:
  RunRecorder(RunStore& store, int64_t runId);
  RunStore& m_store;
  int64_t m_runId;
  MetricWriter m_writer;
};

}  // namespace rkd
