#include "core/services/run_config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/common/errors.h"

namespace rkd {
namespace {

using nlohmann::json;

std::string joinNames(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

template <typename T>
std::string valueText(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void require(bool ok, const std::string& field, const std::string& value, const std::string& allowed) {
  if (!ok) throw InputError("config field '" + field + "' has value " + value, "allowed: " + allowed);
}

bool oneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

// Reads one JSON object strictly: every key must be consumed, types must match, errors name the path.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path, std::string source)
      : m_json(j), m_path(std::move(path)), m_source(std::move(source)) {
    if (!j.is_object())
      throw InputError(m_source + ": '" + (m_path.empty() ? std::string("(top level)") : m_path) +
                           "' must be a JSON object, found " + j.type_name(),
                       "see README.md, section 'Run configuration'");
  }

  template <typename T>
  void get(const char* key, T& out) {
    m_known.push_back(key);
    auto it = m_json.find(key);
    if (it == m_json.end() || it->is_null()) return;
    try {
      out = it->get<T>();
    } catch (const json::exception&) {
      throw InputError(m_source + ": field '" + field(key) + "' has the wrong type (" + it->type_name() + ")",
                       "expected " + expected(out));
    }
  }

  const json* child(const char* key) {
    m_known.push_back(key);
    auto it = m_json.find(key);
    return (it == m_json.end() || it->is_null()) ? nullptr : &*it;
  }

  std::string field(const std::string& key) const { return m_path.empty() ? key : m_path + "." + key; }

  void finish() const {
    for (auto it = m_json.begin(); it != m_json.end(); ++it)
      if (std::find(m_known.begin(), m_known.end(), it.key()) == m_known.end())
        throw InputError(m_source + ": unknown field '" + field(it.key()) + "'",
                         "known fields here: " + joinNames(m_known));
  }

 private:
  static std::string expected(const bool&) { return "true or false"; }
  static std::string expected(const int64_t&) { return "an integer"; }
  static std::string expected(const double&) { return "a number"; }
  static std::string expected(const std::string&) { return "a string"; }
  static std::string expected(const std::vector<int64_t>&) { return "a list of integers"; }
  static std::string expected(const std::vector<double>&) { return "a list of numbers"; }

  const json& m_json;
  std::string m_path;
  std::string m_source;
  std::vector<std::string> m_known;
};

RunConfig cifarRecipe(const std::string& teacher, const std::string& student) {
  RunConfig c;
  c.kind = "student";
  c.method = "reviewkd";
  c.student = student;
  c.teacher.arch = teacher;
  c.data.kind = "cifar100";
  c.review.weight = referenceReviewWeight(teacher, student);
  const bool light = student.rfind("shufflev", 0) == 0 || student == "mobilenetv2";
  c.optim.lr = light ? 0.02 : 0.1;
  c.name = teacher + "-" + student + "-reviewkd";
  return c;
}

RunConfig teacherRecipe(const std::string& arch) {
  RunConfig c;
  c.kind = "teacher";
  c.method = "ce";
  c.student = arch;
  c.teacher = {};
  c.data.kind = "cifar100";
  const bool light = arch.rfind("shufflev", 0) == 0 || arch == "mobilenetv2";
  c.optim.lr = light ? 0.02 : 0.1;
  c.name = arch + "-teacher";
  return c;
}

std::vector<Preset> makePresets() {
  std::vector<Preset> out;
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"resnet56", "resnet20"},    {"resnet110", "resnet32"},  {"resnet32x4", "resnet8x4"},
      {"wrn-40-2", "wrn-16-2"},    {"wrn-40-2", "wrn-40-1"},   {"vgg13", "vgg8"},
      {"resnet32x4", "shufflev1"}, {"resnet32x4", "shufflev2"}, {"wrn-40-2", "shufflev1"},
      {"vgg13", "mobilenetv2"},    {"resnet50", "mobilenetv2"}};
  for (const auto& [t, s] : pairs) {
    Preset p;
    p.name = t + "-" + s;
    p.description = "CIFAR-100, " + t + " -> " + s + ", the reference recipe (240 epochs, review weight " +
                    valueText(referenceReviewWeight(t, s)) + ")";
    p.teacher = teacherRecipe(t);
    p.student = cifarRecipe(t, s);
    out.push_back(p);
  }
  // The quick CPU demo: the teacher sees ten times the student's labelled data (shared/notes/fashion-mnist.md:
  // a teacher trained like the student ends below it and distillation then hurts), so distillation has
  // something to transfer; the student trains on a 100-per-class subset.
  Preset q;
  q.name = "quick";
  q.description = "Fashion-MNIST on a CPU in minutes: resnet20 teacher on 1000 images/class, resnet8 student on "
                  "100 images/class";
  q.teacher.kind = "teacher";
  q.teacher.method = "ce";
  q.teacher.student = "resnet20";
  q.teacher.name = "quick-teacher-resnet20";
  q.teacher.data.kind = "fashion-mnist";
  q.teacher.data.perClass = 1000;
  q.teacher.optim.epochs = 6;
  q.teacher.optim.lr = 0.1;
  q.teacher.optim.schedule = "cosine";
  q.teacher.optim.milestones = {};
  q.teacher.snapshotEvery = 0;
  q.student = q.teacher;
  q.student.kind = "student";
  q.student.method = "reviewkd";
  q.student.student = "resnet8";
  q.student.teacher.arch = "resnet20";
  q.student.name = "quick-resnet20-resnet8";
  q.student.data.perClass = 100;
  q.student.optim.epochs = 15;
  q.student.optim.batchSize = 64;
  q.student.review.weight = 1.0;
  q.student.review.warmupEpochs = 3;
  q.student.snapshotEvery = 20;
  out.push_back(q);
  return out;
}

}  // namespace

