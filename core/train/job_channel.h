#pragma once
// The rank-0/follower protocol of a distributed job, over the rendezvous store. Rank 0 announces every run it
// starts or resumes (the config, the input channels it resolved, the teacher's network); each follower answers
// that it prepared the run (its data shard, its networks) or why it could not; rank 0 says go or calls the run
// off; then rank 0's position and optimizer state (and its weights, after a checkpoint) reach every rank. The
// messages of one run share its plan number, "rkd/plan/<n>/...": the job's ranks take one number per run from the
// process group, in the same order, so they agree on the keys without sending them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/distributed/process_group.h"
#include "core/vocabulary/run_config.h"

namespace rkd {

class TrainingStep;
struct TrainingPosition;

/// What rank 0 announces of a run.
struct RunPlan {
  RunConfig config;
  int64_t channels = 0;     ///< the input channels rank 0 resolved (a teacher's first convolution may decide)
  std::string teacherArch;  ///< the teacher's network, empty for a run without one
};

class JobChannel {
 public:
  /// Rank 0, for a run it is about to announce.
  explicit JobChannel(std::shared_ptr<dist::ProcessGroup> group);

  /// True once rank 0 announced the run (or a follower received it).
  bool announced() const { return m_plan >= 0; }

  /// Rank 0: announces the run and waits until every follower prepared it. Returns every rank's device, rank 0's
  /// first. Throws InputError naming each rank that could not (and the followers then skip the run).
  std::vector<std::string> announce(const RunPlan& plan, const std::string& device);
  /// Rank 0: the run could not be prepared before it was announced; the followers skip it. Never twice.
  void announceFailure(const std::string& error);

  /// A follower: tells rank 0 that it prepared the run on `device`, then waits for rank 0's go; throws InputError
  /// when rank 0 called the run off.
  void acknowledge(const std::string& device);
  /// A follower: tells rank 0 why it could not prepare the run (rank 0 names it in its error). At most once.
  void refuse(const std::string& error);
  bool answered() const { return m_answered; }

  /// Every rank, once its step exists: rank 0's position and momentum buffers become every rank's, and its
  /// weights too when rank 0 loaded them from a checkpoint (`loaded`; at a start the step's construction already
  /// copied rank 0's initial weights). On a follower, rank 0's refusal of the run throws InputError.
  void syncState(TrainingStep& step, TrainingPosition& pos, bool loaded);
  /// Rank 0, when a resume is refused after the run was announced: the followers drop it.
  void refuseState(const std::string& error);

  /// What a follower receives next: a run to join, a run rank 0 could not prepare, or the job's end.
  struct Next {
    enum class Kind { Run, Skipped, Done } kind = Kind::Done;
    nlohmann::json plan;  ///< Run: {"config", "channels", "teacher_arch"}
    std::string error;    ///< Skipped: rank 0's reason
    int exitCode = 0;     ///< Done: rank 0's exit code
  };
  /// A follower: waits for rank 0's next message. `channel` becomes the channel of that run.
  static Next receiveNext(std::shared_ptr<dist::ProcessGroup> group, JobChannel& channel);
  /// A run's plan as rank 0 sent it; throws InputError when it cannot be read.
  static RunPlan readPlan(const nlohmann::json& plan);
  /// Rank 0, when its command ends: releases the followers with the command's exit code. Never throws.
  static void endJob(dist::ProcessGroup& group, int exitCode);

 private:
  std::string key(const std::string& part = "") const;
  std::shared_ptr<dist::ProcessGroup> m_group;
  int64_t m_plan = -1;
  bool m_answered = false;
};

}  // namespace rkd
