// The field table of RunConfig: one table per struct names every JSON key once, and the writer, the strict
// reader, `--set`, configKeys() and the validation messages all walk it. A new field is one table row (and,
// when it has rules, a line in validate()).
#include <algorithm>
#include <set>
#include <limits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/vocabulary/config_text.h"
#include "core/vocabulary/run_config.h"

namespace rkd {
namespace {

using detail::joinNames;
using detail::valueText;

using nlohmann::json;

/// A pointer to one member of S that has a JSON key; the member's C++ type decides its JSON type. The section
/// alternatives (a nested struct) only occur in RunConfig's own table.
template <typename S>
using Member = std::variant<bool S::*, int64_t S::*, double S::*, std::string S::*, std::vector<int64_t> S::*,
                            std::vector<double> S::*, TeacherSource S::*, DataConfig S::*, ReviewConfig S::*,
                            OptimConfig S::*>;

/// One row of a table.
template <typename S>
struct Field {
  const char* key;
  Member<S> member;
  /// A valid value other than the default, as typed after --set (tests set every field to it at once, so the
  /// examples together must pass validate()). Empty for sections.
  const char* example = "";
  /// A string field that also takes a JSON integer ("channels": 3 means "3").
  bool integerAsText = false;
};

template <typename S>
const std::vector<Field<S>>& fieldsOf();

// The tables, in the order of the structs; messages list known fields in this order.

template <>
const std::vector<Field<TeacherSource>>& fieldsOf() {
  static const std::vector<Field<TeacherSource>> fields = {
      {"arch", &TeacherSource::arch, "resnet56"},
      {"run", &TeacherSource::run, "3"},
      {"checkpoint", &TeacherSource::checkpoint, "teacher.pt"},
      {"mode", &TeacherSource::mode, "batch-stats"},
  };
  return fields;
}

template <>
const std::vector<Field<DataConfig>>& fieldsOf() {
  static const std::vector<Field<DataConfig>> fields = {
      {"kind", &DataConfig::kind, "cifar10"},
      {"path", &DataConfig::path, "/data/cifar-10"},
      {"per_class", &DataConfig::perClass, "100"},
      {"test_per_class", &DataConfig::testPerClass, "50"},
      {"subset", &DataConfig::subset, "first"},
      {"subset_seed", &DataConfig::subsetSeed, "3"},
      {"validation", &DataConfig::validation, "500"},
      {"pad_to", &DataConfig::padTo, "32"},
      {"image_size", &DataConfig::imageSize, "64"},
      {"mean", &DataConfig::mean, "[0.5,0.5,0.5]"},
      {"std", &DataConfig::std, "[0.25,0.25,0.25]"},
      {"flip", &DataConfig::flip, "off"},
      {"crop_padding", &DataConfig::cropPadding, "0"},
      {"channels", &DataConfig::channels, "3", true},
  };
  return fields;
}

template <>
const std::vector<Field<ReviewConfig>>& fieldsOf() {
  static const std::vector<Field<ReviewConfig>> fields = {
      {"review", &ReviewConfig::review, "false"},
      {"residual", &ReviewConfig::residual, "false"},
      {"abf", &ReviewConfig::abf, "false"},
      {"hcl", &ReviewConfig::hcl, "false"},
      {"pyramid", &ReviewConfig::pyramid, "[2,1]"},
      {"weight", &ReviewConfig::weight, "0.6"},
      {"warmup_epochs", &ReviewConfig::warmupEpochs, "5"},
  };
  return fields;
}

template <>
const std::vector<Field<OptimConfig>>& fieldsOf() {
  static const std::vector<Field<OptimConfig>> fields = {
      {"epochs", &OptimConfig::epochs, "5"},
      {"batch_size", &OptimConfig::batchSize, "64"},
      {"lr", &OptimConfig::lr, "0.05"},
      {"momentum", &OptimConfig::momentum, "0.8"},
      {"nesterov", &OptimConfig::nesterov, "false"},
      {"weight_decay", &OptimConfig::weightDecay, "0.0001"},
      {"schedule", &OptimConfig::schedule, "cosine"},
      {"milestones", &OptimConfig::milestones, "[2,4]"},
      {"gamma", &OptimConfig::gamma, "0.2"},
  };
  return fields;
}

template <>
const std::vector<Field<RunConfig>>& fieldsOf() {
  static const std::vector<Field<RunConfig>> fields = {
      {"name", &RunConfig::name, "my-run"},
      {"kind", &RunConfig::kind, "teacher"},
      {"method", &RunConfig::method, "ce"},
      {"student", &RunConfig::student, "resnet8"},
      {"teacher", &RunConfig::teacher},
      {"data", &RunConfig::data},
      {"review", &RunConfig::review},
      {"ce_weight", &RunConfig::ceWeight, "0.5"},
      {"kd_weight", &RunConfig::kdWeight, "0.9"},
      {"kd_temperature", &RunConfig::kdTemperature, "2.5"},
      {"optim", &RunConfig::optim},
      {"device", &RunConfig::device, "cpu"},
      {"seed", &RunConfig::seed, "7"},
      {"threads", &RunConfig::threads, "2"},
      {"snapshot_every", &RunConfig::snapshotEvery, "10"},
      {"channels_last", &RunConfig::channelsLast, "on"},
      {"sync_bn", &RunConfig::syncBatchNorm, "true"},
  };
  return fields;
}

// ---- Walking the tables

template <typename M>
struct MemberTraits;
template <typename S, typename T>
struct MemberTraits<T S::*> {
  using type = T;
};
template <typename M>
using MemberType = typename MemberTraits<M>::type;

template <typename T>
constexpr bool isLeaf = std::is_same_v<T, bool> || std::is_same_v<T, int64_t> || std::is_same_v<T, double> ||
                        std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<int64_t>> ||
                        std::is_same_v<T, std::vector<double>>;

/// What the reader accepts, in the words the messages use.
template <typename T>
const char* expectedText() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, int64_t>) return "an integer";
  else if constexpr (std::is_same_v<T, double>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "a list of integers";
  else if constexpr (std::is_same_v<T, std::vector<double>>) return "a list of numbers";
  else return "an object";
}

std::string dotted(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

template <typename S>
const Field<S>* findField(const std::string& key) {
  for (const auto& f : fieldsOf<S>())
    if (key == f.key) return &f;
  return nullptr;
}

template <typename S>
std::vector<std::string> keysOf() {
  std::vector<std::string> keys;
  for (const auto& f : fieldsOf<S>()) keys.push_back(f.key);
  return keys;
}

/// The key of S's section in RunConfig ("optim"), empty for RunConfig itself.
template <typename S>
std::string sectionKey() {
  if constexpr (!std::is_same_v<S, RunConfig>) {
    for (const auto& f : fieldsOf<RunConfig>())
      if (std::holds_alternative<S RunConfig::*>(f.member)) return f.key;
    throw std::logic_error("run config section without a table entry");
  }
  return {};
}

/// The dotted path the table gives a member: pathOf(&OptimConfig::lr) == "optim.lr".
template <typename S, typename T>
std::string pathOf(T S::*member) {
  for (const auto& f : fieldsOf<S>())
    if (const auto* m = std::get_if<T S::*>(&f.member); m && *m == member) return dotted(sectionKey<S>(), f.key);
  throw std::logic_error("run config member without a table entry");
}

template <typename S>
json writeObject(const S& s) {
  json j = json::object();
  for (const auto& f : fieldsOf<S>())
    std::visit(
        [&](auto member) {
          using T = MemberType<decltype(member)>;
          if constexpr (isLeaf<T>)
            j[f.key] = s.*member;
          else
            j[f.key] = writeObject(s.*member);
        },
        f.member);
  return j;
}

/// A JSON number as a whole number: an integer in int64's range, or a float with no fraction in that range.
/// Anything else (1.9, 1e30, 2^64) is refused with the field's path, never truncated or wrapped.
int64_t wholeNumber(const json& v, const std::string& at, const std::string& source) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw InputError(source + ": field '" + at + "' is " + std::to_string(u) + ", too large",
                       "give a whole number up to " + std::to_string(std::numeric_limits<int64_t>::max()));
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) != d || !(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18))
      throw InputError(source + ": field '" + at + "' must be a whole number, found " + v.dump(),
                       std::floor(d) != d ? "round it: a fraction is not truncated silently"
                                          : "give a whole number within 64-bit range");
    return static_cast<int64_t>(d);
  }
  throw InputError(source + ": field '" + at + "' has the wrong type (" + v.type_name() + ")",
                   std::string("expected ") + expectedText<int64_t>());
}