void RunConfig::validate() const {
  require(oneOf(kind, {"teacher", "student"}), "kind", "'" + kind + "'", "teacher, student");
  if (kind == "teacher")
    require(method == "ce", "method", "'" + method + "'", "ce (a teacher trains with cross-entropy)");
  else
    require(oneOf(method, {"reviewkd", "kd", "student-alone"}), "method", "'" + method + "'",
            "reviewkd, kd, student-alone");
  require(!student.empty(), "student", "\"\"", "a zoo network name (reviewkd models lists them)");
  if (kind == "student" && method != "student-alone") {
    require(!teacher.arch.empty() || teacher.run > 0, "teacher.arch", "\"\"",
            "a zoo network name (it may stay empty when teacher.run names a teacher run)");
    require(oneOf(teacher.mode, {"eval", "batch-stats"}), "teacher.mode", "'" + teacher.mode + "'",
            "eval, batch-stats");
  }
  require(oneOf(data.kind, {"fashion-mnist", "mnist", "cifar10", "cifar100", "folder"}), "data.kind",
          "'" + data.kind + "'", "fashion-mnist, mnist, cifar10, cifar100, folder");
  require(data.kind != "folder" || !data.path.empty(), "data.path", "\"\"", "the image folder (one subfolder per class)");
  require(data.perClass >= 0, "data.per_class", valueText(data.perClass), "0 (all) or a positive count");
  require(data.testPerClass >= 0, "data.test_per_class", valueText(data.testPerClass), "0 (all) or a positive count");
  require(data.validation >= 0, "data.validation", valueText(data.validation), "0 or a positive count");
  require(data.padTo == 0 || (data.padTo >= 28 && data.padTo <= 512), "data.pad_to", valueText(data.padTo),
          "0 or 28..512");
  require(data.imageSize == 0 || (data.imageSize >= 28 && data.imageSize <= 512), "data.image_size",
          valueText(data.imageSize), "0 or 28..512");
  require(data.mean.size() == data.std.size(), "data.std", valueText(data.std.size()) + " values",
          "as many values as data.mean (" + valueText(data.mean.size()) + ")");
  for (double s : data.std) require(s > 0, "data.std", valueText(s), "positive numbers");
  require(oneOf(data.flip, {"auto", "on", "off"}), "data.flip", "'" + data.flip + "'", "auto, on, off");
  require(data.cropPadding >= -1 && data.cropPadding <= 16, "data.crop_padding", valueText(data.cropPadding),
          "-1 (auto: 4), 0 (off) .. 16");
  require(oneOf(data.channels, {"auto", "1", "3"}), "data.channels", "'" + data.channels + "'", "auto, 1, 3");
  require(review.weight >= 0, "review.weight", valueText(review.weight), "a number >= 0");
  require(review.warmupEpochs >= 0, "review.warmup_epochs", valueText(review.warmupEpochs), "an integer >= 0");
  for (int64_t p : review.pyramid) require(p >= 1, "review.pyramid", valueText(p), "sizes >= 1, e.g. [4, 2, 1]");
  if (method == "reviewkd") {
    require(!(review.abf && !review.residual), "review.abf", "true with review.residual false",
            "ABF fuses each level with the residual from the deeper level, so it needs review.residual true; "
            "set review.abf false");
    require(!(review.residual && !review.review), "review.residual", "true with review.review false",
            "the residual path is how the review is carried out; with review off set residual and abf false");
  }
  require(ceWeight >= 0, "ce_weight", valueText(ceWeight), "a number >= 0");
  require(kdWeight >= 0, "kd_weight", valueText(kdWeight), "a number >= 0");
  require(method != "kd" || kdWeight > 0, "kd_weight", valueText(kdWeight), "> 0 for method kd (0.9 is usual)");
  require(kdTemperature > 0, "kd_temperature", valueText(kdTemperature), "a number > 0 (4 in the paper)");
  require(optim.epochs >= 1 && optim.epochs <= 100000, "optim.epochs", valueText(optim.epochs), "1..100000");
  require(optim.batchSize >= 1 && optim.batchSize <= 65536, "optim.batch_size", valueText(optim.batchSize),
          "1..65536");
  require(optim.lr > 0 && optim.lr <= 1e6, "optim.lr", valueText(optim.lr), "a number in (0, 1e6]");
  require(optim.momentum >= 0 && optim.momentum < 1, "optim.momentum", valueText(optim.momentum), "[0, 1)");
  require(!optim.nesterov || optim.momentum > 0, "optim.nesterov", "true with momentum 0",
          "Nesterov needs momentum > 0");
  require(optim.weightDecay >= 0, "optim.weight_decay", valueText(optim.weightDecay), "a number >= 0");
  require(oneOf(optim.schedule, {"multistep", "cosine"}), "optim.schedule", "'" + optim.schedule + "'",
          "multistep, cosine");
  for (size_t i = 0; i < optim.milestones.size(); ++i)
    require(optim.milestones[i] > 0 && (i == 0 || optim.milestones[i] > optim.milestones[i - 1]), "optim.milestones",
            valueText(optim.milestones[i]), "increasing positive epochs, e.g. [150, 180, 210]");
  require(optim.gamma > 0 && optim.gamma <= 1, "optim.gamma", valueText(optim.gamma), "(0, 1]");
  require(device == "auto" || device == "cpu" || device.rfind("cuda", 0) == 0, "device", "'" + device + "'",
          "auto, cpu, cuda, cuda:N");
  require(seed >= 0, "seed", valueText(seed), "an integer >= 0");
  require(threads >= 0 && threads <= 1024, "threads", valueText(threads), "0 (all cores) .. 1024");
  require(snapshotEvery >= 0, "snapshot_every", valueText(snapshotEvery), "0 (off) or a step count");
  require(oneOf(channelsLast, {"auto", "on", "off"}), "channels_last", "'" + channelsLast + "'", "auto, on, off");
}

