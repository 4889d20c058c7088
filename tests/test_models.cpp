#include <QtTest/QtTest>

#include "core/common/errors.h"
#include "core/io/state_dict.h"
#include "core/io/tensor_check.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/parity/network_golden.h"
#include "torch_support.h"

namespace {

rkd::Backbone makeNet(const std::string& arch, int64_t classes = 10, int64_t channels = 3) {
  rkd::BackboneOptions o;
  o.arch = arch;
  o.numClasses = classes;
  o.inChannels = channels;
  return rkd::createBackbone(o);
}

QString describe(const std::vector<rkd::TensorCheck>& checks) {
  QString s;
  for (const auto& c : checks) {
    s += QString("%1: error %2 (tolerance %3) %4\n")
             .arg(QString::fromStdString(c.name))
             .arg(c.error)
             .arg(c.tolerance)
             .arg(QString::fromStdString(c.detail));
  }
  return s;
}

bool allPassed(const std::vector<rkd::TensorCheck>& checks) {
  for (const auto& c : checks) {
    if (!c.passed()) return false;
  }
  return !checks.empty();
}

QString shapeOf(const torch::Tensor& t) {
  QStringList parts;
  for (auto s : t.sizes()) parts << QString::number(s);
  return "[" + parts.join(", ") + "]";
}

}  // namespace

