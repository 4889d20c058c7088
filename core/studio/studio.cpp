#include "core/studio/studio.h"

#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/train/device.h"
#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/distill/levels.h"
#ifdef REVIEWKD_HAVE_ONNX
#include "core/export/onnx_export.h"
#endif
#include "core/io/checkpoint.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/models/zoo_match.h"
#include "core/train/run_setup.h"
#include "core/train/trainer.h"

namespace rkd::studio {
namespace {

// Runs `body`, turning every exception into (message, fix) so facade calls never throw into a GUI.
template <typename F>
bool guarded(F&& body, std::string& error, std::string* fix = nullptr) {
  try {
    body();
    return true;
  } catch (const UserError& e) {
    error = e.what();
    if (fix) {
      *fix = e.fix();
    } else if (!e.fix().empty()) {
      error = e.full();
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  return false;
}

std::string shapeText(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

std::string fixedText(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string leafText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void flattenInto(const nlohmann::json& node, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      flattenInto(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  out.emplace_back(prefix, leafText(node));
}

}  // namespace

// --- zoo, devices ---------------------------------------------------------------------------------------------

std::vector<NetworkInfo> networks() {
  std::vector<NetworkInfo> out;
  for (const auto& e : zooEntries()) out.push_back({e.name, e.family, e.description});
  return out;
}

std::vector<DeviceOption> deviceOptions() {
  std::vector<DeviceOption> out;
  out.push_back({"auto", "Automatic (CUDA when present, else CPU)"});
  for (const auto& d : availableDevices()) {
    if (d == "cpu")
      out.push_back({"cpu", "CPU (" + std::to_string(hardwareThreads()) + " threads)"});
    else
      out.push_back({d, "CUDA " + d.substr(5)});
  }
  return out;
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

CheckpointSummary summarizeCheckpoint(const std::string& path) {
  CheckpointSummary r;
  r.readable = guarded(
      [&] {
        const ImportedStateDict sd = readStateDict(path);
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
      },
      r.error);
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
  r.file = summarizeCheckpoint(path);
  if (!r.file.readable) {
    r.error = r.file.error;
    return r;
  }
  r.readable = guarded(
      [&] {
        if (!shape.known()) throw InputError("the input shape is not known yet", "load the dataset first");
        const ImportedStateDict sd = readStateDict(path);
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

// --- teachers -------------------------------------------------------------------------------------------------

RunConfig teacherRecipe(const RunConfig& student) {
  RunConfig teacher;
  const Preset* match = nullptr;
  for (const auto& p : presets())
    if (p.teacher.student == student.teacher.arch && p.teacher.data.kind == student.data.kind) match = &p;
  if (!match)
    for (const auto& p : presets())
      if (p.teacher.student == student.teacher.arch && !match) match = &p;
  if (match) {
    teacher = match->teacher;
    teacher.data.kind = student.data.kind;
    teacher.data.path = student.data.path;
    teacher.data.padTo = student.data.padTo;
    teacher.data.imageSize = student.data.imageSize;
    teacher.data.channels = student.data.channels;
  } else {
    teacher = student;
    teacher.kind = "teacher";
    teacher.method = "ce";
    teacher.student = student.teacher.arch;
    teacher.teacher = TeacherSource{};
    teacher.kdWeight = 0;
    teacher.ceWeight = 1;
    teacher.snapshotEvery = 0;
  }
  teacher.name.clear();
  teacher.device = student.device;
  teacher.threads = student.threads;
  return teacher;
}

std::optional<int64_t> findFinishedTeacher(RunStore& store, const RunConfig& teacherConfig) {
  nlohmann::json want = toJson(teacherConfig);
  want.erase("name");
  RunFilter f;
  f.kind = RunKind::Teacher;
  f.status = RunStatus::Finished;
  f.studentArch = teacherConfig.student;
  for (const auto& r : store.listRuns(f)) {
    auto rec = store.getRun(r.id);
    if (!rec) continue;
    nlohmann::json have = rec->config;
    have.erase("name");
    if (have == want) return r.id;
  }
  return std::nullopt;
}

// --- exporting ------------------------------------------------------------------------------------------------

namespace {

// A run's record and the network entries ("model." prefix removed) of its best checkpoint, or of its last one
// when `best` is false or there is no best.
struct RunNetwork {
  RunRecord run;
  std::string source;
  TensorMap model;
};

RunNetwork readRunNetwork(RunStore& store, int64_t runId, bool best) {
  RunNetwork r;
  const auto run = store.getRun(runId);
  if (!run) throw InputError("run " + std::to_string(runId) + " is not in " + store.path(), "pick a run from the history");
  r.run = *run;
  r.source = store.checkpointPath(runId, best ? CheckpointKind::Best : CheckpointKind::Last);
  if (r.source.empty() && best) r.source = store.checkpointPath(runId, CheckpointKind::Last);
  if (r.source.empty())
    throw InputError("run " + std::to_string(runId) + " has no checkpoint yet",
                     "it stopped before its first checkpoint; train it (or resume it) first");
  r.model = withPrefix(readTensorFile(r.source), "model.");
  if (r.model.empty())
    throw InputError("checkpoint '" + r.source + "' holds no 'model.' entries",
                     "it was not written by this studio's trainer; export from a studio run");
  return r;
}

// The trained network of a run, built with the class count and input channels its checkpoint's shapes say
// (the classifier's rows; the input channels of the stem, the network's first convolution).
[[maybe_unused]] Backbone runBackbone(const RunNetwork& r) {
  const std::string& arch = r.run.studentArch;
  const ShapeEntries names = shapeEntries(arch);
  for (const std::string& name : {names.stemWeight, names.classifierWeight})
    if (!r.model.count(name))
      throw InputError("checkpoint '" + r.source + "' has no '" + name + "' entry, so it does not hold a " + arch,
                       "export a run trained by this studio");
  Backbone net =
      createBackbone({arch, r.model.at(names.classifierWeight).size(0), r.model.at(names.stemWeight).size(1)});
  loadStateDictStrict(*net, r.model, r.source);
  return net;
}

// The image size a run trained on: the built-in kinds' size after padding, a folder's resize or pad size, or,
// for a folder kept at its stored size, the size read from the dataset (slow).
[[maybe_unused]] int64_t runImageSize(const RunConfig& config) {
  if (const auto shape = knownShape(config.data)) return shape->height;
  if (config.data.imageSize > 0) return std::max(config.data.imageSize, config.data.padTo);
  if (config.data.padTo > 0) return config.data.padTo;
  const DatasetSplits splits = loadDataset(datasetSpecOf(config.data, config.seed));
  if (splits.train.height() != splits.train.width())
    throw InputError("the images of '" + config.data.path + "' are " + std::to_string(splits.train.height()) + "x" +
                         std::to_string(splits.train.width()) + "; ONNX export needs square images",
                     "train with data.image_size set");
  return splits.train.height();
}

}  // namespace

WeightsExport exportWeights(RunStore& store, int64_t runId, const std::string& outPath, bool best) {
  WeightsExport r;
  r.ok = guarded(
      [&] {
        const RunNetwork network = readRunNetwork(store, runId, best);
        r.arch = network.run.studentArch;
        r.source = network.source;
        writeTensorFile(outPath, network.model);
        r.entries = static_cast<int64_t>(network.model.size());
      },
      r.error);
  return r;
}

std::string OnnxExport::inputShapeText() const {
  std::string s;
  for (int64_t d : inputShape) s += (s.empty() ? "" : "x") + (d < 0 ? std::string("N") : std::to_string(d));
  return s;
}

OnnxExport exportRunOnnx(RunStore& store, int64_t runId, const std::string& outPath, bool best, int64_t batch) {
  OnnxExport r;
  r.ok = guarded(
      [&] {
        if (batch < 0)
          throw InputError("the ONNX batch size must be a positive number or dynamic, got " + std::to_string(batch),
                           "give a batch of 1 or more, or a dynamic batch");
        const RunNetwork network = readRunNetwork(store, runId, best);
        r.arch = network.run.studentArch;
        r.source = network.source;
#ifndef REVIEWKD_HAVE_ONNX
        throw InputError("this build has no ONNX export (it was configured with -DREVIEWKD_ONNX=OFF)",
                         "build with libonnx-dev and libprotobuf-dev installed and REVIEWKD_ONNX on");
#else
        const RunConfig config = runConfigFromJson(network.run.config, "run " + std::to_string(runId));
        const Backbone net = runBackbone(network);
        OnnxExportOptions options;
        options.batch = batch > 0 ? batch : 1;
        options.dynamicBatch = batch == 0;
        const OnnxExportReport report = exportOnnx(net, runImageSize(config), outPath, options);
        r.inputShape = report.inputShape;
        r.outputShape = report.outputShape;
        r.nodes = report.nodes;
        r.foldedBatchNorms = report.foldedBatchNorms;
        r.opCounts = report.opCounts;
#endif
      },
      r.error);
  return r;
}

// --- history --------------------------------------------------------------------------------------------------

std::string switchesText(const RunConfig& c) {
  if (c.kind == "teacher") return "CE (teacher)";
  if (c.method == "student-alone") return "CE (student alone)";
  if (c.method == "kd") return "Hinton KD T=" + fixedText(c.kdTemperature, 0);
  std::vector<std::string> on;
  if (c.review.review) on.push_back("review");
  if (c.review.residual) on.push_back("residual");
  if (c.review.abf) on.push_back("ABF");
  if (c.review.hcl) on.push_back("HCL");
  std::string s;
  for (const auto& o : on) s += (s.empty() ? "" : " ") + o;
  if (s.empty()) s = "same-level only";
  if (c.kdWeight > 0) s += " +KD";
  return s;
}

std::vector<HistoryRow> historyRows(RunStore& store, const RunFilter& filter) {
  std::vector<HistoryRow> out;
  const int64_t now = nowUnixMs();
  for (const auto& r : store.listRuns(filter)) {
    HistoryRow row;
    row.run = r;
    row.pair = r.kind == RunKind::Teacher || r.teacherArch.empty() ? r.studentArch : r.teacherArch + " -> " + r.studentArch;
    if (auto rec = store.getRun(r.id)) {
      std::string error;
      guarded(
          [&] {
            const RunConfig c = runConfigFromJson(rec->config, "run " + std::to_string(r.id));
            row.switches = switchesText(c);
            row.configText = c.summary();
            row.epochs = static_cast<int>(c.optim.epochs);
          },
          error);
      if (!error.empty()) row.switches = r.method;
    }
    const int64_t end = r.endedAt ? *r.endedAt : (r.status == RunStatus::Running ? now : r.startedAt);
    row.seconds = static_cast<double>(std::max<int64_t>(0, end - r.startedAt)) / 1000.0;
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> flattenConfig(const nlohmann::json& config) {
  std::vector<std::pair<std::string, std::string>> out;
  flattenInto(config, "", out);
  return out;
}

std::vector<DiffRow> configDiff(const std::vector<nlohmann::json>& configs) {
  std::vector<std::string> order;
  std::vector<std::map<std::string, std::string>> values;
  for (const auto& c : configs) {
    std::map<std::string, std::string> m;
    for (auto& [k, v] : flattenConfig(c)) {
      if (std::find(order.begin(), order.end(), k) == order.end()) order.push_back(k);
      m[k] = v;
    }
    values.push_back(std::move(m));
  }
  std::vector<DiffRow> out;
  if (configs.size() < 2) return out;
  for (const auto& field : order) {
    DiffRow row{field, {}};
    for (const auto& m : values) {
      auto it = m.find(field);
      row.values.push_back(it == m.end() ? std::string() : it->second);
    }
    if (std::adjacent_find(row.values.begin(), row.values.end(), std::not_equal_to<>()) != row.values.end())
      out.push_back(std::move(row));
  }
  return out;
}

// --- ablation -------------------------------------------------------------------------------------------------

std::vector<AblationRow> ablationRows(const RunConfig& reviewStudent) {
  const auto published = publishedNumbers(reviewStudent.teacher.arch, reviewStudent.student);
  std::vector<AblationRow> out;
  for (auto& [label, config] : ablationGrid(reviewStudent)) {
    AblationRow row{label, config, std::nullopt};
    if (published) {
      if (config.method == "student-alone") {
        row.published = published->student;
      } else if (config.method == "kd") {
        row.published = published->kd;
      } else {
        const std::vector<bool> key{config.review.review, config.review.residual, config.review.abf, config.review.hcl};
        for (const auto& [switches, top1] : published->ablation)
          if (switches == key) row.published = top1;
        if (!row.published && config.review.review && config.review.residual && config.review.abf && config.review.hcl)
          row.published = published->reviewkd;
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

// --- log ------------------------------------------------------------------------------------------------------

namespace {
class CallbackSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(std::function<void(const LogLine&)> onLine) : m_onLine(std::move(onLine)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    LogLine line;
    const auto level = spdlog::level::to_string_view(msg.level);
    line.level.assign(level.data(), level.size());
    line.logger.assign(msg.logger_name.data(), msg.logger_name.size());
    line.text.assign(msg.payload.data(), msg.payload.size());
    m_onLine(line);
  }
  void flush_() override {}

 private:
  std::function<void(const LogLine&)> m_onLine;
};
}  // namespace

std::shared_ptr<void> subscribeLog(std::function<void(const LogLine&)> onLine) {
  auto sink = std::make_shared<CallbackSink>(std::move(onLine));
  addLogSink(sink);
  return std::shared_ptr<void>(sink.get(), [sink](void*) { removeLogSink(sink); });
}

// --- training -------------------------------------------------------------------------------------------------

TrainingSession::TrainingSession(std::string storePath) : m_storePath(std::move(storePath)) {}
TrainingSession::~TrainingSession() = default;

void TrainingSession::requestStop() { m_stop.store(true); }
bool TrainingSession::stopRequested() const { return m_stop.load(); }
void TrainingSession::setProbeIndex(int64_t index) { m_probe.store(std::max<int64_t>(0, index)); }
int64_t TrainingSession::probeIndex() const { return m_probe.load(); }

namespace {
RunOutcome failedOutcome(const std::string& message) {
  RunOutcome o;
  o.status = RunStatus::Failed;
  o.message = message;
  return o;
}

template <typename F>
RunOutcome guardedRun(F&& body) {
  RunOutcome outcome;
  std::string error;
  if (!guarded([&] { outcome = body(); }, error)) {
    logger("core.studio")->error("{}", error);
    return failedOutcome(error);
  }
  return outcome;
}
}  // namespace

RunOutcome TrainingSession::start(RunConfig config, const TrainerCallbacks& callbacks) {
  return guardedRun([&] {
    config.validate();
    RunStore store(m_storePath);
    Trainer trainer(store, callbacks, &m_stop);
    trainer.setProbe(&m_probe);
    const bool needsTeacher = config.kind == "student" && config.method != "student-alone" &&
                              config.teacher.run == 0 && config.teacher.checkpoint.empty();
    if (needsTeacher) {
      const RunConfig teacher = teacherRecipe(config);
      if (auto id = findFinishedTeacher(store, teacher)) {
        if (callbacks.onStatus) callbacks.onStatus("reusing finished teacher run " + std::to_string(*id));
        config.teacher.run = *id;
      } else {
        if (callbacks.onStatus) callbacks.onStatus("no finished " + teacher.student + " teacher yet: training it first (" + teacher.summary() + ")");
        const RunOutcome t = trainer.start(teacher);
        if (t.status != RunStatus::Finished) {
          RunOutcome o = t;
          o.message = "the teacher run " + std::to_string(t.runId) + " ended " + t.statusText() +
                      (t.message.empty() ? "" : ": " + t.message) + "; the student was not started";
          return o;
        }
        if (m_stop.load()) return t;
        config.teacher.run = t.runId;
      }
    }
    return trainer.start(config);
  });
}

RunOutcome TrainingSession::resume(int64_t runId, int64_t epochs, const TrainerCallbacks& callbacks) {
  return guardedRun([&] {
    RunStore store(m_storePath);
    Trainer trainer(store, callbacks, &m_stop);
    trainer.setProbe(&m_probe);
    return trainer.resume(runId, epochs);
  });
}

}  // namespace rkd::studio
