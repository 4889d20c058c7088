#pragma once
// The events of one run's training loop, and who observes them: on rank 0 the run's recorder (it writes the
// store) and the caller's callbacks (a front end), side by side. The loop knows neither; it tells its observers.
#include <cstdint>
#include <string>
#include <vector>

#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_records.h"

namespace rkd {

/// A step whose scalars were read from the device.
struct StepEvent {
  const StepProgress& progress;
  bool logReview = false;  ///< the review loss (and each level's) was computed at this step
  bool logKd = false;      ///< the run has a KD term
};

/// An epoch whose checkpoint is written: the files of the run's folder hold the position after it.
struct EpochEvent {
  const EpochProgress& progress;
  int64_t epochsDone = 0;
  std::string lastCheckpoint;             ///< last.pt of the run
  std::string bestCheckpoint;             ///< best.pt when this epoch improved the best top-1, else empty
  std::vector<ClassAccuracy> classes;     ///< per-class test accuracy, on the last epoch only
};

class LoopObserver {
 public:
  virtual ~LoopObserver() = default;
  virtual void runCreated(const RunCreated&) {}
  virtual void statusLine(const std::string&) {}
  virtual void stepDone(const StepEvent&) {}
  /// The loss of `globalStep` is not finite; the run ends diverged next.
  virtual void diverged(int /*epoch*/, int64_t /*globalStep*/, double /*loss*/) {}
  virtual void snapshotTaken(const FeatureSnapshot&) {}
  /// An epoch's evaluation, before its checkpoint is written.
  virtual void epochEvaluated(const EpochProgress&) {}
  virtual void epochDone(const EpochEvent&) {}
  /// A stop between two steps of `epoch`: its last.pt holds the position.
  virtual void stoppedMidEpoch(int /*epoch*/, const std::string& /*lastCheckpoint*/) {}
};

/// The caller's TrainerCallbacks as an observer.
class CallbackObserver : public LoopObserver {
 public:
  explicit CallbackObserver(const TrainerCallbacks& callbacks) : m_callbacks(callbacks) {}
  void runCreated(const RunCreated& run) override {
    if (m_callbacks.onRunCreated) m_callbacks.onRunCreated(run);
  }
  void statusLine(const std::string& text) override {
    if (m_callbacks.onStatus) m_callbacks.onStatus(text);
  }
  void stepDone(const StepEvent& e) override {
    if (m_callbacks.onStep) m_callbacks.onStep(e.progress);
  }
  void snapshotTaken(const FeatureSnapshot& s) override {
    if (m_callbacks.onSnapshot) m_callbacks.onSnapshot(s);
  }
  void epochDone(const EpochEvent& e) override {
    if (m_callbacks.onEpoch) m_callbacks.onEpoch(e.progress);
  }

 private:
  const TrainerCallbacks& m_callbacks;
};

}  // namespace rkd
