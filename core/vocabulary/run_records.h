#pragma once
// The run store's vocabulary: kinds, statuses, records, summaries, filters and metric points. Plain values with
// no torch and no SQLite, shared by the store, the trainer, the services and both front ends.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rkd {

/// Teacher runs train a teacher alone; student runs distill from a teacher (or train a baseline student).
enum class RunKind { Teacher, Student };
/// Life cycle of a run. Running is the only non-terminal status.
enum class RunStatus { Running, Finished, Stopped, Failed, Diverged, Interrupted };
/// Which checkpoint a row describes: the latest, the best so far, or one kept per epoch.
enum class CheckpointKind { Last, Best, Epoch };

/// "teacher" / "student".
std::string toString(RunKind kind);
/// "running", "finished", "stopped", "failed", "diverged", "interrupted".
std::string toString(RunStatus status);
/// "last", "best", "epoch".
std::string toString(CheckpointKind kind);
/// Parses the names above; throws InputError naming the allowed values.
RunKind runKindFromString(const std::string& text);
RunStatus runStatusFromString(const std::string& text);
CheckpointKind checkpointKindFromString(const std::string& text);

/// Milliseconds since the Unix epoch (UTC): the unit of every timestamp in the store.
int64_t nowUnixMs();

/// One run as stored. createRun fills id, status (running), pid, hostname, startedAt and buildVersion when they
/// are left at their defaults.
struct RunRecord {
  int64_t id = 0;
  std::string name;
  RunKind kind = RunKind::Student;
  std::string method;                ///< "reviewkd", "kd", "ce", ablation name, ...
  RunStatus status = RunStatus::Running;
  nlohmann::json config = nlohmann::json::object();  ///< the full training config, stored verbatim
  std::optional<int64_t> teacherRun; ///< the run that trained the teacher, when it is in this store
  std::string teacherArch;
  std::string studentArch;
  std::string dataset;
  std::string device;                ///< "cpu", "cuda:0", ...
  int64_t seed = 0;
  int64_t pid = 0;                   ///< writer process; 0 = this process at createRun
  std::string hostname;              ///< writer host; empty = this host at createRun
  int64_t startedAt = 0;             ///< Unix ms; 0 = now at createRun
  std::optional<int64_t> endedAt;
  int64_t updatedAt = 0;             ///< last write by the writer (heartbeat), Unix ms
  std::optional<double> bestTop1;
  std::optional<double> lastTop1;
  int epochsDone = 0;
  std::string message;               ///< error / divergence / interruption text
  std::string buildVersion;          ///< empty = rkd::buildVersion() at createRun
  int worldSize = 1;                 ///< processes that trained the run together (torch.distributed); 1 = one
  std::string backend;               ///< collective backend of a distributed run ("gloo", "nccl"); empty = none
  std::string rankDevices;           ///< device of every rank, comma-separated ("cpu,cpu"); empty = `device`
};

/// The few configuration fields the history table shows (its pair, switches, summary and epoch count), read by
/// the run list's own query with SQLite's json_extract: listing runs parses no JSON. `valid` is false when the
/// stored config lacks them (a foreign or damaged row).
struct ConfigDigest {
  bool valid = false;
  std::string kind, method, student, teacherArch;
  bool review = true, residual = true, abf = true, hcl = true;
  double reviewWeight = 0, kdWeight = 0, kdTemperature = 0;
  int64_t epochs = 0;
};

/// The columns a run list shows, plus its tags.
struct RunSummary {
  int64_t id = 0;
  std::string name;
  RunKind kind = RunKind::Student;
  std::string method;
  RunStatus status = RunStatus::Running;
  std::optional<int64_t> teacherRun;
  std::string teacherArch;
  std::string studentArch;
  std::string dataset;
  std::string device;
  int worldSize = 1;              ///< processes of a distributed run; 1 = one process
  std::string backend;            ///< "gloo", "nccl"; empty for a one-process run
  int64_t startedAt = 0;
  std::optional<int64_t> endedAt;
  std::optional<double> bestTop1;
  std::optional<double> lastTop1;
  int epochsDone = 0;
  std::string message;
  std::vector<std::string> tags;  ///< sorted
  ConfigDigest config;            ///< the config fields the history table needs
};

/// Filter for listRuns; empty / unset fields match everything, set fields must all match.
struct RunFilter {
  /// Case-insensitive substring of name, method, architectures, dataset, message, a tag or a note.
  std::string text;
  std::optional<RunStatus> status;
  std::optional<RunKind> kind;
  std::string teacherArch;  ///< exact match (the "pair" filter is teacherArch + studentArch)
  std::string studentArch;  ///< exact match
  std::string tag;          ///< exact match
  int limit = 0;            ///< 0 = no limit; newest first
};

/// Sentinel step of epoch-level metrics (validation accuracy, epoch loss): they live in the same metrics table
/// as per-step values, with step = kEpochStep, and are ordered by epoch.
constexpr int64_t kEpochStep = -1;

/// One logged value. Per-step values carry the global optimizer step; epoch-level values carry kEpochStep.
/// NaN is stored (as SQL NULL) and read back as NaN, so a diverged loss curve survives.
struct MetricPoint {
  int epoch = 0;
  int64_t step = kEpochStep;
  std::string key;  ///< "train/loss", "train/loss_kd", "val/top1", "lr", ...
  double value = 0;

  /// An epoch-level point (step = kEpochStep).
  static MetricPoint epochLevel(int epoch, std::string key, double value) {
    return MetricPoint{epoch, kEpochStep, std::move(key), value};
  }
};

/// One metric of one run as parallel arrays (plot-friendly), ordered by epoch, then step, then insertion.
struct MetricSeries {
  std::string key;
  std::vector<int> epochs;
  std::vector<int64_t> steps;
  std::vector<double> values;
  size_t size() const { return values.size(); }
  bool empty() const { return values.empty(); }
};

struct CheckpointRecord {
  int64_t id = 0;
  int64_t runId = 0;
  int epoch = 0;
  std::string path;
  CheckpointKind kind = CheckpointKind::Last;
  int64_t createdAt = 0;  ///< Unix ms
};

struct Note {
  int64_t id = 0;
  int64_t runId = 0;
  std::string text;
  int64_t createdAt = 0;  ///< Unix ms
};

/// Accuracy of one class at one evaluation.
struct ClassAccuracy {
  int classIndex = 0;
  std::string className;  ///< may be empty
  double accuracy = 0;    ///< in [0, 1] or percent, as the trainer reports it
};

}  // namespace rkd