class TestModels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    torch::manual_seed(0);
    // One thread: the suite runs beside other builds and tests, and OpenMP threads that spin-wait on a
    // loaded machine make every small op of these batch-2 forwards tens of milliseconds slower.
    torch::set_num_threads(1);
  }

  void zooListsEveryNetwork() {
    const QStringList expected = {"resnet8",   "resnet14",  "resnet20",   "resnet32",  "resnet44",    "resnet56",
                                  "resnet110", "resnet8x4", "resnet32x4", "wrn-16-1",  "wrn-16-2",    "wrn-40-1",
                                  "wrn-40-2",  "vgg8",      "vgg11",      "vgg13",     "vgg16",       "vgg19",
                                  "mobilenetv2", "shufflev1", "shufflev2", "resnet50"};
    QStringList names;
    for (const auto& e : rkd::zooEntries()) names << QString::fromStdString(e.name);
    QCOMPARE(names, expected);
    QVERIFY(rkd::findZooEntry("wrn-40-2") != nullptr);
    QCOMPARE(QString::fromStdString(rkd::findZooEntry("wrn-40-2")->family), QString("wrn"));
    QVERIFY(rkd::findZooEntry("resnet18") == nullptr);
  }

  void goldenParity_data() {
    QTest::addColumn<QString>("arch");
    for (const char* arch : {"resnet8", "resnet20", "resnet8x4", "wrn-16-1", "vgg8", "mobilenetv2", "shufflev1",
                             "shufflev2"}) {
      QTest::newRow(arch) << QString(arch);
    }
  }

  void goldenParity() {
    QFETCH(QString, arch);
    const auto path = rkdtest::findGolden("architectures/" + arch.toStdString() + ".pt");
    if (path.empty()) QSKIP("golden architecture files not found: set REVIEWKD_GOLDEN_DIR to shared/golden");
    const auto file = rkd::readTensorFile(path);

    // The state dict loads by name with nothing missing, unexpected or mismatched.
    auto net = makeNet(arch.toStdString(), file.at("expected.logits").size(1), file.at("input").size(1));
    const auto report = rkd::loadStateDict(*net, rkd::withPrefix(file, "model."));
    QVERIFY2(report.ok(), report.describe().c_str());

    const auto checks = rkd::checkArchitectureGolden(arch.toStdString(), file, torch::kCPU);
    QVERIFY2(allPassed(checks), qPrintable(describe(checks)));
    // Same numbers from the folded inference copy.
    const auto fusedChecks = rkd::checkArchitectureGolden(arch.toStdString(), file, torch::kCPU, /*fused=*/true);
    QVERIFY2(allPassed(fusedChecks), qPrintable("fused:\n" + describe(fusedChecks)));
  }

  void parameterCounts_data() {
    // shared/golden/architectures/manifest.json (100 classes, 3 input channels).
    QTest::addColumn<QString>("arch");
    QTest::addColumn<qint64>("parameters");
    QTest::newRow("resnet8") << "resnet8" << qint64(83892);
    QTest::newRow("resnet20") << "resnet20" << qint64(278324);
    QTest::newRow("resnet8x4") << "resnet8x4" << qint64(1233540);
    QTest::newRow("wrn-16-1") << "wrn-16-1" << qint64(180916);
    QTest::newRow("vgg8") << "vgg8" << qint64(3965028);
    QTest::newRow("mobilenetv2") << "mobilenetv2" << qint64(812836);
    QTest::newRow("shufflev1") << "shufflev1" << qint64(949258);
    QTest::newRow("shufflev2") << "shufflev2" << qint64(1355528);
  }

  void parameterCounts() {
    QFETCH(QString, arch);
    QFETCH(qint64, parameters);
    auto net = makeNet(arch.toStdString(), 100, 3);
    QCOMPARE(qint64(rkd::countParameters(*net)), parameters);
  }

  void zooForward_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<QList<int>>("channels");  // distilled levels at 32x32, shallow to deep, pooled last
    QTest::addColumn<QList<int>>("sizes");
    const QList<int> resnetSizes = {32, 16, 8, 1};
    for (const char* a : {"resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"}) {
      QTest::newRow(a) << QString(a) << QList<int>{16, 32, 64, 64} << resnetSizes;
    }
    for (const char* a : {"resnet8x4", "resnet32x4"}) {
      QTest::newRow(a) << QString(a) << QList<int>{64, 128, 256, 256} << resnetSizes;
    }
    QTest::newRow("wrn-16-1") << "wrn-16-1" << QList<int>{16, 32, 64, 64} << resnetSizes;
    QTest::newRow("wrn-16-2") << "wrn-16-2" << QList<int>{32, 64, 128, 128} << resnetSizes;
    QTest::newRow("wrn-40-1") << "wrn-40-1" << QList<int>{16, 32, 64, 64} << resnetSizes;
    QTest::newRow("wrn-40-2") << "wrn-40-2" << QList<int>{32, 64, 128, 128} << resnetSizes;
    for (const char* a : {"vgg8", "vgg11", "vgg13", "vgg16", "vgg19"}) {
      QTest::newRow(a) << QString(a) << QList<int>{128, 256, 512, 512, 512} << QList<int>{16, 8, 4, 4, 1};
    }
    QTest::newRow("mobilenetv2") << "mobilenetv2" << QList<int>{12, 16, 48, 160, 1280} << QList<int>{16, 8, 4, 2, 1};
    QTest::newRow("shufflev1") << "shufflev1" << QList<int>{240, 480, 960, 960} << QList<int>{16, 8, 4, 1};
    QTest::newRow("shufflev2") << "shufflev2" << QList<int>{116, 232, 464, 1024} << QList<int>{16, 8, 4, 1};
    QTest::newRow("resnet50") << "resnet50" << QList<int>{256, 512, 1024, 2048, 2048} << QList<int>{32, 16, 8, 4, 1};
  }

  void zooForward() {
    QFETCH(QString, arch);
    QFETCH(QList<int>, channels);
    QFETCH(QList<int>, sizes);
    const auto name = arch.toStdString();
    auto net = makeNet(name);
    net->train();

    // 3 x 32 x 32, train mode, with preact: level counts, channels and sizes, then gradients everywhere.
    auto out = net->forwardAll(torch::randn({2, 3, 32, 32}), true);
    QCOMPARE(out.logits.sizes().vec(), (std::vector<int64_t>{2, 10}));
    QCOMPARE(out.features.size(), size_t(channels.size()));  // stem + one per stage level
    QCOMPARE(out.preact.size(), net->hasPreact() ? out.features.size() : size_t(0));
    const auto student = rkd::distilledLevels(out, false);
    const auto teacher = rkd::distilledLevels(out, true);
    QCOMPARE(int(student.size()), channels.size());
    QCOMPARE(int(teacher.size()), channels.size());
    for (int k = 0; k < channels.size(); ++k) {
      const std::vector<int64_t> expected = {2, channels[k], sizes[k], sizes[k]};
      QVERIFY2(student[k].sizes().vec() == expected, qPrintable(QString("student level %1: %2").arg(k).arg(shapeOf(student[k]))));
      QVERIFY2(teacher[k].sizes().vec() == expected, qPrintable(QString("teacher level %1: %2").arg(k).arg(shapeOf(teacher[k]))));
    }
    auto loss = torch::nn::functional::cross_entropy(out.logits, torch::tensor({1, 2}));
    for (const auto& level : student) loss = loss + level.pow(2).mean() * 1e-3;
    loss.backward();
    for (const auto& p : net->named_parameters()) {
      QVERIFY2(p.value().grad().defined(), ("no gradient for " + p.key()).c_str());
      QVERIFY2(torch::isfinite(p.value().grad()).all().item<bool>(), ("non-finite gradient for " + p.key()).c_str());
    }

    // Other input sizes: grey 28 x 28 and colour 40 x 40.
    {
      torch::NoGradGuard noGrad;
      auto grey = makeNet(name, 10, 1);
      auto o28 = grey->forwardAll(torch::randn({2, 1, 28, 28}), true);
      QCOMPARE(o28.logits.sizes().vec(), (std::vector<int64_t>{2, 10}));
      QCOMPARE(int(rkd::distilledLevels(o28, true).size()), channels.size());
      auto o40 = net->forwardAll(torch::randn({2, 3, 40, 40}), true);
      QCOMPARE(o40.logits.sizes().vec(), (std::vector<int64_t>{2, 10}));
      QCOMPARE(o40.pooled.sizes().vec(), (std::vector<int64_t>{2, channels.last()}));

      // Channels-last input gives the same numbers in eval mode.
      net->eval();
      auto x = torch::randn({2, 3, 32, 32});
      auto a = net->forwardAll(x, true);
      auto b = net->forwardAll(x.contiguous(torch::MemoryFormat::ChannelsLast), true);
      QVERIFY2(rkd::relativeError(b.logits, a.logits) <= rkd::kFeatureTolerance, "channels-last logits differ");
      for (size_t k = 0; k < a.features.size(); ++k) {
        QVERIFY(rkd::relativeError(b.features[k], a.features[k]) <= rkd::kFeatureTolerance);
      }
    }
  }

  void fusionMatches_data() {
    QTest::addColumn<QString>("arch");
    for (const char* a : {"resnet8", "resnet8x4", "wrn-16-2", "vgg11", "mobilenetv2", "shufflev1", "shufflev2",
                          "resnet50"}) {
      QTest::newRow(a) << QString(a);
    }
  }

  void fusionMatches() {
    QFETCH(QString, arch);
    auto net = makeNet(arch.toStdString(), 10, 3);
    rkdtest::randomiseBatchNorms(*net);
    net->eval();
    auto fused = rkd::fuseForInference(net);
    QVERIFY(fused->isFused());
    QVERIFY(!fused->is_training());
    QVERIFY(!net->foldablePairs().empty());
    QCOMPARE(fused->foldablePairs(), net->foldablePairs());
    // Every folded BN is gone from the copy.
    QCOMPARE(rkdtest::countBatchNorms(*fused), rkdtest::countBatchNorms(*net) - int64_t(net->foldablePairs().size()));

    torch::NoGradGuard noGrad;
    const auto x = torch::randn({2, 3, 32, 32});
    const auto a = net->forwardAll(x, true);
    for (bool channelsLast : {false, true}) {
      const auto b = fused->forwardAll(channelsLast ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x, true);
      std::vector<rkd::TensorCheck> checks;
      rkd::addCheck(checks, "logits", b.logits, a.logits, rkd::kFeatureTolerance);
      rkd::addCheck(checks, "pooled", b.pooled, a.pooled, rkd::kFeatureTolerance);
      QCOMPARE(b.features.size(), a.features.size());
      QCOMPARE(b.preact.size(), a.preact.size());
      for (size_t k = 0; k < a.features.size(); ++k) {
        rkd::addCheck(checks, "feature." + std::to_string(k), b.features[k], a.features[k], rkd::kFeatureTolerance);
      }
      for (size_t k = 0; k < a.preact.size(); ++k) {
        rkd::addCheck(checks, "preact." + std::to_string(k), b.preact[k], a.preact[k], rkd::kFeatureTolerance);
      }
      QVERIFY2(allPassed(checks), qPrintable(describe(checks)));
    }
  }

  void wrnFoldsOnlyConvFollowedByBn() {
    auto net = makeNet("wrn-16-1");
    // 2 blocks per group, 3 groups: each block's conv1 -> bn2 only.
    QCOMPARE(net->foldablePairs().size(), size_t(6));
    for (const auto& [conv, bn] : net->foldablePairs()) {
      QVERIFY2(QString::fromStdString(conv).endsWith(".conv1") && QString::fromStdString(bn).endsWith(".bn2"),
               conv.c_str());
    }
  }

  void macs() {
    auto r20 = makeNet("resnet20", 100, 3);
    const auto m20 = rkd::countMacs(*r20, 3, 32);
    QVERIFY2(std::abs(double(m20) / 40.8e6 - 1.0) < 0.02, qPrintable(QString("resnet20: %1 MACs").arg(m20)));
    auto r56 = makeNet("resnet56", 100, 3);
    const auto m56 = rkd::countMacs(*r56, 3, 32);
    QVERIFY2(std::abs(double(m56) / 125e6 - 1.0) < 0.02, qPrintable(QString("resnet56: %1 MACs").arg(m56)));
    // Counting leaves the mode and the BN statistics alone.
    r20->train();
    const auto before = rkd::stateDict(*r20).at("bn1.running_mean").clone();
    rkd::countMacs(*r20, 3, 32);
    QVERIFY(r20->is_training());
    QVERIFY(torch::equal(before, rkd::stateDict(*r20).at("bn1.running_mean")));
    // Bigger input, more MACs; a fused copy counts the same convs.
    QVERIFY(rkd::countMacs(*r20, 3, 40) > m20);
    r20->eval();
    QCOMPARE(rkd::countMacs(*rkd::fuseForInference(r20), 3, 32), m20);
  }

  void createErrors() {
    try {
      makeNet("resnet21");
      QFAIL("no error for an unknown name");
    } catch (const rkd::InputError& e) {
      const QString text = QString::fromStdString(e.full());
      QVERIFY2(text.contains("resnet21") && text.contains("resnet20") && text.contains("wrn-40-2") &&
                   text.contains("shufflev2"),
               qPrintable(text));
    }
    try {
      makeNet("resnet20", 0, 3);
      QFAIL("no error for zero classes");
    } catch (const rkd::InputError& e) {
      QVERIFY2(QString(e.what()).contains("numClasses"), e.what());
    }
    try {
      makeNet("resnet20", 10, -1);
      QFAIL("no error for negative channels");
    } catch (const rkd::InputError& e) {
      QVERIFY2(QString(e.what()).contains("inChannels"), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestModels)
#include "test_models.moc"