/// Reads one JSON object strictly into `out`: every key must be in S's table and have its type; errors name the
/// dotted path. Missing and null fields keep the value `out` has.
template <typename S>
void readObject(const json& j, const std::string& path, const std::string& source, S& out) {
  if (!j.is_object())
    throw InputError(source + ": '" + (path.empty() ? std::string("(top level)") : path) +
                         "' must be a JSON object, found " + j.type_name(),
                     "see README.md, section 'Run configuration'");
  for (const auto& f : fieldsOf<S>()) {
    auto it = j.find(f.key);
    if (it == j.end() || it->is_null()) continue;
    const std::string at = dotted(path, f.key);
    std::visit(
        [&](auto member) {
          using T = MemberType<decltype(member)>;
          T& value = out.*member;
          if constexpr (!isLeaf<T>) {
            readObject(*it, at, source, value);
          } else {
            if constexpr (std::is_same_v<T, std::string>) {
              if (f.integerAsText && it->is_number_integer()) {
                value = std::to_string(it->template get<int64_t>());
                return;
              }
            }
            if constexpr (std::is_same_v<T, int64_t>) {
              value = wholeNumber(*it, at, source);
              return;
            } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
              if (it->is_array()) {
                std::vector<int64_t> list;
                for (size_t k = 0; k < it->size(); ++k)
                  list.push_back(wholeNumber((*it)[k], at + "[" + std::to_string(k) + "]", source));
                value = list;
                return;
              }
            }
            try {
              value = it->template get<T>();
            } catch (const json::exception&) {
              throw InputError(source + ": field '" + at + "' has the wrong type (" + it->type_name() + ")",
                               std::string("expected ") + expectedText<T>());
            }
          }
        },
        f.member);
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!findField<S>(it.key()))
      throw InputError(source + ": unknown field '" + dotted(path, it.key()) + "'",
                       "known fields here: " + joinNames(keysOf<S>()));
}

