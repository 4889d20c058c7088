#pragma once
// The studio facade: what the desktop studio (and the CLI where it shares logic) asks of the engine, as plain
// structs in and out. No torch type appears here, so widgets compile without LibTorch headers.
//
// Functions marked "slow" load data or run a network: call them off the GUI thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/store/run_store.h"
#include "core/services/progress.h"
#include "core/services/run_config.h"

namespace rkd::studio {

// --- the zoo --------------------------------------------------------------------------------------------------

struct NetworkInfo {
  std::string name;
  std::string family;
  std::string description;
};
/// Every zoo network, in the zoo's order (fast: no network is built).
std::vector<NetworkInfo> networks();

// --- devices and threads --------------------------------------------------------------------------------------

struct DeviceOption {
  std::string id;     ///< what RunConfig::device takes: "auto", "cpu", "cuda:0", ...
  std::string label;  ///< "Automatic (CUDA when present)", "CPU (8 threads)", "CUDA 0"
};
/// "auto", "cpu", then every CUDA device found.
std::vector<DeviceOption> deviceOptions();
/// Logical cores of this machine.
int hardwareThreads();

// --- datasets -------------------------------------------------------------------------------------------------

/// Shape of the images and labels a data config produces (after padding).
struct DataShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t classes = 0;
  bool known() const { return channels > 0 && height > 0 && classes > 0; }
};

/// The shape of a built-in dataset kind without reading it (fashion-mnist, mnist, cifar10, cifar100), taking
/// padTo into account; nullopt for folder datasets (their shape is only known after reading them).
std::optional<DataShape> knownShape(const DataConfig& data);

/// The default location of a dataset kind ("" for folder).
std::string defaultDataPath(const std::string& kind);

/// What loading a data config gave: counts, shape and class names, or the reader's message.
struct DatasetReport {
  bool ok = false;
  std::string error;   ///< the reader's message (names the file and what was wrong)
  std::string fix;     ///< what to do about it
  DataShape shape;
  int64_t trainImages = 0;
  int64_t validationImages = 0;
  int64_t testImages = 0;
  std::vector<std::string> classNames;
  std::string normalization;  ///< "mean (0.286) std (0.353), computed from the training split"
  /// One line for the panel: "60000 train / 10000 test, 10 classes, 1x28x28" or the error.
  std::string summary() const;
};
/// Slow: reads and cuts the dataset exactly as a run with this config and seed would. Never throws.
DatasetReport inspectDataset(const DataConfig& data, int64_t seed);

// --- levels of a pair -----------------------------------------------------------------------------------------

struct LevelRow {
  int teacherLevel = 0;  ///< 1-based, shallow to deep
  int studentLevel = 0;  ///< 1-based
  int64_t teacherChannels = 0, teacherHeight = 0, teacherWidth = 0;
  int64_t studentChannels = 0, studentHeight = 0, studentWidth = 0;
  bool pooled = false;   ///< the deepest level: the pooled embedding (1x1)
  bool resized = false;  ///< the student map is resized to the teacher's size
};
struct LevelTable {
  std::vector<LevelRow> rows;  ///< shallow to deep
  int teacherLevelCount = 0;
  int studentLevelCount = 0;
  int64_t midChannels = 0;     ///< channels of the head's fused maps
  std::string note;            ///< how the levels were aligned (for the UI), e.g. when level counts differ
  std::string error;           ///< set when the pair could not be built (unknown name, input too small)
  bool ok() const { return error.empty(); }
};
/// Slow (one dummy forward of each network): the distilled levels of a pair at the given input shape.
LevelTable levelTable(const std::string& teacher, const std::string& student, const DataShape& shape);

// --- importing a teacher --------------------------------------------------------------------------------------

/// What a checkpoint file holds, before any network is chosen (reviewkd inspect-checkpoint, the studio's Inspect).
struct CheckpointSummary {
  bool readable = false;
  std::string error;                     ///< why not (names the file; for TorchScript and whole modules, the fix)
  std::string format;                    ///< "zip" or "legacy (PyTorch < 1.6)"
  std::string layout;                    ///< "flat", "nested under 'model'", ...
  bool strippedModulePrefix = false;
  int64_t entries = 0;                   ///< tensors of the state dict
  int64_t parameters = 0;                ///< elements of its floating-point tensors
  std::vector<std::string> conversions;  ///< "19 float16 tensors converted to float32"
  std::vector<std::string> ignored;      ///< other entries of the file, never loaded
  /// Zoo networks the weights fit, best first: "resnet8 (100 classes, 3 input channels)"; not exact ones say
  /// how many entries fit.
  std::vector<std::string> fits;
  std::string fitArch;                   ///< the network that fits exactly, "" when none does
  int64_t fitClasses = 0;
  int64_t fitChannels = 0;
  std::string describe() const;          ///< multi-line report
};
/// Slow (reads the file; the first call also builds every zoo network once). Never throws.
CheckpointSummary summarizeCheckpoint(const std::string& path);

