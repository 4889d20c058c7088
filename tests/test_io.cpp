// Checkpoint interchange with PyTorch: reading golden files, importing state dicts in the layouts the common
// CIFAR collections save (flat, nested under model/state_dict, module. prefix), clear errors for bad files,
// and the export round trip.
#include <QtTest/QtTest>

#include <QElapsedTimer>
#include <fstream>
#include <random>

#include <caffe2/serialize/inline_container.h>

#include "core/common/errors.h"
#include "core/io/checkpoint.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "torch_support.h"

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

std::string fixture(const std::string& name) { return rkdtest::testDataDir() + "/checkpoints/" + name; }

std::vector<char> fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

// The eval-mode logits of resnet8 (100 classes) with the weights of `tensors`, on the fixtures' input.
torch::Tensor resnet8Logits(const TensorMap& tensors, const std::string& source) {
  Backbone net = createBackbone({"resnet8", 100, 3});
  loadStateDictStrict(*net, tensors, source);
  net->eval();
  torch::NoGradGuard noGrad;
  return net->forward(readTensorFile(fixture("resnet8_expected_logits.pt")).at("input"));
}

torch::Tensor expectedLogits() { return readTensorFile(fixture("resnet8_expected_logits.pt")).at("expected.logits"); }

// Pieces of hand-written pickles (protocol 2), for files that only a hostile or broken writer makes.
std::string proto2() { return std::string("\x80\x02", 2); }
std::string unicode(const std::string& text) {
  std::string s = "X";
  for (int k = 0; k < 4; ++k) s.push_back(static_cast<char>((text.size() >> (8 * k)) & 0xff));
  return s + text;
}
std::string smallInt(int v) { return "K" + std::string(1, static_cast<char>(v)); }
// A torch.save-style zip: data.pkl and, when given, the bytes of storage "0".
void writeZip(const std::string& path, const std::string& pkl, const std::string& storage0) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  if (!storage0.empty() || pkl.find("Storage") != std::string::npos)
    writer.writeRecord("data/0", storage0.data(), storage0.size());
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

  // Files that Python's torch.save wrote, in the layouts people have (tests/data/checkpoints: the shared
  // fixtures, plus the variants of tests/python/make_checkpoint_variants.py). Each must give the logits that
  // PyTorch computed with these weights.
  void realPyTorchFilesGiveTheLogits_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("layout");
    QTest::addColumn<QString>("format");
    QTest::addColumn<bool>("stripped");
    QTest::addColumn<QString>("conversion");
    QTest::addColumn<QString>("ignored");
    QTest::addColumn<double>("tolerance");
    QTest::newRow("state_dict() OrderedDict") << "resnet8_state_dict.pt" << "flat" << "zip" << false << "" << "" << 1e-5;
    QTest::newRow("{'model': sd, epoch, accuracy, optimizer}")
        << "resnet8_model_epoch.pt" << "nested under 'model'" << "zip" << false << "" << "epoch (int 240)" << 1e-5;
    QTest::newRow("{'state_dict': sd, 'best_acc': tensor}") << "resnet8_state_dict_key.pt" << "nested under 'state_dict'"
                                                             << "zip" << false << "" << "best_acc (tensor float32 [])" << 1e-5;
    QTest::newRow("DataParallel module.") << "resnet8_dataparallel.pt" << "flat" << "zip" << true << "" << "" << 1e-5;
    QTest::newRow("legacy format") << "resnet8_legacy_format.pt" << "flat" << "legacy" << false << "" << "" << 1e-5;
    // Half-precision weights: the logits move by the weights' rounding (measured 6.8e-4 for float16, 3.6e-3 for
    // bfloat16).
    QTest::newRow("float16") << "resnet8_half.pt" << "flat" << "zip" << false << "float16 tensors converted" << "" << 5e-3;
    QTest::newRow("bfloat16") << "resnet8_bfloat16.pt" << "flat" << "zip" << false << "bfloat16 tensors converted" << ""
                              << 2e-2;
    QTest::newRow("float64") << "resnet8_float64.pt" << "flat" << "zip" << false << "float64 tensors converted" << ""
                             << 1e-5;
    QTest::newRow("views into one storage") << "resnet8_views.pt" << "flat" << "zip" << false << "" << "" << 1e-5;
    QTest::newRow("pickle protocol 4") << "resnet8_protocol4.pt" << "flat" << "zip" << false << "" << "" << 1e-5;
    QTest::newRow("{'net': sd, Namespace, numpy scalars, optimizer}")
        << "resnet8_net_extras.pt" << "nested under 'net'" << "zip" << false << "" << "args (argparse.Namespace)" << 1e-5;
    QTest::newRow("one dict of tensors one level down")
        << "resnet8_one_level_down.pt" << "nested under 'weights_v2'" << "zip" << false << "" << "epoch (int 3)" << 1e-5;
  }
  void realPyTorchFilesGiveTheLogits() {
    QFETCH(QString, file);
    QFETCH(QString, layout);
    QFETCH(QString, format);
    QFETCH(bool, stripped);
    QFETCH(QString, conversion);
    QFETCH(QString, ignored);
    QFETCH(double, tolerance);
    const std::string path = fixture(file.toStdString());
    ImportedStateDict sd = readStateDict(path);
    QCOMPARE(QString::fromStdString(sd.layout), layout);
    QVERIFY2(sd.format.rfind(format.toStdString(), 0) == 0, sd.format.c_str());
    QCOMPARE(sd.strippedModulePrefix, stripped);
    if (conversion.isEmpty())
      QVERIFY(sd.conversions.empty());
    else
      QVERIFY2(contains(sd.conversions, conversion.toStdString()), file.toUtf8().constData());
    if (!ignored.isEmpty()) {
      std::string all;
      for (const auto& l : sd.ignored) all += l + "; ";
      QVERIFY2(contains(sd.ignored, ignored.toStdString()), all.c_str());
    }
    for (const auto& [name, t] : sd.tensors)
      QVERIFY2(t.scalar_type() == (name.find("num_batches_tracked") != std::string::npos ? torch::kLong : torch::kFloat),
               name.c_str());
    const double err = rkdtest::relError(resnet8Logits(sd.tensors, path), expectedLogits());
    qInfo("%s: logits within %.3g of PyTorch's", file.toUtf8().constData(), err);
    QVERIFY2(err <= tolerance, (file.toStdString() + ": logits off by " + std::to_string(err)).c_str());
    // The same file through the import path the trainer and the studio take.
    Backbone net = createBackbone({"resnet8", 100, 3});
    QVERIFY(importCheckpoint(*net, path).ok());
  }

  void wholeModuleAndTorchScriptAreRefusedWithTheFix_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("what");
    QTest::addColumn<QString>("fix");
    QTest::newRow("torch.save(model)") << "resnet8_whole_module.pt"
                                       << "whole pickled network (mdistiller.models.cifar.resnet.ResNet"
                                       << "torch.load('%1', weights_only=False).state_dict()";
    QTest::newRow("torch.jit.save") << "resnet8_torchscript.pt" << "TorchScript archive (torch.jit.save)"
                                    << "torch.jit.load('%1').state_dict()";
  }
  void wholeModuleAndTorchScriptAreRefusedWithTheFix() {
    QFETCH(QString, file);
    QFETCH(QString, what);
    QFETCH(QString, fix);
    const std::string path = fixture(file.toStdString());
    try {
      readStateDict(path);
      QFAIL("accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find(what.toStdString()) != std::string::npos, e.what());
      QVERIFY2(e.fix().find(fix.arg(QString::fromStdString(path)).toStdString()) != std::string::npos, e.fix().c_str());
      QVERIFY2(e.fix().find("_state_dict.pt") != std::string::npos, e.fix().c_str());
    }
  }

  // Every fixture, cut short or with one bit flipped at 48 places: a clear InputError naming the file, never a
  // crash. A zip file carries CRC-32s, so a flip either fails or (in bytes nothing reads: alignment padding,
  // unused header fields) loads the same weights; the legacy format has no checksum, so a flip inside its
  // tensor data loads different numbers, which no reader can notice.
  void damagedCopiesGiveClearErrors_data() {
    QTest::addColumn<QString>("file");
    for (const char* f : {"resnet8_state_dict.pt", "resnet8_model_epoch.pt", "resnet8_state_dict_key.pt",
                          "resnet8_dataparallel.pt", "resnet8_legacy_format.pt", "resnet8_half.pt",
                          "resnet8_whole_module.pt", "resnet8_torchscript.pt", "resnet8_net_extras.pt",
                          "resnet8_views.pt", "resnet8_protocol4.pt"})
      QTest::newRow(f) << f;
  }
  void damagedCopiesGiveClearErrors() {
    QFETCH(QString, file);
    const std::string source = fixture(file.toStdString());
    const std::vector<char> original = fileBytes(source);
    const bool legacy = file.contains("legacy");
    const bool refusedAnyway = file.contains("whole_module") || file.contains("torchscript");
    TensorMap reference;
    if (!refusedAnyway) reference = readStateDict(source).tensors;
    const std::string path = m_dir + "/damaged-" + file.toStdString();
    int errors = 0, loads = 0;
    auto attempt = [&](const std::vector<char>& bytes, const std::string& what) {
      writeBytes(path, bytes);
      try {
        ImportedStateDict sd = readStateDict(path);
        QVERIFY2(!refusedAnyway, ("a damaged " + file.toStdString() + " was accepted (" + what + ")").c_str());
        ++loads;
        if (!legacy) {
          QCOMPARE(sd.tensors.size(), reference.size());
          for (const auto& [k, v] : reference)
            QVERIFY2(sd.tensors.at(k).equal(v), (what + " changed " + k + " without an error").c_str());
        }
      } catch (const InputError& e) {
        ++errors;
        QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
        QVERIFY2(!e.fix().empty(), e.what());
      }
    };
    for (double cut : {0.0, 0.001, 0.1, 0.5, 0.9, 0.999}) {
      std::vector<char> bytes(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(original.size() * cut));
      attempt(bytes, "cut at " + std::to_string(bytes.size()));
      QCOMPARE(loads, 0);
    }
    std::vector<char> oneShort(original.begin(), original.end() - 1);
    attempt(oneShort, "last byte cut");
    QCOMPARE(loads, 0);
    std::mt19937 rng(7);
    for (int k = 0; k < 48; ++k) {
      std::vector<char> bytes = original;
      const size_t at = (k < 8) ? static_cast<size_t>(k) * 13 : rng() % bytes.size();
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
      attempt(bytes, "bit flipped at byte " + std::to_string(at));
    }
    qInfo("%s: %d damaged copies refused, %d loaded", file.toUtf8().constData(), errors, loads);
    QVERIFY(errors > 0);
  }

  void deepAndSelfReferencingPicklesAreRefused() {
    // A data.pkl of 200,000 nested dicts: LibTorch's own unpickler overflows its stack on such a file.
    const int depth = 200000;
    std::string pkl = proto2();
    for (int k = 0; k < depth; ++k) pkl += "}" + unicode("a");  // EMPTY_DICT, then its key
    pkl += "}";
    pkl += std::string(depth, 's');  // SETITEM: each dict into the one before
    pkl += ".";
    const std::string path = m_dir + "/deep.pt";
    writeZip(path, pkl, {});
    try {
      readTensorFile(path);
      QFAIL("accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("deeper than") != std::string::npos, e.what());
    }
    try {
      readStateDict(path);
      QFAIL("accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("no model weights") != std::string::npos, e.what());
    }
    // {'a': l} where l = []; l.append(l): a list that contains itself.
    const std::string self = proto2() + "}" + unicode("a") + "]q" + std::string(1, '\x01') + "h" +
                             std::string(1, '\x01') + "as.";
    const std::string selfPath = m_dir + "/self.pt";
    writeZip(selfPath, self, {});
    try {
      readStateDict(selfPath);
      QFAIL("accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("no model weights") != std::string::npos, e.what());
    }
  }

  void viewsOutsideTheirStorageAreRefused() {
    // {'w': a view of `size` floats at `offset` on a storage of 4}: only views inside the storage load.
    for (const auto& [size, offset] : std::vector<std::pair<int, int>>{{8, 0}, {4, 1}, {2, 3}, {2, 2}, {4, 0}}) {
      std::string pkl = proto2() + "}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n(";
      pkl += "(" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + smallInt(4) + "tQ";
      pkl += smallInt(offset) + smallInt(size) + "\x85" + smallInt(1) + "\x85" + "\x89" + "N" + "tRs.";
      const std::string path = m_dir + "/view.pt";
      const float data[4] = {1, 2, 3, 4};
      writeZip(path, pkl, std::string(reinterpret_cast<const char*>(data), sizeof data));
      const bool fits = offset + size <= 4;
      try {
        TensorMap t = readTensorFile(path);
        QVERIFY2(fits, "a view past its storage was accepted");
        QCOMPARE(t.at("w").size(0), int64_t(size));
        QCOMPARE(t.at("w")[0].item<float>(), float(offset + 1));
      } catch (const InputError& e) {
        QVERIFY2(!fits, e.what());
        QVERIFY2(std::string(e.what()).find("storage of 4") != std::string::npos, e.what());
      }
    }
    // A storage record shorter than its declared elements (what issue 14 found LibTorch to accept).
    std::string pkl = proto2() + "}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n(";
    pkl += "(" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + smallInt(4) + "tQ";
    pkl += smallInt(0) + smallInt(4) + "\x85" + smallInt(1) + "\x85" + "\x89" + "N" + "tRs.";
    const std::string path = m_dir + "/short.pt";
    writeZip(path, pkl, std::string(8, '\0'));
    try {
      readTensorFile(path);
      QFAIL("a short storage was accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("holds 8 bytes") != std::string::npos, e.what());
    }
    writeZip(path, pkl, "");
    QVERIFY_EXCEPTION_THROWN(readTensorFile(path), InputError);
  }

  // Found while writing fuzz_checkpoint (tests/fuzz): a view with zero strides repeats its storage's elements,
  // and the reader materialises it; a file of a few hundred bytes declared 2^40 elements of one float
  // (LibTorch's allocator error escaped as a c10::Error) or 3e9 (12 GB taken). Small repeated views still load.
  void repeatedStoragesAreBounded() {
    for (const int64_t size : {int64_t(3), (int64_t(1) << 27), (int64_t(1) << 40)}) {
      std::string pkl = proto2() + "}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n(";
      pkl += "(" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + smallInt(1) + "tQ";
      pkl += smallInt(0) + std::string("\x8a\x08", 2);  // LONG1 of 8 bytes: the size
      for (int k = 0; k < 8; ++k) pkl.push_back(static_cast<char>((size >> (8 * k)) & 0xff));
      pkl += "\x85" + smallInt(0) + "\x85" + "\x89" + "N" + "tRs.";
      const std::string path = m_dir + "/repeated.pt";
      const float one = 1.5f;
      writeZip(path, pkl, std::string(reinterpret_cast<const char*>(&one), sizeof one));
      try {
        TensorMap t = readTensorFile(path);
        QVERIFY2(size == 3, ("a view repeating one float " + std::to_string(size) + " times was accepted").c_str());
        QVERIFY(t.at("w").equal(torch::full({3}, 1.5f)));
      } catch (const InputError& e) {
        QVERIFY2(size != 3, e.what());
        QVERIFY2(std::string(e.what()).find("repeats its 1 elements to " + std::to_string(size)) != std::string::npos,
                 e.what());
        QVERIFY(!e.fix().empty());
      }
    }
  }

  // Found while writing fuzz_checkpoint: _rebuild_from_type_v2(func, type, args, state) stands for func(*args),
  // and a chain of them was followed at every REDUCE; 10^5 links called 10^5 times (a 1.5 MB data.pkl) kept the
  // reader busy for minutes. torch.save nests one; up to 4 are read, a fifth is refused.
  void rebuildWrapperChainsAreBounded() {
    const std::string rebuildArgs = "((" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") +
                                    unicode("cpu") + smallInt(2) + "tQ" + smallInt(0) + smallInt(2) + "\x85" +
                                    smallInt(1) + "\x85" + "\x89" + "N" + "t";
    const std::string wrapper = "ctorch._tensor\n_rebuild_from_type_v2\n";
    const float data[2] = {3, 4};
    const std::string storage(reinterpret_cast<const char*>(data), sizeof data);
    for (int levels = 1; levels <= 5; ++levels) {
      std::string callable = "ctorch._utils\n_rebuild_tensor_v2\n", args = rebuildArgs;
      for (int k = 0; k < levels; ++k) {
        args = "(" + callable + "ctorch\nTensor\n" + args + "}t";
        callable = wrapper;
      }
      const std::string path = m_dir + "/wrapped.pt";
      writeZip(path, proto2() + "}" + unicode("w") + callable + args + "Rs.", storage);
      try {
        TensorMap t = readTensorFile(path);
        QVERIFY2(levels <= 4, "five nested _rebuild_from_type_v2 were followed");
        QVERIFY(t.at("w").equal(torch::tensor({3.f, 4.f})));
      } catch (const InputError& e) {
        QVERIFY2(levels == 5, e.what());
        QVERIFY2(std::string(e.what()).find("_rebuild_from_type_v2 calls nested more than 4") != std::string::npos,
                 e.what());
      }
    }
    // The file the fuzzer's finding grew into: t_k = (wrapper, None, t_k-1), then 10^5 calls wrapper(*t_D).
    std::string pkl = proto2() + wrapper + "q" + std::string(1, '\0') + "0)";
    const std::string link = "q\x01" "0h" + std::string(1, '\0') + "Nh\x01\x87";
    for (int k = 0; k < 100000; ++k) pkl += link;
    pkl += "q\x01" "0";
    const std::string call = "h" + std::string(1, '\0') + "h\x01R0";
    for (int k = 0; k < 100000; ++k) pkl += call;
    pkl += "}.";
    const std::string path = m_dir + "/chain.pt";
    writeZip(path, pkl, {});
    QElapsedTimer timer;
    timer.start();
    try {
      readStateDict(path);
      QFAIL("accepted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("nested more than 4") != std::string::npos, e.what());
    }
    QVERIFY2(timer.elapsed() < 20000, std::to_string(timer.elapsed()).c_str());
  }

  void badFilesGiveClearErrors_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("expected");
    QTest::newRow("missing") << "missing" << "does not exist";
    QTest::newRow("empty") << "empty" << "empty or truncated";
    QTest::newRow("foreign (text)") << "text" << "is not a PyTorch checkpoint";
    QTest::newRow("truncated zip") << "truncated" << "cannot be read";
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
