// Run configuration: JSON round trip, strict reading, validation messages, overrides, presets, ablation grid.
#include <QtTest/QtTest>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "core/services/ablation_study.h"
#include "core/services/catalog.h"
#include "core/common/errors.h"
#include "core/vocabulary/run_config.h"
#include "test_support.h"

using namespace rkd;

namespace {
using nlohmann::json;

RunConfig validStudent() {
  RunConfig c = findPreset("quick").student;
  c.teacher.run = 1;
  return c;
}

json::json_pointer pointer(const std::string& dottedPath) {
  std::string p = "/" + dottedPath;
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

/// The level a key sits at ("optim" for "optim.lr", "" for "seed") and its own name.
std::pair<std::string, std::string> splitPath(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::make_pair(std::string(), path)
                                  : std::make_pair(path.substr(0, dot), path.substr(dot + 1));
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

/// The JSON value a key's example stands for: --set's rule (JSON when it parses, text otherwise; a string field
/// keeps the text).
json exampleValue(const ConfigKey& key) {
  json v = json::parse(key.example, nullptr, false);
  if (v.is_discarded() || (key.expected == "a string" && !v.is_string())) v = key.example;
  return v;
}

/// Every leaf of a JSON object as a dotted path.
void leafPaths(const json& j, const std::string& at, std::vector<std::string>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string p = at.empty() ? it.key() : at + "." + it.key();
    if (it->is_object())
      leafPaths(*it, p, out);
    else
      out.push_back(p);
  }
}

std::vector<ConfigKey> leafKeys() {
  std::vector<ConfigKey> leaves;
  for (const auto& k : configKeys())
    if (!k.section) leaves.push_back(k);
  return leaves;
}

/// Runs `f`, which must throw an InputError, and returns that error's what() and fix.
template <typename F>
std::pair<std::string, std::string> inputError(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return {e.what(), e.fix()};
  }
  return {"(no error)", ""};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

class TestConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void jsonRoundTrip() {
    RunConfig c = validStudent();
    c.review.pyramid = {2, 1};
    c.data.mean = {0.5};
    c.data.std = {0.25};
    RunConfig back = runConfigFromJson(toJson(c), "test");
    QCOMPARE(toJson(back).dump(), toJson(c).dump());
  }

  void validationNamesFieldAndAllowedValues_data() {
    QTest::addColumn<QString>("override");
    QTest::addColumn<QString>("expected");
    QTest::newRow("kind") << "kind=pupil" << "'kind' has value 'pupil'";
    QTest::newRow("method") << "method=crd" << "reviewkd, kd, student-alone";
    QTest::newRow("lr") << "optim.lr=-1" << "'optim.lr'";
    QTest::newRow("lr too large") << "optim.lr=1e7" << "(0, 1e6]";
    QTest::newRow("epochs") << "optim.epochs=0" << "'optim.epochs'";
    QTest::newRow("batch") << "optim.batch_size=0" << "'optim.batch_size'";
    QTest::newRow("schedule") << "optim.schedule=step" << "multistep, cosine";
    QTest::newRow("milestones") << "optim.milestones=[100,50]" << "increasing";
    QTest::newRow("abf without residual") << "review.residual=false" << "ABF fuses";
    QTest::newRow("dataset") << "data.kind=imagenet" << "fashion-mnist, mnist, cifar10, cifar100, folder";
    QTest::newRow("teacher mode") << "teacher.mode=train" << "eval, batch-stats";
    QTest::newRow("pyramid") << "review.pyramid=[4,0]" << "'review.pyramid'";
    QTest::newRow("device") << "device=tpu" << "auto, cpu, cuda, cuda:N";
    QTest::newRow("std count") << "data.mean=[0.5]" << "'data.std'";
    QTest::newRow("kd for kd") << "method=kd" << "'kd_weight'";
    QTest::newRow("unknown key") << "optim.learning_rate=0.1" << "unknown key 'optim.learning_rate'";
    QTest::newRow("wrong type") << "optim.epochs=\"ten\"" << "'optim.epochs' has the wrong type";
    QTest::newRow("not key=value") << "optim.epochs" << "key=value";
    QTest::newRow("channels") << "data.channels=2" << "auto, 1, 3";
    QTest::newRow("subset") << "data.subset=last" << "'data.subset' has value 'last'";
    QTest::newRow("subset allowed") << "data.subset=stratified" << "random (stratified, seeded), first";
    QTest::newRow("subset seed") << "data.subset_seed=-2" << "-1 (the run's seed) or a seed >= 0";
  }
  void validationNamesFieldAndAllowedValues() {
    QFETCH(QString, override);
    QFETCH(QString, expected);
    try {
      applyOverrides(validStudent(), {override.toStdString()});
      QFAIL("expected an InputError");
    } catch (const InputError& e) {
      const std::string all = e.full();
      QVERIFY2(all.find(expected.toStdString()) != std::string::npos, all.c_str());
    }
  }

  void strictFileReading() {
    const std::string dir = rkdtest::tempDir("config");
    {
      std::ofstream(dir + "/bad.json") << "{\"optim\": {\"epochs\": 5,}}";
      std::ofstream(dir + "/unknown.json") << "{\"optim\": {\"epoch\": 5}}";
      std::ofstream(dir + "/ok.json") << toJson(validStudent()).dump(2);
    }
    try {
      loadRunConfig(dir + "/bad.json");
      QFAIL("syntax error not reported");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("bad.json") != std::string::npos, e.what());
    }
    try {
      loadRunConfig(dir + "/unknown.json");
      QFAIL("unknown field not reported");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("optim.epoch'") != std::string::npos, e.what());
      QVERIFY2(e.fix().find("epochs") != std::string::npos, e.fix().c_str());
    }
    try {
      loadRunConfig(dir + "/missing.json");
      QFAIL("missing file not reported");
    } catch (const InputError& e) {
      QVERIFY(std::string(e.what()).find("missing.json") != std::string::npos);
    }
    QCOMPARE(loadRunConfig(dir + "/ok.json").student, std::string("resnet8"));
  }

  // Numbers that do not fit are refused with the field, never truncated or wrapped (issue 14, finding 8).
  void numbersOutOfRangeOrFractionalAreRefused() {
    const RunConfig base = validStudent();
    auto e = inputError([&] { applyOverrides(base, {"optim.lr=1e999"}); });
    QVERIFY2(contains(e.first, "optim.lr") && contains(e.first, "out of range"), e.first.c_str());
    e = inputError([&] { applyOverrides(base, {"optim.epochs=1.9"}); });
    QVERIFY2(contains(e.first, "'optim.epochs' must be a whole number, found 1.9"), e.first.c_str());
    e = inputError([&] { applyOverrides(base, {"optim.epochs=1e30"}); });
    QVERIFY2(contains(e.first, "'optim.epochs' must be a whole number"), e.first.c_str());
    e = inputError([&] { applyOverrides(base, {"seed=18446744073709551615"}); });
    QVERIFY2(contains(e.first, "'seed' is 18446744073709551615, too large"), e.first.c_str());
    e = inputError([&] { applyOverrides(base, {"optim.milestones=[3,4.5]"}); });
    QVERIFY2(contains(e.first, "'optim.milestones[1]'"), e.first.c_str());
    QCOMPARE(applyOverrides(base, {"optim.epochs=3.0"}).optim.epochs, int64_t(3));  // a whole float is fine
    const std::string dir = rkdtest::tempDir("config-numbers");
    std::ofstream(dir + "/huge.json") << "{\"optim\": {\"lr\": 1e999}}";
    std::ofstream(dir + "/dup.json") << "{\"optim\": {\"epochs\": 2, \"lr\": 0.1, \"epochs\": 3}}";
    std::ofstream(dir + "/dup-top.json") << "{\"seed\": 1, \"optim\": {}, \"seed\": 2}";
    // "kind" at the top and in "data": one key in two objects is no duplicate.
    std::ofstream(dir + "/same-key-two-objects.json") << toJson(validStudent()).dump();
    e = inputError([&] { loadRunConfig(dir + "/huge.json"); });
    QVERIFY2(contains(e.first, "huge.json") && contains(e.first, "out of range"), e.first.c_str());
    e = inputError([&] { loadRunConfig(dir + "/dup.json"); });
    QVERIFY2(contains(e.first, "dup.json") && contains(e.first, "'epochs' twice"), e.first.c_str());
    e = inputError([&] { loadRunConfig(dir + "/dup-top.json"); });
    QVERIFY2(contains(e.first, "'seed' twice"), e.first.c_str());
    QCOMPARE(loadRunConfig(dir + "/same-key-two-objects.json").data.kind, validStudent().data.kind);
  }

  void overridesApply() {
    RunConfig c = applyOverrides(validStudent(), {"optim.epochs=7", "review.abf=false", "name=x=y", "data.flip=off"});
    QCOMPARE(c.optim.epochs, int64_t(7));
    QCOMPARE(c.review.abf, false);
    QCOMPARE(c.name, std::string("x=y"));
    QCOMPARE(c.data.flip, std::string("off"));
  }

  // Found by tests/fuzz/fuzz_config: text after --set went into the config as typed, and a config holding bytes
  // that are not UTF-8 could not be written as JSON (nlohmann's type_error 316, not an InputError). UTF-8 text
  // that is not JSON stays text.
  void overridesMustBeUtf8() {
    const RunConfig base = validStudent();
    auto e = inputError([&] { applyOverrides(base, {"name=caf\xe9"}); });
    QVERIFY2(contains(e.first, "the value of 'name' is not valid UTF-8"), e.first.c_str());
    e = inputError([&] { applyOverrides(base, {"teacher.checkpoint=\xff\xfe.pt"}); });
    QVERIFY2(contains(e.first, "'teacher.checkpoint'"), e.first.c_str());
    const RunConfig c = applyOverrides(base, {"name=caf\xc3\xa9"});
    QCOMPARE(c.name, std::string("caf\xc3\xa9"));
    QCOMPARE(toJson(c).dump(), toJson(runConfigFromJson(nlohmann::json::parse(toJson(c).dump()), "x")).dump());
  }

  // The run store keeps configs verbatim and compares them: the table must write what the hand-written writer did.
  void jsonUnchangedSinceTheTable() {
    std::map<std::string, RunConfig> current{{"default", RunConfig{}}};
    for (const auto& p : presets()) {
      current[p.name + "/teacher"] = p.teacher;
      current[p.name + "/student"] = p.student;
    }
    std::ifstream in(rkdtest::testDataDir() + "/run_config_json.txt");
    QVERIFY(in);
    size_t compared = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.find(' ');
      const std::string label = line.substr(0, space);
      QVERIFY2(current.count(label), ("no preset for " + label).c_str());
      const std::string written = toJson(current[label]).dump();
      QVERIFY2(written == line.substr(space + 1), (label + " now writes " + written).c_str());
      ++compared;
    }
    QCOMPARE(compared, current.size());  // a new preset adds its line to tests/data/run_config_json.txt
  }

  void tableMatchesTheWrittenJson() {
    std::vector<std::string> written, table;
    const json j = toJson(validStudent());
    leafPaths(j, "", written);
    for (const auto& k : leafKeys()) {
      table.push_back(k.path);
      QVERIFY2(!k.example.empty(), k.path.c_str());
      const json& v = j.at(pointer(k.path));
      const bool typeOk = k.expected == "true or false"        ? v.is_boolean()
                          : k.expected == "an integer"         ? v.is_number_integer()
                          : k.expected == "a number"           ? v.is_number_float()
                          : k.expected == "a string"           ? v.is_string()
                                                               : v.is_array();
      QVERIFY2(typeOk, (k.path + " is written as " + v.type_name()).c_str());
    }
    std::sort(written.begin(), written.end());
    std::sort(table.begin(), table.end());
    QCOMPARE(table, written);
  }

  // Every field set to its example at once (the examples are jointly valid), through --set and through JSON.
  void everyKeyRoundTrips() {
    RunConfig base;  // the defaults, which every example differs from
    base.teacher.run = 1;
    const json before = toJson(base);
    std::vector<std::string> overrides;
    json edited = before;
    for (const auto& k : leafKeys()) {
      overrides.push_back(k.path + "=" + k.example);
      edited[pointer(k.path)] = exampleValue(k);
      QVERIFY2(before.at(pointer(k.path)) != exampleValue(k), (k.path + ": the example is the base value").c_str());
    }
    const json viaSet = toJson(applyOverrides(base, overrides));
    const json viaJson = toJson(runConfigFromJson(edited, "test"));
    const json again = toJson(runConfigFromJson(json::parse(viaJson.dump()), "test"));
    for (const auto& k : leafKeys()) {
      QVERIFY2(viaSet.at(pointer(k.path)) == exampleValue(k), (k.path + " via --set").c_str());
      QVERIFY2(viaJson.at(pointer(k.path)) == exampleValue(k), (k.path + " via JSON").c_str());
    }
    QCOMPARE(again.dump(), viaJson.dump());
    QCOMPARE(viaSet.dump(), viaJson.dump());
  }

  void nullKeepsTheDefault() {
    const json defaults = toJson(RunConfig{});
    for (const auto& k : configKeys()) {
      json j = toJson(validStudent());
      j[pointer(k.path)] = nullptr;
      if (k.path == "teacher") j["method"] = "student-alone";  // the default teacher names no network
      const json back = toJson(runConfigFromJson(j, "test"));
      QVERIFY2(back.at(pointer(k.path)) == defaults.at(pointer(k.path)), k.path.c_str());
    }
  }

  void wrongTypeNamesPathAndExpectedType() {
    for (const auto& k : configKeys()) {
      json j = toJson(validStudent());
      j[pointer(k.path)] = k.expected == "a string" ? json(true) : json("text");
      const auto [what, fix] = inputError([&] { runConfigFromJson(j, "test"); });
      if (k.section) {
        QVERIFY2(contains(what, "test: '" + k.path + "' must be a JSON object, found"), what.c_str());
        continue;
      }
      QVERIFY2(contains(what, "test: field '" + k.path + "' has the wrong type (" + j.at(pointer(k.path)).type_name()),
               what.c_str());
      QCOMPARE(fix, "expected " + k.expected);
      if (k.expected == "a string") continue;
      const auto [setWhat, setFix] = inputError([&] { applyOverrides(validStudent(), {k.path + "=\"text\""}); });
      QVERIFY2(contains(setWhat, "'" + k.path + "' has the wrong type"), setWhat.c_str());
    }
  }

  // A number typed for a string field keeps its text: it either passes or fails validation as that text.
  void stringFieldsKeepNumbersAsText() {
    for (const auto& k : leafKeys()) {
      if (k.expected != "a string") continue;
      try {
        const json back = toJson(applyOverrides(validStudent(), {k.path + "=7"}));
        QCOMPARE(back.at(pointer(k.path)).get<std::string>(), std::string("7"));
      } catch (const InputError& e) {
        QVERIFY2(contains(e.what(), "'" + k.path + "' has value '7'"), e.what());
      }
    }
    QCOMPARE(applyOverrides(validStudent(), {"name=7"}).name, std::string("7"));
    QCOMPARE(applyOverrides(validStudent(), {"data.channels=3"}).data.channels, std::string("3"));
    json j = toJson(validStudent());
    for (int n : {1, 3}) {
      j["data"]["channels"] = n;
      QCOMPARE(runConfigFromJson(j, "test").data.channels, std::to_string(n));
    }
    j["data"]["channels"] = "1";
    QCOMPARE(runConfigFromJson(j, "test").data.channels, std::string("1"));
    j["data"]["channels"] = 2;
    QVERIFY(contains(inputError([&] { runConfigFromJson(j, "test"); }).second, "auto, 1, 3"));
    j["data"]["channels"] = 3.5;
    QVERIFY(contains(inputError([&] { runConfigFromJson(j, "test"); }).first, "'data.channels' has the wrong type"));
  }

  void unknownKeyListsThatLevelsKeys() {
    std::map<std::string, std::vector<std::string>> levels{{"", {}}};
    for (const auto& k : configKeys()) {
      const auto [level, name] = splitPath(k.path);
      levels[level].push_back(name);
    }
    QCOMPARE(levels.size(), size_t(5));  // the top level and its four sections
    for (const auto& [level, names] : levels) {
      const std::string bad = level.empty() ? "no_such_key" : level + ".no_such_key";
      json j = toJson(validStudent());
      j[pointer(bad)] = 1;
      const auto [what, fix] = inputError([&] { runConfigFromJson(j, "test"); });
      QVERIFY2(contains(what, "unknown field '" + bad + "'"), what.c_str());
      QCOMPARE(fix, "known fields here: " + joined(names));  // in table order
      std::vector<std::string> sorted = names;
      std::sort(sorted.begin(), sorted.end());
      const auto [setWhat, setFix] = inputError([&] { applyOverrides(validStudent(), {bad + "=1"}); });
      QVERIFY2(contains(setWhat, "unknown key '" + bad + "'"), setWhat.c_str());
      QCOMPARE(setFix, "known keys there: " + joined(sorted));  // sorted, as the JSON lists them
    }
    for (const auto& k : leafKeys()) {
      const auto [what, fix] = inputError([&] { applyOverrides(validStudent(), {k.path + ".x=1"}); });
      QVERIFY2(contains(what, "unknown key '" + k.path + ".x'"), what.c_str());
      QCOMPARE(fix, "'" + k.path + "' has no sub-keys");
    }
  }

  void presetsAreComplete() {
    std::set<std::string> names;
    for (const auto& p : presets()) names.insert(p.name);
    QCOMPARE(names.size(), size_t(12));  // 11 published pairs + quick
    QVERIFY(names.count("quick") && names.count("resnet56-resnet20") && names.count("resnet50-mobilenetv2"));
    for (const auto& p : presets()) {
      p.teacher.validate();
      RunConfig s = p.student;
      s.teacher.run = 1;
      s.validate();
      QCOMPARE(s.review.weight, p.name == "quick" ? 1.0 : referenceReviewWeight(s.teacher.arch, s.student));
    }
    const Preset& r = findPreset("resnet56-resnet20");
    QCOMPARE(r.student.review.weight, 0.6);
    QCOMPARE(r.student.optim.lr, 0.1);
    QCOMPARE(r.student.optim.epochs, int64_t(240));
    QCOMPARE(findPreset("wrn-40-2-shufflev1").student.optim.lr, 0.02);
    try {
      findPreset("nope");
      QFAIL("unknown preset accepted");
    } catch (const InputError& e) {
      QVERIFY(e.fix().find("quick") != std::string::npos);
    }
  }

  void ablationGridHasEightValidRows() {
    auto grid = ablationGrid(validStudent());
    QCOMPARE(grid.size(), size_t(8));
    QCOMPARE(grid[0].second.method, std::string("student-alone"));
    QCOMPARE(grid[1].second.method, std::string("kd"));
    std::set<std::string> names;
    for (const auto& [label, c] : grid) {
      c.validate();
      names.insert(c.name);
    }
    QCOMPARE(names.size(), size_t(8));
    const RunConfig& full = grid.back().second;
    QVERIFY(full.review.review && full.review.residual && full.review.abf && full.review.hcl);
    const RunConfig& none = grid[2].second;
    QVERIFY(!none.review.review && !none.review.residual && !none.review.abf && !none.review.hcl);
    auto paper = publishedNumbers("resnet56", "resnet20");
    QVERIFY(paper.has_value());
    QCOMPARE(paper->ablation.size(), size_t(6));
    QVERIFY(!publishedNumbers("resnet8", "resnet20").has_value());
  }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "test_config.moc"