struct ImportReport {
  bool readable = false;               ///< the file could be read as a checkpoint
  std::string error;                   ///< why not (names the file)
  CheckpointSummary file;              ///< what the file holds
  std::string arch;                    ///< the network it was matched against
  int64_t channels = 0;                ///< that network's input channels (see inspectCheckpoint)
  std::string channelsNote;            ///< how the dataset's images will be converted to match, if they will
  int64_t loaded = 0;                  ///< entries that matched by name and shape
  std::vector<std::string> missing;    ///< network entries absent from the file
  std::vector<std::string> unexpected; ///< file entries the network does not have
  std::vector<std::string> mismatched; ///< "name: file shape [..] vs model shape [..]"
  /// True when every entry matched: the only state a run accepts as its teacher.
  bool complete() const { return readable && missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe() const;        ///< multi-line report
};
/// Slow: loads `path` into a fresh `arch` built for `shape` and reports what matched, and which zoo network the
/// file fits when it is not `arch`. `channels` is the data config's setting ("auto", "1", "3"): with "auto" a
/// file whose first convolution takes 3 channels is matched against 3 channels for 1-channel data (the images
/// will be replicated), and the other way round. Never throws.
ImportReport inspectCheckpoint(const std::string& path, const std::string& arch, const DataShape& shape,
                               const std::string& channels = "auto");

// --- teachers -------------------------------------------------------------------------------------------------

/// How to train a teacher for a student config that names none: the published recipe of a preset whose
/// teacher is the same network, else the student's own recipe with cross-entropy; data, device, threads and
/// seed follow the student.
RunConfig teacherRecipe(const RunConfig& student);
/// The newest finished teacher run in the store trained with exactly this config (ignoring its name).
std::optional<int64_t> findFinishedTeacher(RunStore& store, const RunConfig& teacherConfig);

// --- exporting a trained network ---------------------------------------------------------------------------

/// What exportWeights wrote.
struct WeightsExport {
  bool ok = false;
  std::string error;    ///< why not (names the run, the checkpoint or the file, and what to do)
  std::string source;   ///< the checkpoint it was taken from
  std::string arch;     ///< the network's zoo name
  int64_t entries = 0;  ///< parameters and buffers written
};
/// Writes the trained network of a run (its best checkpoint, or the last with `best` false) without the review
/// head, optimizer state or metadata: a flat state dict with PyTorch names that Python's `torch.load` reads and
/// `load_state_dict(..., strict=True)` accepts for the PyTorch definition of the network. Never throws.
WeightsExport exportWeights(RunStore& store, int64_t runId, const std::string& outPath, bool best = true);

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
  /// "1x3x32x32", or "Nx3x32x32" for a dynamic batch.
  std::string inputShapeText() const;
};
/// Slow: writes the trained network of a run (best checkpoint, or the last with `best` false) as an ONNX model
/// for inference: input "input" (N x C x H x W float, the run's image size and channels), output "logits",
/// BatchNorms folded into the convolutions (see rkd::exportOnnx). `batch` > 0 fixes the batch size, 0 makes it
/// dynamic. Never throws.
OnnxExport exportRunOnnx(RunStore& store, int64_t runId, const std::string& outPath, bool best = true,
                         int64_t batch = 1);

// --- history --------------------------------------------------------------------------------------------------

/// One row of the history table.
struct HistoryRow {
  RunSummary run;
  std::string pair;       ///< "resnet56 -> resnet20", or "resnet56" for a teacher run
  std::string switches;   ///< "review residual abf hcl", "KD T=4", "CE", ...
  std::string configText; ///< the config's one-line summary
  double seconds = 0;     ///< ended - started (or now - started while running)
  int epochs = 0;         ///< configured total
};
std::vector<HistoryRow> historyRows(RunStore& store, const RunFilter& filter = {});

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

// --- ablation -------------------------------------------------------------------------------------------------

/// One row of the ablation table of a pair.
struct AblationRow {
  std::string label;
  RunConfig config;
  std::optional<double> published;  ///< the paper's top-1 for this row, when the pair is a published one
};
/// The eight rows (student alone, Hinton KD, the six switch rows) for a ReviewKD student config.
std::vector<AblationRow> ablationRows(const RunConfig& reviewStudent);

// --- log ------------------------------------------------------------------------------------------------------

struct LogLine {
  std::string level;   ///< "info", "warning", "error", ...
  std::string logger;  ///< "core.train", ...
  std::string text;
};
/// Calls `onLine` (on the logging thread) for every engine log message until the returned handle is destroyed.
std::shared_ptr<void> subscribeLog(std::function<void(const LogLine&)> onLine);

// --- training -------------------------------------------------------------------------------------------------

/// Runs one training job (a run, preceded by its teacher when the config names none) against a store file.
/// start() and resume() block: call them from a worker thread. requestStop() and setProbeIndex() may be
/// called from any thread while they run.
class TrainingSession {
 public:
  explicit TrainingSession(std::string storePath);
  ~TrainingSession();

  /// Trains `config`. A student run whose config names no teacher (teacher.run 0 and no checkpoint) first
  /// reuses a finished teacher run with teacherRecipe(config), or trains one (reported through the same
  /// callbacks). Bad input is returned as a failed outcome with runId 0 and the message; never throws.
  RunOutcome start(RunConfig config, const TrainerCallbacks& callbacks);
  /// Continues a stopped or interrupted run; epochs > 0 changes its total. Never throws.
  RunOutcome resume(int64_t runId, int64_t epochs, const TrainerCallbacks& callbacks);

  /// Ends the run after the step in flight (the checkpoint is kept; the run can be resumed).
  void requestStop();
  bool stopRequested() const;
  /// Test-set index of the probe image of feature snapshots (clamped to the test set); takes effect at the
  /// next snapshot, which comes at the next step when the index changed.
  void setProbeIndex(int64_t index);
  int64_t probeIndex() const;

 private:
  std::string m_storePath;
  std::atomic<bool> m_stop{false};
  std::atomic<int64_t> m_probe{0};
};

}  // namespace rkd::studio
