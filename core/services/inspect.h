#pragma once
// Inspection services: the zoo, the devices, datasets, the levels of a pair and checkpoint files, as plain
// structs for both front ends. Functions marked "slow" read data or build networks: call them off the GUI
// thread. None of them throws: failures come back as a message in the result.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/vocabulary/run_config.h"

namespace rkd::services {

struct NetworkInfo {
  std::string name;
  std::string family;
  std::string description;
};
/// Every zoo network, in the zoo's order (fast: no network is built).
std::vector<NetworkInfo> networks();

/// One zoo network's size, built for `classes` classes and `channels`-channel 32x32 images.
struct NetworkSize {
  NetworkInfo network;
  int64_t parameters = 0;
  int64_t macs = 0;  ///< multiply-accumulates of one 32x32 image
  /// The distilled levels, shallow to deep (the pooled embedding last): {channels, side}.
  std::vector<std::pair<int64_t, int64_t>> levels;
};
/// Every zoo network's size (slow: builds each network once). Throws InputError for classes or channels below 1.
std::vector<NetworkSize> networkSizes(int classes, int channels);

struct DeviceOption {
  std::string id;     ///< what RunConfig::device takes: "auto", "cpu", "cuda:0", ...
  std::string label;  ///< "Automatic (CUDA when present)", "CPU (8 threads)", "CUDA 0", "2 processes (CPU, Gloo)"
  /// Worker processes of one distributed job (`reviewkd launch --nproc-per-node N`); 1 = trained in-process.
  /// Not part of RunConfig: the front end keeps it and launches the workers.
  int processes = 1;
  std::string backend;  ///< collective backend of a distributed option: "gloo" (CPU) or "nccl" (CUDA); else empty
};
/// "auto", "cpu", then every CUDA device found; then the distributed options: 2 .. processesForCores(cores)
/// processes on the CPU (Gloo), and one process per GPU (NCCL) when two or more CUDA devices are found.
std::vector<DeviceOption> deviceOptions();
/// The distributed CPU options (Gloo) for a machine with `cores` logical cores: 2 up to half the cores (each
/// process gets at least two threads), at least 2 and at most 8; empty below 2 cores.
std::vector<DeviceOption> cpuProcessOptions(int cores);
/// The one-process-per-GPU option (NCCL) for `gpus` CUDA devices; nullopt below 2.
std::optional<DeviceOption> gpuProcessOption(int gpus);
/// Logical cores of this machine.
int hardwareThreads();

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

}  // namespace rkd::services
