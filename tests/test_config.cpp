// Run configuration: JSON round trip, strict reading, validation messages, overrides, presets, ablation grid.
#include <QtTest/QtTest>

#include <fstream>

#include "core/common/errors.h"
#include "core/services/run_config.h"
#include "test_support.h"

using namespace rkd;

namespace {
RunConfig validStudent() {
  RunConfig c = findPreset("quick").student;
  c.teacher.run = 1;
  return c;
}
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

  void overridesApply() {
    RunConfig c = applyOverrides(validStudent(), {"optim.epochs=7", "review.abf=false", "name=x=y", "data.flip=off"});
    QCOMPARE(c.optim.epochs, int64_t(7));
    QCOMPARE(c.review.abf, false);
    QCOMPARE(c.name, std::string("x=y"));
    QCOMPARE(c.data.flip, std::string("off"));
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
