#include "core/services/run_history.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "core/common/errors.h"
#include "core/common/files.h"
#ifdef REVIEWKD_HAVE_ONNX
#include "core/export/onnx_export.h"
#endif
#include "core/io/checkpoint.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/models/generator_scope.h"
#include "core/models/zoo_match.h"
#include "core/services/guarded.h"
#include "core/services/inspect.h"
#include "core/store/run_store.h"
#include "core/train/run_setup.h"
#include "core/vocabulary/config_text.h"

namespace rkd::services {
using rkd::detail::csvField;
using detail::guarded;
using detail::fixedText;

namespace {

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
  GeneratorScope borrowed;  // the export must not move the weights of a run starting on another thread
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

namespace {

// How a user's export treats a regular file at its destination, and whether one is there now.
ExistingFile exportPolicy(bool replace) { return replace ? ExistingFile::ReplaceAndSay : ExistingFile::Refuse; }
bool checkExport(const std::string& outPath, bool replace) {
  return fileKind(checkWriteDestination(outPath, exportPolicy(replace))) == FileKind::Regular;
}

WeightsExport exportWeights(RunStore& store, int64_t runId, const std::string& outPath, bool best, bool replace) {
  WeightsExport r;
  r.ok = guarded(
      [&] {
        r.replaced = checkExport(outPath, replace);
        const RunNetwork network = readRunNetwork(store, runId, best);
        r.arch = network.run.studentArch;
        r.source = network.source;
        writeTensorFile(outPath, network.model, exportPolicy(replace));
        r.entries = static_cast<int64_t>(network.model.size());
      },
      r.error);
  return r;
}

}  // namespace

std::string OnnxExport::inputShapeText() const {
  std::string s;
  for (int64_t d : inputShape) s += (s.empty() ? "" : "x") + (d < 0 ? std::string("N") : std::to_string(d));
  return s;
}

namespace {

OnnxExport exportRunOnnx(RunStore& store, int64_t runId, const std::string& outPath, bool best, int64_t batch,
                         bool replace) {
  OnnxExport r;
  r.ok = guarded(
      [&] {
        r.replaced = checkExport(outPath, replace);
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
        options.existing = exportPolicy(replace);
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

}  // namespace

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

namespace {

// The config fields of a run list row as a RunConfig, so the summary and switch texts are RunConfig's own.
RunConfig configOf(const ConfigDigest& d) {
  RunConfig c;
  c.kind = d.kind;
  c.method = d.method;
  c.student = d.student;
  c.teacher.arch = d.teacherArch;
  c.review.review = d.review;
  c.review.residual = d.residual;
  c.review.abf = d.abf;
  c.review.hcl = d.hcl;
  c.review.weight = d.reviewWeight;
  c.kdWeight = d.kdWeight;
  c.kdTemperature = d.kdTemperature;
  c.optim.epochs = d.epochs;
  return c;
}

// One query: the run list carries the config fields the table shows (see ConfigDigest).
std::vector<HistoryRow> historyRows(RunStore& store, const RunFilter& filter) {
  std::vector<HistoryRow> out;
  const int64_t now = nowUnixMs();
  for (const auto& r : store.listRuns(filter)) {
    HistoryRow row;
    row.run = r;
    row.pair = r.kind == RunKind::Teacher || r.teacherArch.empty() ? r.studentArch : r.teacherArch + " -> " + r.studentArch;
    if (r.config.valid) {
      const RunConfig c = configOf(r.config);
      row.switches = switchesText(c);
      row.configText = c.summary();
      row.epochs = static_cast<int>(r.config.epochs);
    } else {
      row.switches = r.method;
    }
    const int64_t end = r.endedAt ? *r.endedAt : (r.status == RunStatus::Running ? now : r.startedAt);
    row.seconds = static_cast<double>(std::max<int64_t>(0, end - r.startedAt)) / 1000.0;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

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

// --- the store ------------------------------------------------------------------------------------------------

std::string resolveStorePath(const std::string& explicitPath, const std::string& lastUsed, std::string* source) {
  auto chose = [&](const std::string& path, const char* why) {
    if (source) *source = why;
    return path;
  };
  if (!explicitPath.empty()) return chose(explicitPath, "--db");
  if (const char* env = std::getenv("REVIEWKD_DB"); env && *env) return chose(env, "$REVIEWKD_DB");
  std::error_code ec;
  if (!lastUsed.empty() && std::filesystem::exists(lastUsed, ec)) return chose(lastUsed, "the store used last");
  return chose(RunStore::defaultPath(), "the default location");
}

namespace {
RunStoreOptions historyOptions(bool mustExist) {
  RunStoreOptions o;
  o.readOnlyWhenUnwritable = true;  // a store this user may only read can still be browsed and exported from
  o.mustExist = mustExist;
  return o;
}
}  // namespace

RunHistory::RunHistory(const std::string& path, bool mustExist)
    : m_store(std::make_unique<RunStore>(path, historyOptions(mustExist))) {}
RunHistory::~RunHistory() = default;

const std::string& RunHistory::path() const { return m_store->path(); }
bool RunHistory::readOnly() const { return m_store->readOnly(); }
std::vector<HistoryRow> RunHistory::rows(const RunFilter& filter) { return historyRows(*m_store, filter); }
std::optional<RunRecord> RunHistory::run(int64_t runId) { return m_store->getRun(runId); }
std::vector<RunSummary> RunHistory::list(const RunFilter& filter) { return m_store->listRuns(filter); }
std::vector<std::string> RunHistory::allTags() { return m_store->allTags(); }
std::vector<std::string> RunHistory::tags(int64_t runId) { return m_store->tags(runId); }
std::vector<Note> RunHistory::notes(int64_t runId) { return m_store->notes(runId); }
std::vector<CheckpointRecord> RunHistory::checkpoints(int64_t runId) { return m_store->listCheckpoints(runId); }
std::string RunHistory::checkpointPath(int64_t runId, CheckpointKind kind) { return m_store->checkpointPath(runId, kind); }
std::vector<ClassAccuracy> RunHistory::classAccuracy(int64_t runId) { return m_store->classAccuracy(runId); }

RunDetail RunHistory::detail(int64_t runId) {
  RunDetail d;
  auto r = m_store->getRun(runId);
  if (!r) throw InputError("run " + std::to_string(runId) + " is not in " + path(), "pick a run from the history");
  d.run = *r;
  d.tags = m_store->tags(runId);
  d.notes = m_store->notes(runId);
  d.checkpoints = m_store->listCheckpoints(runId);
  d.classAccuracy = m_store->classAccuracy(runId);
  d.metricKeys = m_store->metricKeys(runId);
  return d;
}

void RunHistory::addTag(int64_t runId, const std::string& tag) { m_store->addTag(runId, tag); }
bool RunHistory::removeTag(int64_t runId, const std::string& tag) { return m_store->removeTag(runId, tag); }
void RunHistory::addNote(int64_t runId, const std::string& text) { m_store->addNote(runId, text); }
bool RunHistory::removeNote(int64_t noteId) { return m_store->removeNote(noteId); }

void RunHistory::deleteRun(int64_t runId) {
  if (!m_store->deleteRun(runId))
    throw InputError("run " + std::to_string(runId) + " is not in " + path(), "pick a run from the history");
}

std::vector<std::string> RunHistory::metricKeys(int64_t runId) { return m_store->metricKeys(runId); }
MetricSeries RunHistory::metrics(int64_t runId, const std::string& key) { return m_store->metrics(runId, key); }
namespace {

// The shortest text that reads back as the same double; NaN as "nan".
std::string shortestDouble(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

}  // namespace

void RunHistory::writeCsv(const std::vector<int64_t>& runIds, std::ostream& out) {
  out << "run_id,run_name,epoch,step,key,value\n";
  for (int64_t id : runIds) {
    const auto r = m_store->getRun(id);
    if (!r) throw InputError("no run with id " + std::to_string(id) + " in " + path(), "pick runs from the history");
    const std::string prefix = std::to_string(id) + "," + csvField(r->name) + ",";
    m_store->visitMetrics(id, [&](const MetricPoint& p) {
      out << prefix << p.epoch << ',' << p.step << ',' << csvField(p.key) << ',' << shortestDouble(p.value) << '\n';
    });
  }
}

bool RunHistory::writeCsv(const std::vector<int64_t>& runIds, const std::string& csvPath, bool replace) {
  const bool replaced = checkExport(csvPath, replace);
  std::ostringstream text;
  writeCsv(runIds, text);
  const std::string bytes = text.str();
  writeFileAtomically(csvPath, bytes.data(), bytes.size(), exportPolicy(replace));
  return replaced;
}

WeightsExport RunHistory::exportWeights(int64_t runId, const std::string& outPath, bool best, bool replace) {
  return services::exportWeights(*m_store, runId, outPath, best, replace);
}
OnnxExport RunHistory::exportOnnx(int64_t runId, const std::string& outPath, bool best, int64_t batch, bool replace) {
  return exportRunOnnx(*m_store, runId, outPath, best, batch, replace);
}

std::vector<DiffRow> RunHistory::configDiff(const std::vector<int64_t>& runIds) {
  std::vector<nlohmann::json> configs;
  for (int64_t id : runIds)
    if (auto r = m_store->getRun(id)) configs.push_back(r->config);
  return services::configDiff(configs);
}

}  // namespace rkd::services