/// Checks a dotted --set key against the tables, level by level; true when it names a string field (whose
/// value then stays text). Unknown keys are refused with the keys of their level.
template <typename S>
bool namesStringField(const std::string& setting, const std::vector<std::string>& parts, size_t i,
                      const std::string& walked) {
  const std::string at = dotted(walked, parts[i]);
  const Field<S>* f = findField<S>(parts[i]);
  if (!f) {
    // Sorted, as the JSON lists them.
    std::vector<std::string> keys = keysOf<S>();
    std::sort(keys.begin(), keys.end());
    throw InputError("override '" + setting + "': unknown key '" + at + "'", "known keys there: " + joinNames(keys));
  }
  return std::visit(
      [&](auto member) {
        using T = MemberType<decltype(member)>;
        if constexpr (isLeaf<T>) {
          if (i + 1 < parts.size())
            throw InputError("override '" + setting + "': unknown key '" + dotted(at, parts[i + 1]) + "'",
                             "'" + at + "' has no sub-keys");
          return std::is_same_v<T, std::string>;
        } else {
          return i + 1 < parts.size() && namesStringField<T>(setting, parts, i + 1, at);
        }
      },
      f->member);
}

template <typename S>
void listKeys(const std::string& path, std::vector<ConfigKey>& out) {
  for (const auto& f : fieldsOf<S>())
    std::visit(
        [&](auto member) {
          using T = MemberType<decltype(member)>;
          const std::string at = dotted(path, f.key);
          out.push_back({at, expectedText<T>(), f.example, !isLeaf<T>});
          if constexpr (!isLeaf<T>) listKeys<T>(at, out);
        },
        f.member);
}

void require(bool ok, const std::string& field, const std::string& value, const std::string& allowed) {
  if (!ok) throw InputError("config field '" + field + "' has value " + value, "allowed: " + allowed);
}

bool oneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

}  // namespace

