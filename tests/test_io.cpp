// Checkpoint interchange with PyTorch: reading golden files, importing state dicts in the layouts the common
// CIFAR collections save (flat, nested under model/state_dict, module. prefix), clear errors for bad files,
// and the export round trip.
#include <QtTest/QtTest>

#include <fstream>

#include "core/common/errors.h"
#include "core/io/checkpoint.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "test_support.h"

using namespace rkd;

namespace {

// A dict {outer: {name: tensor}} (plus an int and a float beside it), pickled as torch.save would.
void writeNested(const std::string& path, const std::string& outer, const TensorMap& tensors,
                 const std::string& namePrefix = "") {
  c10::impl::GenericDict inner(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [k, v] : tensors) inner.insert(namePrefix + k, v);
  c10::impl::GenericDict top(c10::StringType::get(), c10::AnyType::get());
  if (outer.empty()) {
    top = inner;
  } else {
    top.insert(outer, inner);
    top.insert("epoch", int64_t(240));
    top.insert("accuracy", 72.34);
  }
  std::vector<char> bytes = torch::pickle_save(c10::IValue(top));
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TensorMap goldenResnet8() { return withPrefix(readTensorFile(rkdtest::findGolden("architectures/resnet8.pt")), "model."); }

}  // namespace

class TestIo : public QObject {
  Q_OBJECT
  std::string m_dir;

 private Q_SLOTS:
  void initTestCase() { m_dir = rkdtest::tempDir("io"); }

  void readsGoldenFile() {
    auto path = rkdtest::findGolden("architectures/resnet8.pt");
    QVERIFY(!path.empty());
    auto t = readTensorFile(path);
    QVERIFY(t.count("input"));
    QCOMPARE(t.at("input").sizes().vec(), (std::vector<int64_t>{2, 3, 32, 32}));
    QCOMPARE(t.at("model.bn1.num_batches_tracked").scalar_type(), torch::kLong);
  }

  void importLayouts_data() {
    QTest::addColumn<QString>("outer");
    QTest::addColumn<QString>("prefix");
    QTest::addColumn<QString>("layout");
    QTest::newRow("flat") << "" << "" << "flat";
    QTest::newRow("nested under model") << "model" << "" << "nested under 'model'";
    QTest::newRow("nested under state_dict") << "state_dict" << "" << "nested under 'state_dict'";
    QTest::newRow("DataParallel prefix, nested") << "state_dict" << "module." << "nested under 'state_dict'";
    QTest::newRow("DataParallel prefix, flat") << "" << "module." << "flat";
  }
  void importLayouts() {
    QFETCH(QString, outer);
    QFETCH(QString, prefix);
    QFETCH(QString, layout);
    TensorMap golden = goldenResnet8();
    const std::string path = m_dir + "/layout.pt";
    writeNested(path, outer.toStdString(), golden, prefix.toStdString());
    Backbone net = createBackbone({"resnet8", 100, 3});
    ImportedStateDict details;
    LoadReport report = importCheckpoint(*net, path, &details);
    QVERIFY2(report.ok(), report.describe().c_str());
    QCOMPARE(QString::fromStdString(details.layout), layout);
    QCOMPARE(details.strippedModulePrefix, !prefix.isEmpty());
    QCOMPARE(report.loaded.size(), golden.size());
    QVERIFY(stateDict(*net).at("fc.weight").equal(golden.at("fc.weight")));
  }

  void importReportsProblemsByName() {
    TensorMap golden = goldenResnet8();
    golden.erase("layer2.0.conv1.weight");                       // missing
    golden["layer9.0.conv1.weight"] = torch::zeros({1});          // unexpected
    golden["fc.weight"] = torch::zeros({10, 64});                 // shape mismatch (10 classes)
    const std::string path = m_dir + "/partial.pt";
    writeTensorFile(path, golden);
    Backbone net = createBackbone({"resnet8", 100, 3});
    LoadReport report = importCheckpoint(*net, path);
    QVERIFY(!report.ok());
    QCOMPARE(report.missing, std::vector<std::string>{"layer2.0.conv1.weight"});
    QCOMPARE(report.unexpected, std::vector<std::string>{"layer9.0.conv1.weight"});
    QCOMPARE(report.mismatched.size(), size_t(1));
    const std::string text = report.describe();
    QVERIFY2(text.find("fc.weight") != std::string::npos && text.find("[10, 64]") != std::string::npos &&
                 text.find("[100, 64]") != std::string::npos,
             text.c_str());
    try {
      loadStateDictStrict(*net, readStateDict(path).tensors, path);
      QFAIL("strict load accepted a mismatched file");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("partial.pt") != std::string::npos, e.what());
    }
  }

  void badFilesGiveClearErrors_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("expected");
    QTest::newRow("missing") << "missing" << "does not exist";
    QTest::newRow("empty") << "empty" << "empty or truncated";
    QTest::newRow("foreign (text)") << "text" << "not a PyTorch zip checkpoint";
    QTest::newRow("truncated zip") << "truncated" << "cannot read checkpoint";
    QTest::newRow("directory") << "dir" << "is a directory";
  }
  void badFilesGiveClearErrors() {
    QFETCH(QString, kind);
    QFETCH(QString, expected);
    std::string path = m_dir + "/bad-" + kind.toStdString() + ".pt";
    if (kind == "empty") std::ofstream(path).close();
    if (kind == "text") std::ofstream(path) << "this is a config file, not a checkpoint\n";
    if (kind == "dir") QVERIFY(QDir().mkpath(QString::fromStdString(path)));
    if (kind == "truncated") {
      std::ifstream in(rkdtest::findGolden("architectures/resnet8.pt"), std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      bytes.resize(bytes.size() / 2);
      std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    try {
      readStateDict(path);
      QFAIL("bad file accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find(expected.toStdString()) != std::string::npos, e.what());
      QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
      QVERIFY(!e.fix().empty());
    }
  }

  void exportRoundTripKeepsPyTorchNames() {
    // The exported key set and shapes are exactly the PyTorch state dict's (the golden file came from
    // PyTorch), so model.load_state_dict(torch.load(path), strict=True) accepts it.
    Backbone net = createBackbone({"resnet8", 100, 3});
    const std::string path = m_dir + "/export.pt";
    exportStateDict(*net, path);
    QVERIFY(!QFile::exists(QString::fromStdString(path + ".tmp")));
    TensorMap back = readStateDict(path).tensors;
    TensorMap golden = goldenResnet8();
    QCOMPARE(back.size(), golden.size());
    for (const auto& [k, v] : golden) {
      QVERIFY2(back.count(k), k.c_str());
      QCOMPARE(back.at(k).sizes().vec(), v.sizes().vec());
      QCOMPARE(back.at(k).scalar_type(), v.scalar_type());
    }
    Backbone other = createBackbone({"resnet8", 100, 3});
    loadStateDictStrict(*other, back, path);
    for (const auto& [k, v] : stateDict(*net)) QVERIFY2(stateDict(*other).at(k).equal(v), k.c_str());
  }
};

QTEST_GUILESS_MAIN(TestIo)
#include "test_io.moc"