std::string RunConfig::summary() const {
  std::string s = kind == "teacher" ? student + " teacher" : (method == "student-alone" ? student + " alone"
                                                                                       : teacher.arch + " -> " + student);
  if (kind == "student") {
    s += " " + method;
    if (method == "reviewkd") {
      s += " [";
      s += review.review ? "review" : "same-level";
      if (review.residual) s += " residual";
      if (review.abf) s += " abf";
      s += review.hcl ? " hcl" : " mse";
      s += "] w=" + valueText(review.weight);
    }
    if (kdWeight > 0) s += " kd=" + valueText(kdWeight);
  }
  return s;
}

nlohmann::json toJson(const RunConfig& c) {
  json j;
  j["name"] = c.name;
  j["kind"] = c.kind;
  j["method"] = c.method;
  j["student"] = c.student;
  j["teacher"] = {{"arch", c.teacher.arch}, {"run", c.teacher.run}, {"checkpoint", c.teacher.checkpoint},
                  {"mode", c.teacher.mode}};
  j["data"] = {{"kind", c.data.kind},         {"path", c.data.path},
               {"per_class", c.data.perClass}, {"test_per_class", c.data.testPerClass},
               {"validation", c.data.validation}, {"pad_to", c.data.padTo},
               {"image_size", c.data.imageSize}, {"mean", c.data.mean},
               {"std", c.data.std},             {"flip", c.data.flip},
               {"crop_padding", c.data.cropPadding}, {"channels", c.data.channels}};
  j["review"] = {{"review", c.review.review}, {"residual", c.review.residual}, {"abf", c.review.abf},
                 {"hcl", c.review.hcl},       {"pyramid", c.review.pyramid}, {"weight", c.review.weight},
                 {"warmup_epochs", c.review.warmupEpochs}};
  j["ce_weight"] = c.ceWeight;
  j["kd_weight"] = c.kdWeight;
  j["kd_temperature"] = c.kdTemperature;
  j["optim"] = {{"epochs", c.optim.epochs},     {"batch_size", c.optim.batchSize},
                {"lr", c.optim.lr},             {"momentum", c.optim.momentum},
                {"nesterov", c.optim.nesterov}, {"weight_decay", c.optim.weightDecay},
                {"schedule", c.optim.schedule}, {"milestones", c.optim.milestones},
                {"gamma", c.optim.gamma}};
  j["device"] = c.device;
  j["seed"] = c.seed;
  j["threads"] = c.threads;
  j["snapshot_every"] = c.snapshotEvery;
  j["channels_last"] = c.channelsLast;
  return j;
}