void RunConfig::validate() const {
  using T = TeacherSource;
  using D = DataConfig;
  using R = ReviewConfig;
  using O = OptimConfig;
  using C = RunConfig;
  // Sizes first: a message below quotes the value, and a value of megabytes is no message.
  const auto bounded = [](const std::string& value, size_t most, const std::string& field, const char* why) {
    if (value.size() > most)
      throw InputError("config field '" + field + "' is " + std::to_string(value.size()) + " bytes long, over the " +
                           std::to_string(most) + " allowed (" + why + ")",
                       "shorten it");
  };
  bounded(name, limits::kNameBytes, pathOf(&C::name), "a name is one line of the history");
  bounded(data.path, limits::kPathBytes, pathOf(&D::path), "Linux's longest path");
  bounded(teacher.checkpoint, limits::kPathBytes, pathOf(&T::checkpoint), "Linux's longest path");
  for (const auto& [value, field] : {std::pair{&kind, pathOf(&C::kind)}, {&method, pathOf(&C::method)},
                                     {&student, pathOf(&C::student)}, {&teacher.arch, pathOf(&T::arch)},
                                     {&teacher.mode, pathOf(&T::mode)}, {&data.kind, pathOf(&D::kind)},
                                     {&data.flip, pathOf(&D::flip)}, {&data.channels, pathOf(&D::channels)},
                                     {&data.subset, pathOf(&D::subset)},
                                     {&optim.schedule, pathOf(&O::schedule)}, {&device, pathOf(&C::device)},
                                     {&channelsLast, pathOf(&C::channelsLast)}})
    bounded(*value, limits::kWordBytes, field, "every allowed value is shorter");
  const auto counted = [](size_t count, size_t most, const std::string& field, const char* why) {
    if (count > most)
      throw InputError("config field '" + field + "' has " + std::to_string(count) + " values, over the " +
                           std::to_string(most) + " allowed (" + why + ")",
                       "give at most " + std::to_string(most));
  };
  counted(optim.milestones.size(), limits::kMilestones, pathOf(&O::milestones), "a step schedule drops the rate a few times");
  counted(data.mean.size(), limits::kChannelValues, pathOf(&D::mean), "one value per input channel");
  counted(data.std.size(), limits::kChannelValues, pathOf(&D::std), "one value per input channel");
  counted(review.pyramid.size(), limits::kPyramidLevels, pathOf(&R::pyramid), "HCL pools a level a few times");
  require(oneOf(kind, {"teacher", "student"}), pathOf(&C::kind), "'" + kind + "'", "teacher, student");
  if (kind == "teacher")
    require(method == "ce", pathOf(&C::method), "'" + method + "'", "ce (a teacher trains with cross-entropy)");
  else
    require(oneOf(method, {"reviewkd", "kd", "student-alone"}), pathOf(&C::method), "'" + method + "'",
            "reviewkd, kd, student-alone");
  require(!student.empty(), pathOf(&C::student), "\"\"", "a zoo network name (reviewkd models lists them)");
  if (kind == "student" && method != "student-alone") {
    require(!teacher.arch.empty() || teacher.run > 0, pathOf(&T::arch), "\"\"",
            "a zoo network name (it may stay empty when " + pathOf(&T::run) + " names a teacher run)");
    require(oneOf(teacher.mode, {"eval", "batch-stats"}), pathOf(&T::mode), "'" + teacher.mode + "'",
            "eval, batch-stats");
  }
  require(oneOf(data.kind, {"fashion-mnist", "mnist", "cifar10", "cifar100", "folder"}), pathOf(&D::kind),
          "'" + data.kind + "'", "fashion-mnist, mnist, cifar10, cifar100, folder");
  require(data.kind != "folder" || !data.path.empty(), pathOf(&D::path), "\"\"",
          "the image folder (one subfolder per class)");
  require(data.perClass >= 0, pathOf(&D::perClass), valueText(data.perClass), "0 (all) or a positive count");
  require(data.testPerClass >= 0, pathOf(&D::testPerClass), valueText(data.testPerClass),
          "0 (all) or a positive count");
  require(data.validation >= 0, pathOf(&D::validation), valueText(data.validation), "0 or a positive count");
  require(oneOf(data.subset, {"random", "first"}), pathOf(&D::subset), "'" + data.subset + "'",
          "random (stratified, seeded), first (the first N of each class in file order)");
  require(data.subsetSeed >= -1, pathOf(&D::subsetSeed), valueText(data.subsetSeed),
          "-1 (the run's seed) or a seed >= 0");
  require(data.padTo == 0 || (data.padTo >= 28 && data.padTo <= 512), pathOf(&D::padTo), valueText(data.padTo),
          "0 or 28..512");
  require(data.imageSize == 0 || (data.imageSize >= 28 && data.imageSize <= 512), pathOf(&D::imageSize),
          valueText(data.imageSize), "0 or 28..512");
  require(data.mean.size() == data.std.size(), pathOf(&D::std), valueText(data.std.size()) + " values",
          "as many values as " + pathOf(&D::mean) + " (" + valueText(data.mean.size()) + ")");
  for (double s : data.std) require(s > 0, pathOf(&D::std), valueText(s), "positive numbers");
  require(oneOf(data.flip, {"auto", "on", "off"}), pathOf(&D::flip), "'" + data.flip + "'", "auto, on, off");
  require(data.cropPadding >= -1 && data.cropPadding <= 16, pathOf(&D::cropPadding), valueText(data.cropPadding),
          "-1 (auto: 4), 0 (off) .. 16");
  require(oneOf(data.channels, {"auto", "1", "3"}), pathOf(&D::channels), "'" + data.channels + "'", "auto, 1, 3");
  require(review.weight >= 0, pathOf(&R::weight), valueText(review.weight), "a number >= 0");
  require(review.warmupEpochs >= 0, pathOf(&R::warmupEpochs), valueText(review.warmupEpochs), "an integer >= 0");
  for (int64_t p : review.pyramid)
    require(p >= 1, pathOf(&R::pyramid), valueText(p), "sizes >= 1, e.g. [4, 2, 1]");
  if (method == "reviewkd") {
    require(!(review.abf && !review.residual), pathOf(&R::abf), "true with " + pathOf(&R::residual) + " false",
            "ABF fuses each level with the residual from the deeper level, so it needs " + pathOf(&R::residual) +
                " true; set " + pathOf(&R::abf) + " false");
    require(!(review.residual && !review.review), pathOf(&R::residual), "true with " + pathOf(&R::review) + " false",
            "the residual path is how the review is carried out; with review off set residual and abf false");
  }
  require(ceWeight >= 0, pathOf(&C::ceWeight), valueText(ceWeight), "a number >= 0");
  require(kdWeight >= 0, pathOf(&C::kdWeight), valueText(kdWeight), "a number >= 0");
  require(method != "kd" || kdWeight > 0, pathOf(&C::kdWeight), valueText(kdWeight),
          "> 0 for method kd (0.9 is usual)");
  require(kdTemperature > 0, pathOf(&C::kdTemperature), valueText(kdTemperature), "a number > 0 (4 in the paper)");
  require(optim.epochs >= 1 && optim.epochs <= 100000, pathOf(&O::epochs), valueText(optim.epochs), "1..100000");
  require(optim.batchSize >= 1 && optim.batchSize <= 65536, pathOf(&O::batchSize), valueText(optim.batchSize),
          "1..65536");
  require(optim.lr > 0 && optim.lr <= 1e6, pathOf(&O::lr), valueText(optim.lr), "a number in (0, 1e6]");
  require(optim.momentum >= 0 && optim.momentum < 1, pathOf(&O::momentum), valueText(optim.momentum), "[0, 1)");
  require(!optim.nesterov || optim.momentum > 0, pathOf(&O::nesterov), "true with momentum 0",
          "Nesterov needs momentum > 0");
  require(optim.weightDecay >= 0, pathOf(&O::weightDecay), valueText(optim.weightDecay), "a number >= 0");
  require(oneOf(optim.schedule, {"multistep", "cosine"}), pathOf(&O::schedule), "'" + optim.schedule + "'",
          "multistep, cosine");
  for (size_t i = 0; i < optim.milestones.size(); ++i)
    require(optim.milestones[i] > 0 && (i == 0 || optim.milestones[i] > optim.milestones[i - 1]),
            pathOf(&O::milestones), valueText(optim.milestones[i]), "increasing positive epochs, e.g. [150, 180, 210]");
  require(optim.gamma > 0 && optim.gamma <= 1, pathOf(&O::gamma), valueText(optim.gamma), "(0, 1]");
  require(device == "auto" || device == "cpu" || device.rfind("cuda", 0) == 0, pathOf(&C::device),
          "'" + device + "'", "auto, cpu, cuda, cuda:N");
  require(seed >= 0, pathOf(&C::seed), valueText(seed), "an integer >= 0");
  require(threads >= 0 && threads <= 1024, pathOf(&C::threads), valueText(threads), "0 (all cores) .. 1024");
  require(snapshotEvery >= 0, pathOf(&C::snapshotEvery), valueText(snapshotEvery), "0 (off) or a step count");
  require(oneOf(channelsLast, {"auto", "on", "off"}), pathOf(&C::channelsLast), "'" + channelsLast + "'",
          "auto, on, off");
}

