#include "core/services/inspect.h"

#include <algorithm>
#include <sstream>
#include <thread>

#include "core/common/errors.h"
#include "core/distill/levels.h"
#include "core/io/checkpoint.h"
#include "core/models/backbone.h"
#include "core/models/generator_scope.h"
#include "core/models/zoo_match.h"
#include "core/services/guarded.h"
#include "core/runtime/device.h"
#include "core/train/run_setup.h"

namespace rkd::services {
using detail::guarded;
using detail::shapeText;
using detail::fixedText;

// --- zoo, devices ---------------------------------------------------------------------------------------------

std::vector<NetworkInfo> networks() {
  std::vector<NetworkInfo> out;
  for (const auto& e : zooEntries()) out.push_back({e.name, e.family, e.description});
  return out;
}

std::vector<NetworkSize> networkSizes(int classes, int channels) {
  std::vector<NetworkSize> out;
  torch::NoGradGuard noGrad;
  for (const auto& e : zooEntries()) {
    Backbone net = createBackbone({e.name, classes, channels});
    net->eval();
    NetworkSize size{{e.name, e.family, e.description}, countParameters(*net), countMacs(*net, channels, 32), {}};
    for (const auto& level : distilledLevels(net->forwardAll(torch::zeros({1, channels, 32, 32}), false), false))
      size.levels.emplace_back(level.size(1), level.size(2));
    out.push_back(std::move(size));
  }
  return out;
}

std::vector<DeviceOption> deviceOptions() {
  std::vector<DeviceOption> out;
  out.push_back({"auto", "Automatic (CUDA when present, else CPU)", 1, ""});
  int gpus = 0;
  for (const auto& d : availableDevices()) {
    if (d == "cpu") {
      out.push_back({"cpu", "CPU (" + std::to_string(hardwareThreads()) + " threads)", 1, ""});
    } else {
      out.push_back({d, "CUDA " + d.substr(5), 1, ""});
      ++gpus;
    }
  }
  for (auto& option : cpuProcessOptions(hardwareThreads())) out.push_back(std::move(option));
  if (auto option = gpuProcessOption(gpus)) out.push_back(std::move(*option));
  return out;
}

std::vector<DeviceOption> cpuProcessOptions(int cores) {
  std::vector<DeviceOption> out;
  if (cores < 2) return out;
  const int most = std::clamp(cores / 2, 2, 8);
  for (int n = 2; n <= most; ++n)
    out.push_back({"cpu", std::to_string(n) + " processes (CPU, Gloo)", n, "gloo"});
  return out;
}

std::optional<DeviceOption> gpuProcessOption(int gpus) {
  if (gpus < 2) return std::nullopt;
  return DeviceOption{"cuda", std::to_string(gpus) + " processes, one per GPU (NCCL)", gpus, "nccl"};
}

int hardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

// --- datasets -------------------------------------------------------------------------------------------------

std::optional<DataShape> knownShape(const DataConfig& data) {
  DataShape s;
  if (data.kind == "fashion-mnist" || data.kind == "mnist") {
    s = {1, 28, 28, 10};
  } else if (data.kind == "cifar10") {
    s = {3, 32, 32, 10};
  } else if (data.kind == "cifar100") {
    s = {3, 32, 32, 100};
  } else {
    return std::nullopt;
  }
  if (data.padTo > s.height) s.height = s.width = data.padTo;
  if (data.channels == "1" || data.channels == "3") s.channels = std::stoll(data.channels);
  return s;
}

std::string defaultDataPath(const std::string& kind) {
  std::string path;
  std::string error;
  guarded([&] { path = defaultDatasetPath(datasetKindFromString(kind)); }, error);
  return path;
}

std::string DatasetReport::summary() const {
  if (!ok) return error + (fix.empty() ? "" : ". " + fix);
  std::string s = std::to_string(trainImages) + " train";
  if (validationImages > 0) s += " / " + std::to_string(validationImages) + " validation";
  s += " / " + std::to_string(testImages) + " test images, " + std::to_string(shape.classes) + " classes, " +
       shapeText(shape.channels, shape.height, shape.width);
  return s;
}

DatasetReport inspectDataset(const DataConfig& data, int64_t seed) {
  DatasetReport r;
  r.ok = guarded(
      [&] {
        const DatasetSplits splits = loadDataset(datasetSpecOf(data, seed));
        r.shape = {splits.train.channels(), splits.train.height(), splits.train.width(), splits.train.numClasses};
        r.trainImages = splits.train.size();
        r.validationImages = splits.val.size();
        r.testImages = splits.test.size();
        r.classNames = splits.train.classNames;
        std::string mean, std;
        for (size_t c = 0; c < splits.normalization.mean.size(); ++c) {
          mean += (c ? ", " : "") + fixedText(splits.normalization.mean[c], 3);
          std += (c ? ", " : "") + fixedText(splits.normalization.std[c], 3);
        }
        r.normalization = "mean (" + mean + ") std (" + std + ")" +
                          (splits.normalizationComputed ? ", computed from the training split" : "");
      },
      r.error, &r.fix);
  return r;
}

// --- levels ---------------------------------------------------------------------------------------------------

LevelTable levelTable(const std::string& teacher, const std::string& student, const DataShape& shape) {
  LevelTable t;
  guarded(
      [&] {
        if (!shape.known()) throw InputError("the input shape is not known yet", "load the dataset first");
        torch::NoGradGuard noGrad;
        GeneratorScope borrowed;  // a preview must not move the weights of a run starting on another thread
        Backbone s = createBackbone({student, shape.classes, shape.channels});
        Backbone te = createBackbone({teacher, shape.classes, shape.channels});
        const PairLevels levels = derivePairLevels(*s, *te, shape.channels, shape.height);
        t.teacherLevelCount = levels.teacherLevelCount;
        t.studentLevelCount = levels.studentLevelCount;
        t.midChannels = levels.midChannels;
        for (size_t k = 0; k < levels.levels.size(); ++k) {
          const LevelInfo& l = levels.levels[k];
          LevelRow row;
          row.teacherLevel = l.teacherIndex + 1;
          row.studentLevel = l.studentIndex + 1;
          row.teacherChannels = l.teacherChannels;
          row.teacherHeight = l.teacherHeight;
          row.teacherWidth = l.teacherWidth;
          row.studentChannels = l.studentChannels;
          row.studentHeight = l.studentHeight;
          row.studentWidth = l.studentWidth;
          row.pooled = k + 1 == levels.levels.size();
          row.resized = l.studentHeight != l.teacherHeight || l.studentWidth != l.teacherWidth;
          t.rows.push_back(row);
        }
        std::ostringstream note;
        note << "Derived from one forward pass of each network at " << shapeText(shape.channels, shape.height, shape.width)
             << ". The deepest level is the pooled embedding.";
        if (const std::string aligned = levels.alignmentNote(); !aligned.empty())
          note << " " << student << " has " << levels.studentLevelCount << " levels and " << teacher << " has "
               << levels.teacherLevelCount << ". " << aligned;
        if (std::any_of(t.rows.begin(), t.rows.end(), [](const LevelRow& r) { return r.resized; }))
          note << " Student maps of a different size are resized to the teacher's size.";
        t.note = note.str();
      },
      t.error);
  return t;
}

// --- import ---------------------------------------------------------------------------------------------------

std::string CheckpointSummary::describe() const {
  if (!readable) return error;
  std::ostringstream s;
  s << entries << " tensors (" << parameters << " values), " << format << " format, " << layout
    << (strippedModulePrefix ? ", 'module.' prefix removed" : "") << ".";
  for (const auto& c : conversions) s << "\n" << c << ".";
  if (fits.empty())
    s << "\nFits no network of the zoo.";
  else if (!fitArch.empty())
    s << "\nFits " << fits.front() << ".";
  else {
    s << "\nFits no network of the zoo exactly; closest:";
    for (const auto& f : fits) s << "\n  " << f;
  }
  if (!ignored.empty()) {
    s << "\nNot loaded (" << ignored.size() << "):";
    for (const auto& i : ignored) s << "\n  " << i;
  }
  return s.str();
}

namespace {

// What a read file holds; `sd` is read once by the callers (a big teacher file is not read twice).
CheckpointSummary summaryOf(const ImportedStateDict& sd) {
  CheckpointSummary r;
  r.readable = true;
  r.format = sd.format;
  r.layout = sd.layout;
  r.strippedModulePrefix = sd.strippedModulePrefix;
  r.conversions = sd.conversions;
  r.ignored = sd.ignored;
  r.entries = static_cast<int64_t>(sd.tensors.size());
  for (const auto& [name, t] : sd.tensors)
    if (t.is_floating_point()) r.parameters += t.numel();
  const std::vector<ZooFit> fits = rankZooFits(sd.tensors);
  for (const ZooFit& f : fits) r.fits.push_back(f.describe());
  if (!fits.empty() && fits.front().exact()) {
    r.fitArch = fits.front().arch;
    r.fitClasses = fits.front().numClasses;
    r.fitChannels = fits.front().inChannels;
  }
  return r;
}

}  // namespace

CheckpointSummary summarizeCheckpoint(const std::string& path) {
  CheckpointSummary r;
  std::string error;
  if (!guarded([&] { r = summaryOf(readStateDict(path)); }, error)) {
    r = CheckpointSummary{};
    r.error = error;
  }
  return r;
}

std::string ImportReport::describe() const {
  if (!readable) return error;
  std::ostringstream s;
  s << loaded << " entries matched " << arch << " (" << file.layout
    << (file.strippedModulePrefix ? ", 'module.' prefix removed" : "") << "); " << missing.size() << " missing, "
    << unexpected.size() << " unexpected, " << mismatched.size() << " with a different shape.";
  if (!complete()) {
    if (!file.fitArch.empty() && file.fitArch != arch)
      s << "\nThe file fits " << file.fits.front() << ", not " << arch << ": pick " << file.fitArch << " as the teacher.";
    else if (file.fitArch.empty() && !file.fits.empty())
      s << "\nNo zoo network fits the file exactly; the closest is " << file.fits.front() << ".";
  }
  if (!channelsNote.empty()) s << "\n" << channelsNote;
  for (const auto& c : file.conversions) s << "\n" << c << ".";
  const auto list = [&](const char* title, const std::vector<std::string>& names) {
    if (names.empty()) return;
    s << "\n" << title << ":";
    for (const auto& n : names) s << "\n  " << n;
  };
  list("Missing from the file", missing);
  list("Not in the network", unexpected);
  list("Shape differs", mismatched);
  list("In the file, not loaded", file.ignored);
  return s.str();
}

ImportReport inspectCheckpoint(const std::string& path, const std::string& arch, const DataShape& shape,
                               const std::string& channels) {
  ImportReport r;
  r.arch = arch;
  ImportedStateDict sd;
  if (!guarded([&] { sd = readStateDict(path); }, r.error)) {
    r.file.error = r.error;
    return r;
  }
  r.file = summaryOf(sd);
  r.readable = guarded(
      [&] {
        if (!shape.known()) throw InputError("the input shape is not known yet", "load the dataset first");
        r.channels = shape.channels;
        const int64_t wanted = inputChannelsFor(sd.tensors, arch);
        if (channels == "auto" && wanted > 0 && wanted != shape.channels && (wanted == 1 || wanted == 3) &&
            (shape.channels == 1 || shape.channels == 3)) {
          r.channels = wanted;
          r.channelsNote = wanted == 3 ? "The teacher takes 3 input channels: the dataset's grey images will be "
                                         "replicated to RGB (data channels: auto)."
                                       : "The teacher takes 1 input channel: the dataset's RGB images will be "
                                         "converted to grey (data channels: auto).";
        }
        GeneratorScope borrowed;  // a preview must not move the weights of a run starting on another thread
        Backbone net = createBackbone({arch, shape.classes, r.channels});
        const LoadReport report = loadStateDict(*net, sd.tensors);
        r.loaded = static_cast<int64_t>(report.loaded.size());
        r.missing = report.missing;
        r.unexpected = report.unexpected;
        r.mismatched = report.mismatched;
      },
      r.error);
  return r;
}

}  // namespace rkd::services