RunConfig runConfigFromJson(const nlohmann::json& j, const std::string& source) {
  RunConfig c;
  ObjectReader top(j, "", source);
  top.get("name", c.name);
  top.get("kind", c.kind);
  top.get("method", c.method);
  top.get("student", c.student);
  if (c.kind == "teacher" && j.find("method") == j.end()) c.method = "ce";
  if (const json* t = top.child("teacher")) {
    ObjectReader r(*t, "teacher", source);
    r.get("arch", c.teacher.arch);
    r.get("run", c.teacher.run);
    r.get("checkpoint", c.teacher.checkpoint);
    r.get("mode", c.teacher.mode);
    r.finish();
  }
  if (const json* dj = top.child("data")) {
    // "channels": 1 and "channels": "1" mean the same.
    json dataCopy = *dj;
    if (dataCopy.is_object() && dataCopy.contains("channels") && dataCopy["channels"].is_number_integer())
      dataCopy["channels"] = std::to_string(dataCopy["channels"].get<int64_t>());
    const json* d = &dataCopy;
    ObjectReader r(*d, "data", source);
    r.get("kind", c.data.kind);
    r.get("path", c.data.path);
    r.get("per_class", c.data.perClass);
    r.get("test_per_class", c.data.testPerClass);
    r.get("validation", c.data.validation);
    r.get("pad_to", c.data.padTo);
    r.get("image_size", c.data.imageSize);
    r.get("mean", c.data.mean);
    r.get("std", c.data.std);
    r.get("flip", c.data.flip);
    r.get("crop_padding", c.data.cropPadding);
    r.get("channels", c.data.channels);
    r.finish();
  }
  if (const json* rv = top.child("review")) {
    ObjectReader r(*rv, "review", source);
    r.get("review", c.review.review);
    r.get("residual", c.review.residual);
    r.get("abf", c.review.abf);
    r.get("hcl", c.review.hcl);
    r.get("pyramid", c.review.pyramid);
    r.get("weight", c.review.weight);
    r.get("warmup_epochs", c.review.warmupEpochs);
    r.finish();
  }
  top.get("ce_weight", c.ceWeight);
  top.get("kd_weight", c.kdWeight);
  top.get("kd_temperature", c.kdTemperature);
  if (const json* o = top.child("optim")) {
    ObjectReader r(*o, "optim", source);
    r.get("epochs", c.optim.epochs);
    r.get("batch_size", c.optim.batchSize);
    r.get("lr", c.optim.lr);
    r.get("momentum", c.optim.momentum);
    r.get("nesterov", c.optim.nesterov);
    r.get("weight_decay", c.optim.weightDecay);
    r.get("schedule", c.optim.schedule);
    r.get("milestones", c.optim.milestones);
    r.get("gamma", c.optim.gamma);
    r.finish();
  }
  top.get("device", c.device);
  top.get("seed", c.seed);
  top.get("threads", c.threads);
  top.get("snapshot_every", c.snapshotEvery);
  top.get("channels_last", c.channelsLast);
  top.finish();
  try {
    c.validate();
  } catch (const InputError& e) {
    throw InputError(source + ": " + e.what(), e.fix());
  }
  return c;
}

