#pragma once
// The complete description of one run, as JSON. Every field is validated where it enters, with a message that
// names the field and the allowed values.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rkd {

/// Bounds on what enters through a config (README, "Reliability", lists them with their reasons). Each one is far
/// above any real use and far below what would make the store, an export or the studio's memory grow without end.
namespace limits {
/// A config file: every field of a config written out is about 1.5 kB; the lists are bounded below.
inline constexpr int64_t kConfigFileBytes = 1 << 20;
/// A run name: one line of the history table and of every CSV row; a longer text is a note, not a name.
inline constexpr size_t kNameBytes = 256;
/// A path (data.path, teacher.checkpoint): Linux's PATH_MAX.
inline constexpr size_t kPathBytes = 4096;
/// Any other text field (a network name, a mode, a device): the longest valid value is under 32 characters.
inline constexpr size_t kWordBytes = 64;
/// optim.milestones: a step schedule drops the rate a few times (the recipe: 3); 64 drops would be a new schedule.
inline constexpr size_t kMilestones = 64;
/// data.mean and data.std: one value per input channel (1 or 3).
inline constexpr size_t kChannelValues = 3;
/// review.pyramid: HCL's pooled sizes (the recipe: [4, 2, 1]); a 64x64 level has at most 7 halvings.
inline constexpr size_t kPyramidLevels = 8;
}  // namespace limits

/// Where the frozen teacher of a distillation run comes from.
struct TeacherSource {
  std::string arch;            ///< zoo name
  int64_t run = 0;             ///< a finished teacher run in the store (its best checkpoint), 0 = none
  std::string checkpoint;      ///< or a PyTorch/studio checkpoint file
  /// "eval": frozen, eval mode under no-grad (default). "batch-stats": the reference's quirk, the teacher's
  /// BatchNorm uses batch statistics and keeps updating its running statistics.
  std::string mode = "eval";
};

/// Dataset section (mirrors DatasetSpec; kept as plain values so the config has no torch types).
struct DataConfig {
  std::string kind = "fashion-mnist";  ///< fashion-mnist, mnist, cifar10, cifar100, folder
  std::string path;                    ///< empty = the kind's default location
  int64_t perClass = 0;                ///< training images per class, 0 = all
  int64_t testPerClass = 0;            ///< test images per class, 0 = all
  /// How the per-class subsets are chosen: "random" (stratified, seeded) or "first" (the first N of each class in
  /// the file's order, what a script that slices a dataset takes, so a run can use exactly its subset).
  std::string subset = "random";
  /// The seed of the data's cuts (the random subsets, the validation split, a folder's test split); -1 = the run's
  /// seed. A study holds it fixed so that its seeds vary the initialisation, the order and the augmentation only.
  int64_t subsetSeed = -1;
  int64_t validation = 0;              ///< images held out of training for validation
  int64_t padTo = 0;                   ///< zero-pad images to this size (28 -> 32), 0 = off
  int64_t imageSize = 0;               ///< folder datasets: resize to this size, 0 = as stored
  std::vector<double> mean;            ///< given normalisation, empty = preset/computed
  std::vector<double> std;
  std::string flip = "auto";           ///< auto (on for CIFAR/folder/Fashion-MNIST, off for MNIST), on, off
  int64_t cropPadding = -1;            ///< random-crop padding in pixels, -1 = auto (4)
  /// Input channels of the networks: "1" (RGB images become grey), "3" (grey images are replicated to RGB), or
  /// "auto": as stored, except that a student distilled from an imported teacher takes what the teacher's
  /// first convolution takes (a PyTorch teacher trained on Fashion-MNIST replicated to 3 channels).
  std::string channels = "auto";
};

/// Review head switches and weights (spec sections 3-6).
struct ReviewConfig {
  bool review = true;
  bool residual = true;
  bool abf = true;
  bool hcl = true;
  std::vector<int64_t> pyramid{4, 2, 1};
  double weight = 1.0;      ///< review loss weight
  int64_t warmupEpochs = 20;
};

struct OptimConfig {
  int64_t epochs = 240;
  int64_t batchSize = 128;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double weightDecay = 5e-4;
  std::string schedule = "multistep";  ///< multistep or cosine
  std::vector<int64_t> milestones{150, 180, 210};
  double gamma = 0.1;
};

/// One run. kind "teacher" trains `student` with cross-entropy (the network is called student throughout:
/// it is the one whose weights change); kind "student" distils from `teacher` with `method`.
struct RunConfig {
  std::string name;
  std::string kind = "student";        ///< teacher or student
  std::string method = "reviewkd";     ///< student runs: reviewkd, kd, student-alone; teacher runs: ce
  std::string student = "resnet20";    ///< the trained network's zoo name
  TeacherSource teacher;
  DataConfig data;
  ReviewConfig review;
  double ceWeight = 1.0;
  double kdWeight = 0.0;               ///< Hinton KD term (method kd: required > 0; reviewkd: optional)
  double kdTemperature = 4.0;
  OptimConfig optim;
  std::string device = "auto";         ///< auto, cpu, cuda, cuda:N
  int64_t seed = 1;
  int64_t threads = 0;                 ///< CPU threads, 0 = all cores
  int64_t snapshotEvery = 50;          ///< steps between feature snapshots (0 = off)
  std::string channelsLast = "auto";   ///< auto (on for CPU), on, off
  /// Several processes (torch.distributed): SyncBatchNorm for the student and the review head (statistics over
  /// the global batch). Off: each rank normalises with its own batch, as DDP does. No effect in one process.
  bool syncBatchNorm = false;

  /// Throws rkd::InputError naming the field, the value and the allowed values.
  void validate() const;
  /// One-line summary: "resnet56 -> resnet20 reviewkd [review residual abf hcl] w=0.6".
  std::string summary() const;
};

nlohmann::json toJson(const RunConfig& config);
/// Strict: unknown fields and wrong types are errors naming the field path (e.g. "optim.lr"). `source` names
/// the file or preset in messages. Missing fields keep their defaults. Validates the result.
RunConfig runConfigFromJson(const nlohmann::json& json, const std::string& source);
/// Reads a JSON config file (errors name the file, line and column of a syntax error). Refuses anything but a
/// regular file (a FIFO would block) and a file over limits::kConfigFileBytes before parsing it.
RunConfig loadRunConfig(const std::string& path);
/// Applies `key=value` overrides with dotted paths ("optim.epochs=5", "review.abf=false"); the value is
/// parsed as JSON when it is valid JSON, else taken as a string. Unknown keys are errors listing the keys.
RunConfig applyOverrides(const RunConfig& config, const std::vector<std::string>& overrides);

/// One key of the config JSON as the field table (run_config_fields.cpp) declares it: the one list of names the
/// writer, the strict reader, --set and the validation messages share.
struct ConfigKey {
  std::string path;      ///< dotted, e.g. "optim.lr"; a section is a key too ("optim")
  std::string expected;  ///< what the reader accepts, in the messages' words: "an integer", ..., "an object"
  /// A valid value other than the default, as typed after --set; all examples together pass validate().
  /// Empty for sections.
  std::string example;
  bool section = false;
};
/// Every key of RunConfig's JSON in table order, each section followed by its fields.
std::vector<ConfigKey> configKeys();

}  // namespace rkd
