#pragma once
// The run history of one store, for both front ends: the history table in one query, tags, notes, metric
// series, config diffs, CSV, weights and ONNX export, run detail, and deletion (refused for a running run,
// decided inside the store's transaction). Also where the store is: --db, $REVIEWKD_DB, the store used last,
// then the XDG default. The store itself stays behind this class: no caller includes a store header.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <iosfwd>

#include <nlohmann/json.hpp>

#include "core/services/errors.h"
#include "core/vocabulary/run_config.h"
#include "core/vocabulary/run_records.h"

namespace rkd {
class RunStore;
}

namespace rkd::services {

/// Which store to open, in this order: `explicitPath` (--db), $REVIEWKD_DB, `lastUsed` (the studio's
/// settings; only when that file still exists), then the XDG default
/// ($XDG_DATA_HOME/reviewkd-studio/runs.sqlite, else ~/.local/share/...). Throws InputError when no home
/// folder is known. `source` (when given) says which rule chose it.
std::string resolveStorePath(const std::string& explicitPath, const std::string& lastUsed = {},
                             std::string* source = nullptr);

/// What exportWeights wrote.
struct WeightsExport {
  bool ok = false;
  std::string error;    ///< why not (names the run, the checkpoint or the file, and what to do)
  std::string source;   ///< the checkpoint it was taken from
  std::string arch;     ///< the network's zoo name
  int64_t entries = 0;  ///< parameters and buffers written
  bool replaced = false;  ///< a regular file was at the path and was replaced (asked for with `replace`)
};
/// Writes the trained network of a run (its best checkpoint, or the last with `best` false) without the review
/// head, optimizer state or metadata: a flat state dict with PyTorch names that Python's `torch.load` reads and
/// `load_state_dict(..., strict=True)` accepts for the PyTorch definition of the network. Never throws.

/// What exportRunOnnx wrote.
struct OnnxExport {
  bool ok = false;
  std::string error;                        ///< why not (names the run, the checkpoint or the file, and what to do)
  std::string source;                       ///< the checkpoint it was taken from
  std::string arch;                         ///< the network's zoo name
  std::vector<int64_t> inputShape;          ///< N, C, H, W of the input "input"; N is -1 for a dynamic batch
  std::vector<int64_t> outputShape;         ///< N, classes of the output "logits"
  int64_t nodes = 0;
  int64_t foldedBatchNorms = 0;             ///< BatchNorms folded into the convolution before them
  std::map<std::string, int64_t> opCounts;  ///< nodes per operator type
  bool replaced = false;                    ///< a regular file was at the path and was replaced
  /// "1x3x32x32", or "Nx3x32x32" for a dynamic batch.
  std::string inputShapeText() const;
};
/// Slow: writes the trained network of a run (best checkpoint, or the last with `best` false) as an ONNX model
/// for inference: input "input" (N x C x H x W float, the run's image size and channels), output "logits",
/// BatchNorms folded into the convolutions (see rkd::exportOnnx). `batch` > 0 fixes the batch size, 0 makes it
/// dynamic. Never throws.

/// One row of the history table.
struct HistoryRow {
  RunSummary run;
  std::string pair;       ///< "resnet56 -> resnet20", or "resnet56" for a teacher run
  std::string switches;   ///< "review residual abf hcl", "KD T=4", "CE", ...
  std::string configText; ///< the config's one-line summary
  double seconds = 0;     ///< ended - started (or now - started while running)
  int epochs = 0;         ///< configured total
};

/// Dotted-path leaves of a JSON config ("optim.lr" -> "0.1"), in document order.
std::vector<std::pair<std::string, std::string>> flattenConfig(const nlohmann::json& config);
/// One field that differs between configs: its dotted path and its value in each config ("" when absent).
struct DiffRow {
  std::string field;
  std::vector<std::string> values;
};
/// Only the fields whose values differ between the given configs.
std::vector<DiffRow> configDiff(const std::vector<nlohmann::json>& configs);
/// Short text of a config's method and switches.
std::string switchesText(const RunConfig& config);

/// Everything the run detail dialog shows of one run.
struct RunDetail {
  RunRecord run;
  std::vector<std::string> tags;
  std::vector<Note> notes;
  std::vector<CheckpointRecord> checkpoints;
  std::vector<ClassAccuracy> classAccuracy;  ///< of the last evaluation
  std::vector<std::string> metricKeys;
};

/// One open run store. Every method throws rkd::UserError (InputError for a bad id or value, StoreError for
/// the database) with a message naming the run and what to do; nothing else escapes.
class RunHistory {
 public:
  /// Opens (creating when missing) the store at `path`; interrupted runs are recovered once, here. A store this
  /// user may not write (or on a full disk) opens all the same, for reading; changing it then fails (StoreError).
  /// `mustExist`: refuse (InputError) a path where no store is, creating nothing (the CLI's runs commands).
  explicit RunHistory(const std::string& path, bool mustExist = false);
  ~RunHistory();
  RunHistory(const RunHistory&) = delete;
  RunHistory& operator=(const RunHistory&) = delete;

  const std::string& path() const;
  /// True when the store could only be opened for reading (another user's file, a full disk): runs cannot be
  /// recorded in it.
  bool readOnly() const;

  /// The history table, newest first.
  std::vector<HistoryRow> rows(const RunFilter& filter = {});
  /// The run list alone (no configs): cheap, for "did anything change" checks and pickers.
  std::vector<RunSummary> list(const RunFilter& filter = {});
  std::optional<RunRecord> run(int64_t runId);
  RunDetail detail(int64_t runId);
  std::vector<std::string> allTags();
  std::vector<std::string> tags(int64_t runId);
  std::vector<Note> notes(int64_t runId);
  std::vector<CheckpointRecord> checkpoints(int64_t runId);
  /// The newest checkpoint file of that kind, "" when the run has none.
  std::string checkpointPath(int64_t runId, CheckpointKind kind);
  std::vector<ClassAccuracy> classAccuracy(int64_t runId);

  void addTag(int64_t runId, const std::string& tag);
  /// False when the run did not have the tag.
  bool removeTag(int64_t runId, const std::string& tag);
  void addNote(int64_t runId, const std::string& text);
  /// False when no such note exists.
  bool removeNote(int64_t noteId);
  /// Deletes a run with its metrics, checkpoints rows and files. Refused (InputError) while the run is being
  /// trained by a live process, decided inside the store's transaction.
  void deleteRun(int64_t runId);

  std::vector<std::string> metricKeys(int64_t runId);
  MetricSeries metrics(int64_t runId, const std::string& key);

  /// CSV of the runs' metrics (run, epoch, step, key, value), one header line; to a stream or, atomically, a file.
  /// Every export refuses a destination that exists and is not a regular file (a folder, a FIFO, a device), and
  /// an existing regular file unless `replace` (the CLI's --force, a dialog's confirmed overwrite). A symbolic link
  /// is followed: the file it points at is written. The CSV writer returns whether it replaced a file.
  void writeCsv(const std::vector<int64_t>& runIds, std::ostream& out);
  bool writeCsv(const std::vector<int64_t>& runIds, const std::string& csvPath, bool replace);
  /// See exportWeights / exportRunOnnx above; never throw.
  WeightsExport exportWeights(int64_t runId, const std::string& outPath, bool best, bool replace);
  OnnxExport exportOnnx(int64_t runId, const std::string& outPath, bool best, int64_t batch, bool replace);

  /// Diff of the configs of the given runs (only the differing fields).
  std::vector<DiffRow> configDiff(const std::vector<int64_t>& runIds);

 private:
  std::unique_ptr<RunStore> m_store;
};

}  // namespace rkd::services