RunConfig loadRunConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open config file '" + path + "'", "check the path");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError("config file '" + path + "' is not valid JSON: " + e.what(),
                     "fix the syntax at the byte position given");
  }
  return runConfigFromJson(j, path);
}

RunConfig applyOverrides(const RunConfig& config, const std::vector<std::string>& overrides) {
  json j = toJson(config);
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("override '" + o + "' is not of the form key=value", "e.g. --set optim.epochs=5");
    const std::string key = o.substr(0, eq);
    const std::string text = o.substr(eq + 1);
    json value;
    try {
      value = json::parse(text);
    } catch (const json::parse_error&) {
      value = text;
    }
    json* node = &j;
    std::string walked;
    std::istringstream parts(key);
    std::string part;
    std::vector<std::string> path;
    while (std::getline(parts, part, '.')) path.push_back(part);
    for (size_t i = 0; i < path.size(); ++i) {
      if (!node->is_object() || !node->contains(path[i])) {
        std::vector<std::string> keys;
        if (node->is_object())
          for (auto it = node->begin(); it != node->end(); ++it) keys.push_back(it.key());
        throw InputError("override '" + o + "': unknown key '" + (walked.empty() ? "" : walked + ".") + path[i] + "'",
                         keys.empty() ? "'" + walked + "' has no sub-keys" : "known keys there: " + joinNames(keys));
      }
      walked += (walked.empty() ? "" : ".") + path[i];
      node = &(*node)[path[i]];
    }
    // "7" for a string field stays a string; a number typed for a float field is fine.
    if (node->is_string() && !value.is_string()) value = text;
    *node = value;
  }
  return runConfigFromJson(j, "--set");
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = makePresets();
  return all;
}

const Preset& findPreset(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& p : presets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  throw InputError("unknown preset '" + name + "'", "use one of: " + joinNames(names));
}

