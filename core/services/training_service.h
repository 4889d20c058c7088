#pragma once
// Training for both front ends: one teacher resolution, start, resume, stop and the feature probe. The CLI's
// progress printer and the studio's controller are callback adapters around the same service.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_config.h"

namespace rkd::services {

/// Where a student run's teacher comes from.
struct TeacherPlan {
  enum class Source {
    None,        ///< the config needs no teacher (a teacher run, or the student alone)
    Run,         ///< teacher.run names a finished teacher run
    Checkpoint,  ///< teacher.checkpoint names a file
    Reuse,       ///< a finished teacher run trained with exactly `recipe` exists: `run`
    Train,       ///< no such run: `recipe` is trained first
  };
  Source source = Source::None;
  int64_t run = 0;
  std::string checkpoint;
  RunConfig recipe;         ///< Reuse and Train: the teacher's own config
  std::string description;  ///< one line, for logs and status bars
};

/// How to train a teacher for a student config that names none: the published recipe of a preset whose teacher
/// is the student's teacher.arch (on the same dataset kind when one exists), else the student's own recipe with
/// cross-entropy. Either way the teacher takes the student's dataset (kind, path, padding, image size, channels),
/// device and threads, so `--set teacher.arch=...` and every data override reach the teacher.
RunConfig teacherRecipe(const RunConfig& student);

/// Training against one run store. start() and resume() block: call them from a worker thread (the studio) or
/// the main thread (the CLI). requestStop() and setProbeIndex() may be called from any thread, also from a
/// signal handler (they only store an atomic).
class TrainingService {
 public:
  explicit TrainingService(std::string storePath);
  ~TrainingService();

  /// The one teacher resolution of both front ends, in this order: teacher.run, teacher.checkpoint, a finished
  /// teacher run trained with exactly teacherRecipe(student) (reuse), else that recipe trained first. Checks the
  /// names (teacher.arch must be a zoo network) before anything is trained. Throws InputError for bad input.
  TeacherPlan planTeacher(const RunConfig& student);

  /// Trains `config`; a student whose config names no teacher first gets one as planTeacher says (the teacher's
  /// progress is reported through the same callbacks). Bad input is a failed outcome with runId 0 and the
  /// message; never throws.
  RunOutcome start(RunConfig config, const TrainerCallbacks& callbacks);
  /// Resolves (and trains, when planned) the teacher of `student` and writes it into student.teacher.run;
  /// returns the teacher run's outcome when one was trained and did not finish (the student must not start).
  /// For callers that run several students from one teacher (the ablation study). Never throws.
  std::optional<RunOutcome> provideTeacher(RunConfig& student, const TrainerCallbacks& callbacks);
  /// Continues a stopped or interrupted run; epochs > 0 changes its total. Never throws.
  RunOutcome resume(int64_t runId, int64_t epochs, const TrainerCallbacks& callbacks);

  /// Ends the run after the step in flight (the checkpoint is kept; the run can be resumed).
  void requestStop();
  bool stopRequested() const;
  /// Clears a stop request (before the next run of a queue).
  void clearStop();
  /// Test-set index of the probe image of feature snapshots (clamped to the test set); takes effect at the
  /// next snapshot, which comes at the next step when the index changed.
  void setProbeIndex(int64_t index);
  int64_t probeIndex() const;

 private:
  std::string m_storePath;
  std::atomic<bool> m_stop{false};
  std::atomic<int64_t> m_probe{0};
};

/// This process's place in a distributed job (torchrun's environment).
struct DistributedRole {
  bool distributed = false;  ///< the torchrun variables are set: this process is one worker of a job
  bool primary = true;       ///< rank 0: runs the command and alone writes the run store
  int rank = 0;
  int worldSize = 1;
};
/// Joins the distributed job when the torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
/// MASTER_ADDR, MASTER_PORT) are set; a plain process otherwise. Throws InputError (exit 2) for an incomplete
/// or contradictory environment, a port in use, or workers that do not all arrive, naming what to set.
DistributedRole joinDistributedJob();
/// On a rank other than 0: runs the runs rank 0 announces until rank 0's command ends; returns its exit code.
/// `stop` (optional) asks to stop: it takes effect when every rank has seen rank 0's decision.
int followDistributedJob(const std::atomic<bool>* stop);
/// On rank 0 when its command ends (also after an error): releases the other ranks with `exitCode`.
void endDistributedJob(int exitCode);

/// Prepares the process for training, first thing in main() (before any thread starts): keeps freed memory in
/// one malloc arena (see README, "Allocator").
void prepareProcess();
/// "reviewkd 0.1.0 (LibTorch 1.13.1)".
std::string versionText(const std::string& program);

}  // namespace rkd::services