nlohmann::json toJson(const RunConfig& config) { return writeObject(config); }

RunConfig runConfigFromJson(const nlohmann::json& j, const std::string& source) {
  RunConfig c;
  readObject(j, "", source, c);
  // A teacher file need not say the only method a teacher has.
  if (c.kind == "teacher" && j.find(pathOf(&RunConfig::method)) == j.end()) c.method = "ce";
  try {
    c.validate();
  } catch (const InputError& e) {
    throw InputError(source + ": " + e.what(), e.fix());
  }
  return c;
}

RunConfig loadRunConfig(const std::string& path) {
  requireRegularFile(path, "config file");  // a FIFO would block the open, a device never end
  std::error_code sizeError;
  const auto bytes = std::filesystem::file_size(path, sizeError);
  if (!sizeError && bytes > static_cast<uintmax_t>(limits::kConfigFileBytes))
    throw InputError("config file '" + path + "' is " + std::to_string(bytes) + " bytes, over the " +
                         std::to_string(limits::kConfigFileBytes) + " a config may have (a complete one is about 1.5 kB)",
                     "check that this is the config you meant; its lists (optim.milestones, ...) are bounded too");
  std::ifstream in(path);
  if (!in) throw InputError("cannot open config file '" + path + "'", "check the path");
  json j;
  // A key given twice in one object is refused (JSON leaves it open; nlohmann would keep the last silently).
  std::vector<std::set<std::string>> keysSeen;
  std::string duplicate;
  const json::parser_callback_t noteKeys = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keysSeen.emplace_back();
    else if (event == json::parse_event_t::object_end && !keysSeen.empty()) keysSeen.pop_back();
    else if (event == json::parse_event_t::key && !keysSeen.empty() && !keysSeen.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  try {
    j = json::parse(in, noteKeys);
  } catch (const json::parse_error& e) {
    throw InputError("config file '" + path + "' is not valid JSON: " + e.what(),
                     "fix the syntax at the byte position given");
  } catch (const json::exception& e) {
    // out_of_range.406: a number too large for a double (1e999).
    throw InputError("config file '" + path + "' holds a number out of range: " + e.what(),
                     "numbers must fit a 64-bit float");
  }
  if (!duplicate.empty())
    throw InputError("config file '" + path + "' gives the key '" + duplicate + "' twice in one object",
                     "keep one of them: the file would otherwise mean whichever a reader picks");
  return runConfigFromJson(j, path);
}

RunConfig applyOverrides(const RunConfig& config, const std::vector<std::string>& overrides) {
  // Overrides edit the JSON and it is read once at the end, so a key error is reported before any type error.
  json j = toJson(config);
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("override '" + o + "' is not of the form key=value", "e.g. --set optim.epochs=5");
    const std::string key = o.substr(0, eq);
    const std::string text = o.substr(eq + 1);
    std::vector<std::string> parts;
    std::istringstream split(key);
    for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
    const bool isString = namesStringField<RunConfig>(o, parts, 0, "");
    json value;
    try {
      value = json::parse(text);
    } catch (const json::parse_error&) {
      value = text;
    } catch (const json::exception&) {
      throw InputError("--set " + o + ": the number is out of range for '" + key + "'",
                       "numbers must fit a 64-bit float (about 1.8e308)");
    }
    // "7" for a string field stays a string; a number typed for a float field is fine.
    if (isString && !value.is_string()) value = text;
    // Text kept as typed must be UTF-8, as JSON is: the config is written as JSON text (the run store, the plan
    // a distributed run sends its workers), and nlohmann refuses to write other bytes (found by fuzz_config).
    if (value.is_string()) {
      try {
        (void)value.dump();
      } catch (const json::type_error&) {
        throw InputError("--set: the value of '" + key + "' is not valid UTF-8 text",
                         "type it in UTF-8 (check the terminal's character encoding)");
      }
    }
    json* node = &j;
    for (const auto& part : parts) {
      if (!node->is_object()) *node = json::object();  // an earlier override set this section to a non-object
      node = &(*node)[part];
    }
    *node = value;
  }
  return runConfigFromJson(j, "--set");
}

std::vector<ConfigKey> configKeys() {
  std::vector<ConfigKey> keys;
  listKeys<RunConfig>("", keys);
  return keys;
}

}  // namespace rkd