std::optional<PublishedNumbers> publishedNumbers(const std::string& teacher, const std::string& student) {
  struct Row {
    const char* t;
    const char* s;
    PublishedNumbers n;
  };
  static const std::vector<Row> rows = {
      {"resnet56", "resnet20", {72.34, 69.06, 70.66, 71.16, 71.89, {}}},
      {"resnet110", "resnet32", {74.31, 71.14, 73.08, 73.48, 73.89, {}}},
      {"resnet32x4", "resnet8x4", {79.42, 72.50, 73.33, 75.51, 75.63, {}}},
      {"wrn-40-2", "wrn-16-2", {75.61, 73.26, 74.92, 75.48, 76.12, {}}},
      {"wrn-40-2", "wrn-40-1", {75.61, 71.98, 73.54, 74.14, 75.09, {}}},
      {"vgg13", "vgg8", {74.64, 70.36, 72.98, 73.94, 74.84, {}}},
      {"resnet32x4", "shufflev1", {79.42, 70.50, 74.07, 75.11, 77.45, {}}},
      {"resnet32x4", "shufflev2", {79.42, 71.82, 74.45, 75.65, 77.78, {}}},
      {"wrn-40-2", "shufflev1", {75.61, 70.50, 74.83, 76.05, 77.14, {}}},
      {"vgg13", "mobilenetv2", {74.64, 64.60, 67.37, 69.73, 70.37, {}}},
      {"resnet50", "mobilenetv2", {79.34, 64.60, 67.35, 69.11, 69.89, {}}},
  };
  for (const auto& r : rows) {
    if (teacher == r.t && student == r.s) {
      PublishedNumbers n = r.n;
      if (teacher == "resnet56" && student == "resnet20")
        n.ablation = {{{false, false, false, false}, 69.50}, {{true, false, false, false}, 69.53},
                      {{true, true, false, false}, 69.92},   {{true, true, true, false}, 71.28},
                      {{true, true, false, true}, 71.51},    {{true, true, true, true}, 71.89}};
      return n;
    }
  }
  return std::nullopt;
}

double referenceReviewWeight(const std::string& teacher, const std::string& student) {
  static const std::vector<std::tuple<const char*, const char*, double>> weights = {
      {"wrn-40-2", "wrn-16-2", 5.0},   {"wrn-40-2", "wrn-40-1", 5.0},   {"wrn-40-2", "shufflev1", 5.0},
      {"resnet32x4", "resnet8x4", 5.0}, {"resnet32x4", "shufflev1", 5.0}, {"resnet32x4", "shufflev2", 8.0},
      {"resnet56", "resnet20", 0.6},   {"resnet110", "resnet32", 1.0}};
  for (const auto& [t, s, w] : weights)
    if (teacher == t && student == s) return w;
  return 5.0;
}

std::vector<std::pair<std::string, RunConfig>> ablationGrid(const RunConfig& reviewStudent) {
  std::vector<std::pair<std::string, RunConfig>> rows;
  RunConfig alone = reviewStudent;
  alone.method = "student-alone";
  alone.kdWeight = 0;
  alone.name = reviewStudent.name + "-alone";
  rows.emplace_back("student alone", alone);
  RunConfig kd = reviewStudent;
  kd.method = "kd";
  kd.kdWeight = 0.9;
  kd.ceWeight = 0.1;
  kd.name = reviewStudent.name + "-kd";
  rows.emplace_back("Hinton KD", kd);
  struct Switches {
    bool review, residual, abf, hcl;
    const char* label;
  };
  const Switches grid[] = {{false, false, false, false, "same-level only"},
                           {true, false, false, false, "review"},
                           {true, true, false, false, "review + residual"},
                           {true, true, true, false, "review + residual + ABF"},
                           {true, true, false, true, "review + residual + HCL"},
                           {true, true, true, true, "full ReviewKD"}};
  for (const auto& g : grid) {
    RunConfig c = reviewStudent;
    c.method = "reviewkd";
    c.kdWeight = 0;
    c.review.review = g.review;
    c.review.residual = g.residual;
    c.review.abf = g.abf;
    c.review.hcl = g.hcl;
    c.name = reviewStudent.name + "-" + std::string(g.review ? "R" : "r") + (g.residual ? "S" : "s") +
             (g.abf ? "A" : "a") + (g.hcl ? "H" : "h");
    rows.emplace_back(g.label, c);
  }
  return rows;
}

}  // namespace rkd
