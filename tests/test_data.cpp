// Dataset layer: readers (IDX, CIFAR-10/100, image folders) and every corruption they report, subsets and
// splits, normalisation, seeded augmentation and the batch loader.
#include <QtTest/QtTest>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>

#include <zlib.h>

#include <stb/stb_image_write.h>  // implementation: stb_image_write_impl.cpp

#include "core/common/errors.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/common/logging.h"
#include "core/train/run_setup.h"
#include "torch_support.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

void writeBytes(const std::string& path, const Bytes& bytes, bool gzip = false) {
  fs::create_directories(fs::path(path).parent_path());
  if (gzip) {
    gzFile gz = gzopen(path.c_str(), "wb");
    if (!gz) throw std::runtime_error("gzopen failed: " + path);
    if (!bytes.empty()) gzwrite(gz, bytes.data(), unsigned(bytes.size()));
    gzclose(gz);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
}

Bytes readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

/// Image i has pixel 0 = i % 256, pixel 1 = i / 256 (a unique id), the rest a pattern.
Bytes idxImages(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 2051) {
  Bytes b;
  put32(b, magic);
  put32(b, n);
  put32(b, rows);
  put32(b, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < rows * cols; ++k)
      b.push_back(k == 0 ? uint8_t(i % 256) : k == 1 ? uint8_t(i / 256) : uint8_t((i * 7 + k * 13) % 256));
  return b;
}

Bytes idxLabels(uint32_t n, uint32_t magic = 2049) {
  Bytes b;
  put32(b, magic);
  put32(b, n);
  for (uint32_t i = 0; i < n; ++i) b.push_back(uint8_t(i % 10));
  return b;
}

/// The id idxImages wrote into each image.
std::vector<int64_t> imageIds(const rkd::TensorDataset& d) {
  auto flat = d.images.reshape({d.size(), -1}).to(torch::kInt64);
  auto ids = flat.select(1, 0) + 256 * flat.select(1, 1);
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

/// A fake Fashion-MNIST folder: `nTrain` training and `nTest` test images of rows x cols, labels i % 10.
void writeMnistFolder(const std::string& dir, uint32_t nTrain, uint32_t nTest, uint32_t rows = 28, uint32_t cols = 28) {
  writeBytes(dir + "/train-images-idx3-ubyte.gz", idxImages(nTrain, rows, cols), true);
  writeBytes(dir + "/train-labels-idx1-ubyte.gz", idxLabels(nTrain), true);
  writeBytes(dir + "/t10k-images-idx3-ubyte.gz", idxImages(nTest, rows, cols), true);
  writeBytes(dir + "/t10k-labels-idx1-ubyte.gz", idxLabels(nTest), true);
}

/// CIFAR records: `header` label bytes (CIFAR-100: coarse, fine), then 3072 pixels.
Bytes cifarRecords(int n, int header, int firstLabel, int labelMod) {
  Bytes b;
  for (int i = 0; i < n; ++i) {
    if (header == 2) b.push_back(uint8_t(i % 20));
    b.push_back(uint8_t((firstLabel + i) % labelMod));
    for (int k = 0; k < 3072; ++k) b.push_back(uint8_t((i * 31 + k) % 251));
  }
  return b;
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const rkd::InputError& e) {
    if (qEnvironmentVariableIsSet("RKD_TEST_SHOW_ERRORS")) qInfo("%s | fix: %s", e.what(), e.fix().c_str());
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InputError> ") + e.what();
  }
  return "<no error>";
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

#define VERIFY_CONTAINS(hay, needle)                                                                      \
  QVERIFY2(contains(hay, needle), qPrintable(QString::fromStdString("expected \"" + std::string(needle) + \
                                                                     "\" in: " + std::string(hay))))

Bytes joined(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& part : parts)
    for (uint8_t byte : part) out.push_back(byte);
  return out;
}

// Leaves `byte` in this much of the stack below the caller, as earlier calls leave their locals behind.
__attribute__((noinline)) void dirtyStack(uint8_t byte) {
  volatile uint8_t area[256 * 1024];
  for (size_t i = 0; i < sizeof area; ++i) area[i] = byte;
}

void writePng(const std::string& path, int w, int h, int comp, uint8_t base) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> px(size_t(w * h * comp));
  for (size_t k = 0; k < px.size(); ++k) px[k] = uint8_t(base + k * 3);
  if (!stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp)) throw std::runtime_error("png write failed");
}

}  // namespace

class TestData : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  // ---- IDX -------------------------------------------------------------------------------------------------

  void idxReads_data() {
    QTest::addColumn<bool>("gzip");
    QTest::newRow("plain") << false;
    QTest::newRow("gzip") << true;
  }
  void idxReads() {
    QFETCH(bool, gzip);
    auto dir = rkdtest::tempDir("idx");
    Bytes img = idxImages(20, 4, 5), lab = idxLabels(20);
    writeBytes(dir + "/i", img, gzip);
    writeBytes(dir + "/l", lab, gzip);
    auto d = rkd::readIdx(dir + "/i", dir + "/l");
    QCOMPARE(d.images.sizes().vec(), (std::vector<int64_t>{20, 1, 4, 5}));
    QCOMPARE(d.images.scalar_type(), torch::kUInt8);
    QCOMPARE(d.labels.scalar_type(), torch::kInt64);
    QCOMPARE(d.numClasses, int64_t(10));
    auto expected = torch::from_blob(img.data() + 16, {20, 1, 4, 5}, torch::kUInt8);
    QVERIFY(d.images.equal(expected));
    QCOMPARE(d.labels[13].item<int64_t>(), int64_t(3));
  }

  void mnistFolderLayouts() {
    auto dir = rkdtest::tempDir("mnistdir");
    writeMnistFolder(dir + "/FashionMNIST/raw", 30, 10, 28, 28);
    auto train = rkd::readMnistFolder(dir, true, rkd::DatasetKind::FashionMnist);
    auto test = rkd::readMnistFolder(dir, false, rkd::DatasetKind::FashionMnist);
    QCOMPARE(train.size(), int64_t(30));
    QCOMPARE(test.size(), int64_t(10));
    QCOMPARE(train.classNames.front(), std::string("T-shirt/top"));
    QCOMPARE(train.classNames.back(), std::string("Ankle boot"));
    // Plain (not gzipped) files with the "images.idx3-ubyte" spelling.
    auto plain = rkdtest::tempDir("mnistplain");
    writeBytes(plain + "/train-images.idx3-ubyte", idxImages(12, 28, 28));
    writeBytes(plain + "/train-labels.idx1-ubyte", idxLabels(12));
    auto m = rkd::readMnistFolder(plain, true, rkd::DatasetKind::Mnist);
    QCOMPARE(m.size(), int64_t(12));
    QCOMPARE(m.classNames[3], std::string("3"));
  }

  void idxErrors_data() {
    QTest::addColumn<QString>("kase");
    QTest::addColumn<QString>("badFile");  // "i" or "l": the file the message must name
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("image magic") << "imageMagic" << "i" << QStringList{"expected magic number 2051", "found 2052"};
    QTest::newRow("label magic") << "labelMagic" << "l" << QStringList{"expected magic number 2049", "found 2051"};
    QTest::newRow("truncated images") << "truncImages" << "i"
                                      << QStringList{"truncated", "expected 416 bytes", "found 409 bytes"};
    QTest::newRow("truncated labels") << "truncLabels" << "l"
                                      << QStringList{"truncated", "expected 28 bytes", "found 25 bytes"};
    QTest::newRow("count mismatch") << "count" << "l" << QStringList{"20 images", "19 labels", "expected equal"};
    QTest::newRow("label range") << "range" << "l" << QStringList{"label 3 is 12", "expected 0..9"};
    QTest::newRow("corrupt gzip") << "corruptGz" << "i" << QStringList{"corrupt gzip"};
    QTest::newRow("truncated gzip") << "truncGz" << "i" << QStringList{"corrupt gzip"};
    QTest::newRow("empty images") << "empty" << "i" << QStringList{"expected at least 16 bytes", "found 0 bytes"};
  }
  void idxErrors() {
    QFETCH(QString, kase);
    QFETCH(QString, badFile);
    QFETCH(QStringList, expected);
    auto dir = rkdtest::tempDir("idxerr");
    const std::string k = kase.toStdString();
    Bytes img = idxImages(20, 4, 5, k == "imageMagic" ? 2052 : 2051);
    Bytes lab = idxLabels(k == "count" ? 19 : 20, k == "labelMagic" ? 2051 : 2049);
    if (k == "truncImages") img.resize(img.size() - 7);
    if (k == "truncLabels") lab.resize(lab.size() - 3);
    if (k == "range") lab[8 + 3] = 12;
    if (k == "empty") img.clear();
    const bool gz = k == "corruptGz" || k == "truncGz";
    writeBytes(dir + "/i.gz", img, gz);
    writeBytes(dir + "/l.gz", lab, gz);
    if (gz) {
      Bytes z = readBytes(dir + "/i.gz");
      if (k == "corruptGz")
        for (size_t p = 20; p < z.size() - 12; p += 7) z[p] ^= 0x5a;
      else
        z.resize(z.size() / 2);
      writeBytes(dir + "/i.gz", z);
    }
    std::string msg = errorOf([&] { rkd::readIdx(dir + "/i.gz", dir + "/l.gz"); });
    VERIFY_CONTAINS(msg, dir + "/" + badFile.toStdString() + ".gz");
    for (const auto& e : expected) VERIFY_CONTAINS(msg, e.toStdString());
  }

  void idxMissingFile() {
    auto dir = rkdtest::tempDir("idxmissing");
    writeBytes(dir + "/train-images-idx3-ubyte.gz", idxImages(5, 28, 28), true);
    std::string msg = errorOf([&] { rkd::readMnistFolder(dir, true, rkd::DatasetKind::FashionMnist); });
    VERIFY_CONTAINS(msg, "train-labels-idx1-ubyte.gz");
    VERIFY_CONTAINS(msg, dir);
    msg = errorOf([&] { rkd::readMnistFolder(dir + "/nowhere", true, rkd::DatasetKind::Mnist); });
    VERIFY_CONTAINS(msg, dir + "/nowhere");
    VERIFY_CONTAINS(msg, "does not exist");
    msg = errorOf([&] { rkd::readMaybeGzip(dir + "/absent.gz"); });
    VERIFY_CONTAINS(msg, dir + "/absent.gz");
  }

  // ---- CIFAR -----------------------------------------------------------------------------------------------

  void cifar10Reads() {
    auto parent = rkdtest::tempDir("cifar10");
    auto dir = parent + "/cifar-10-batches-bin";
    for (int b = 1; b <= 5; ++b) writeBytes(dir + "/data_batch_" + std::to_string(b) + ".bin", cifarRecords(3, 1, b, 10));
    Bytes testBytes = cifarRecords(2, 1, 7, 10);
    writeBytes(dir + "/test_batch.bin", testBytes);
    for (const auto& where : {parent, dir}) {
      auto train = rkd::readCifar10(where, true);
      auto test = rkd::readCifar10(where, false);
      QCOMPARE(train.size(), int64_t(15));
      QCOMPARE(test.images.sizes().vec(), (std::vector<int64_t>{2, 3, 32, 32}));
      QCOMPARE(test.labels[1].item<int64_t>(), int64_t(8));
      QCOMPARE(train.labels[3].item<int64_t>(), int64_t(2));  // batch 2, record 0
      // Record layout: label, then the R, G, B planes of 32 x 32, row-major.
      for (int c = 0; c < 3; ++c)
        QCOMPARE(test.images[1][c][2][5].item<uint8_t>(), testBytes[size_t(3073 + 1 + c * 1024 + 2 * 32 + 5)]);
      QCOMPARE(train.classNames[0], std::string("airplane"));
      QCOMPARE(train.numClasses, int64_t(10));
    }
  }

  void cifar10Errors() {
    auto dir = rkdtest::tempDir("cifar10err");
    for (int b = 1; b <= 4; ++b) writeBytes(dir + "/data_batch_" + std::to_string(b) + ".bin", cifarRecords(3, 1, b, 10));
    std::string msg = errorOf([&] { rkd::readCifar10(dir, true); });
    VERIFY_CONTAINS(msg, "data_batch_5.bin");
    VERIFY_CONTAINS(msg, dir);

    Bytes truncated = cifarRecords(3, 1, 0, 10);
    truncated.resize(truncated.size() - 10);
    writeBytes(dir + "/data_batch_5.bin", truncated);
    msg = errorOf([&] { rkd::readCifar10(dir, true); });
    VERIFY_CONTAINS(msg, dir + "/data_batch_5.bin");
    VERIFY_CONTAINS(msg, "multiple of 3073");
    VERIFY_CONTAINS(msg, "found 9209 bytes");

    Bytes badLabel = cifarRecords(3, 1, 0, 10);
    badLabel[3073] = 10;
    writeBytes(dir + "/data_batch_5.bin", badLabel);
    msg = errorOf([&] { rkd::readCifar10(dir, true); });
    VERIFY_CONTAINS(msg, dir + "/data_batch_5.bin");
    VERIFY_CONTAINS(msg, "record 1 is 10");
    VERIFY_CONTAINS(msg, "expected 0..9");

    msg = errorOf([&] { rkd::readCifar10(dir, false); });
    VERIFY_CONTAINS(msg, "test_batch.bin");
  }

  void cifar100Reads() {
    auto parent = rkdtest::tempDir("cifar100");
    auto dir = parent + "/cifar-100-binary";
    writeBytes(dir + "/train.bin", cifarRecords(4, 2, 97, 100));
    writeBytes(dir + "/test.bin", cifarRecords(2, 2, 5, 100));
    auto train = rkd::readCifar100(parent, true);
    QCOMPARE(train.size(), int64_t(4));
    QCOMPARE(train.numClasses, int64_t(100));
    QCOMPARE(train.labels[2].item<int64_t>(), int64_t(99));  // the fine label, second byte
    QCOMPARE(train.labels[3].item<int64_t>(), int64_t(0));
    QCOMPARE(train.classNames[42], std::string("42"));  // no meta file: numbers
    std::string names;
    for (int i = 0; i < 100; ++i) names += "class_" + std::to_string(i) + "\n";
    writeBytes(dir + "/fine_label_names.txt", Bytes(names.begin(), names.end()));
    auto test = rkd::readCifar100(dir, false);
    QCOMPARE(test.size(), int64_t(2));
    QCOMPARE(test.classNames[99], std::string("class_99"));
    QCOMPARE(test.images[0][2][31][31].item<uint8_t>(), uint8_t((0 * 31 + 3071) % 251));
  }

  void cifar100Errors() {
    auto dir = rkdtest::tempDir("cifar100err");
    std::string msg = errorOf([&] { rkd::readCifar100(dir, true); });
    VERIFY_CONTAINS(msg, "train.bin");
    Bytes t = cifarRecords(2, 2, 0, 100);
    t.pop_back();
    writeBytes(dir + "/train.bin", t);
    msg = errorOf([&] { rkd::readCifar100(dir, true); });
    VERIFY_CONTAINS(msg, dir + "/train.bin");
    VERIFY_CONTAINS(msg, "multiple of 3074");
    VERIFY_CONTAINS(msg, "found 6147 bytes");
    t = cifarRecords(2, 2, 0, 100);
    t[1] = 100;
    writeBytes(dir + "/train.bin", t);
    msg = errorOf([&] { rkd::readCifar100(dir, true); });
    VERIFY_CONTAINS(msg, "record 0 is 100");
    VERIFY_CONTAINS(msg, "expected 0..99");
  }

  // ---- image folders ---------------------------------------------------------------------------------------

  void imageFolderReads() {
    auto root = rkdtest::tempDir("folder");
    writePng(root + "/dog/b.png", 6, 4, 3, 10);
    writePng(root + "/dog/a.PNG", 6, 4, 3, 20);
    writePng(root + "/cat/c.png", 6, 4, 3, 30);
    writeBytes(root + "/cat/readme.txt", Bytes{'x'});  // not an image: ignored
    auto d = rkd::readImageFolder(root);
    QCOMPARE(d.classNames, (std::vector<std::string>{"cat", "dog"}));
    QCOMPARE(d.images.sizes().vec(), (std::vector<int64_t>{3, 3, 4, 6}));
    QVERIFY(d.labels.equal(torch::tensor({0, 1, 1}, torch::kInt64)));
    // dog/a.PNG sorts before dog/b.png; pixel (y=1, x=2, c=1) is byte (1 * 6 + 2) * 3 + 1 of the file.
    QCOMPARE(d.images[1][1][1][2].item<uint8_t>(), uint8_t(20 + ((1 * 6 + 2) * 3 + 1) * 3));

    auto resized = rkd::readImageFolder(root, {8, 1, {}});
    QCOMPARE(resized.images.sizes().vec(), (std::vector<int64_t>{3, 1, 8, 8}));

    auto gray = rkdtest::tempDir("gray");
    writePng(gray + "/a/x.png", 5, 5, 1, 0);
    writePng(gray + "/b/y.png", 5, 5, 1, 7);
    auto g = rkd::readImageFolder(gray);
    QCOMPARE(g.channels(), int64_t(1));
    writePng(gray + "/b/z.png", 5, 5, 3, 9);  // one RGB image: everything becomes RGB
    QCOMPARE(rkd::readImageFolder(gray).channels(), int64_t(3));

    auto jpg = rkdtest::tempDir("jpg");
    std::vector<uint8_t> px(9 * 7 * 3, 128);
    fs::create_directories(jpg + "/one");
    fs::create_directories(jpg + "/two");
    QVERIFY(stbi_write_jpg((jpg + "/one/a.jpg").c_str(), 9, 7, 3, px.data(), 90));
    QVERIFY(stbi_write_jpg((jpg + "/two/b.jpg").c_str(), 9, 7, 3, px.data(), 90));
    auto j = rkd::readImageFolder(jpg);
    QCOMPARE(j.images.sizes().vec(), (std::vector<int64_t>{2, 3, 7, 9}));
    QVERIFY((j.images.to(torch::kInt32) - 128).abs().max().item<int>() <= 2);
  }

  // A folder dataset with one class is refused; one that mixes grey and RGB images says which it converted
  // (issue 14, finding 10).
  void imageFolderOneClassAndMixedChannels() {
    auto one = rkdtest::tempDir("one-class");
    writePng(one + "/cats/a.png", 4, 4, 3, 1);
    writePng(one + "/cats/b.png", 4, 4, 3, 2);
    std::string msg = errorOf([&] { rkd::readImageFolder(one); });
    VERIFY_CONTAINS(msg, "one class folder (\"cats\")");
    VERIFY_CONTAINS(msg, "at least two classes");
    // With the training split's class names (a test split), one folder is fine.
    QCOMPARE(rkd::readImageFolder(one, {0, 0, {"cats", "dogs"}}).size(), int64_t(2));

    auto mixed = rkdtest::tempDir("mixed");
    writePng(mixed + "/a/grey1.png", 4, 4, 1, 1);
    writePng(mixed + "/a/rgb.png", 4, 4, 3, 2);
    writePng(mixed + "/b/grey2.png", 4, 4, 1, 3);
    auto stream = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream);
    rkd::addLogSink(sink);
    const auto d = rkd::readImageFolder(mixed);
    rkd::removeLogSink(sink);
    QCOMPARE(d.channels(), int64_t(3));
    const std::string log = stream->str();
    VERIFY_CONTAINS(log, "2 of 3 images are grey and were converted to RGB");
    VERIFY_CONTAINS(log, "grey1.png");
  }

  // Found by tests/fuzz/fuzz_image: Debian 12's stb_image (2.27) writes past a Huffman table's code lengths when
  // a JPEG's DHT segment declares more than 256 codes. Such a file is refused before stb reads it; the same bytes
  // inside another segment (an APP1 payload) are not a table, and that image loads.
  void jpegWithOversizedHuffmanTableIsRefused() {
    auto root = rkdtest::tempDir("jpeg-dht");
    fs::create_directories(root + "/a");
    fs::create_directories(root + "/b");
    std::vector<uint8_t> px(8 * 8 * 3, 90);
    QVERIFY(stbi_write_jpg((root + "/a/good.jpg").c_str(), 8, 8, 3, px.data(), 90));
    const Bytes good = readBytes(root + "/a/good.jpg");
    // DHT: length 19, class 1 slot 0, then 16 code counts of which two are 255: 510 codes.
    const Bytes table{0xFF, 0xC4, 0x00, 0x13, 0x10, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const Bytes soi(good.begin(), good.begin() + 2), rest(good.begin() + 2, good.end());
    writeBytes(root + "/b/bad.jpg", joined({soi, table, rest}));
    std::string msg = errorOf([&] { rkd::readImageFolder(root); });
    VERIFY_CONTAINS(msg, root + "/b/bad.jpg");
    VERIFY_CONTAINS(msg, "declares 510 codes, more than the 256 a table holds");
    // stb also takes fill bytes (FF) before the start-of-image marker.
    writeBytes(root + "/b/bad.jpg", joined({{0xFF, 0xFF, 0xFF}, soi, table, rest}));
    msg = errorOf([&] { rkd::readImageFolder(root); });
    VERIFY_CONTAINS(msg, "declares 510 codes, more than the 256 a table holds");

    const Bytes app1Head{0xFF, 0xE1, 0x00, uint8_t(2 + table.size())};
    writeBytes(root + "/b/bad.jpg", joined({soi, app1Head, table, rest}));
    const auto d = rkd::readImageFolder(root);
    QCOMPARE(d.images.sizes().vec(), (std::vector<int64_t>{2, 3, 8, 8}));
    QVERIFY(d.images[0].equal(d.images[1]));
  }

  // Found by tests/fuzz/fuzz_image: a JPEG that never defines the quantisation tables its frame uses (here its
  // DQT marker is turned into an APP1, which decoders skip) was decoded by stb_image 2.27 from uninitialised
  // memory: whatever the heap held before, a different image each time. With glibc filling every new
  // allocation with another byte (M_PERTURB), the pixels must not change.
  void jpegWithUndefinedTablesDecodesTheSameEveryTime() {
    auto root = rkdtest::tempDir("jpeg-dqt");
    fs::create_directories(root + "/a");
    fs::create_directories(root + "/b");
    std::vector<uint8_t> px(16 * 16 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
    QVERIFY(stbi_write_jpg((root + "/a/x.jpg").c_str(), 16, 16, 3, px.data(), 90));
    Bytes bytes = readBytes(root + "/a/x.jpg");
    const uint8_t dqtMarker[] = {0xFF, 0xDB};
    auto dqt = std::search(bytes.begin(), bytes.end(), std::begin(dqtMarker), std::end(dqtMarker));
    QVERIFY(dqt != bytes.end());
    dqt[1] = 0xE1;
    writeBytes(root + "/a/x.jpg", bytes);
    writeBytes(root + "/b/x.jpg", bytes);
#ifdef M_PERTURB
    auto decode = [&](int garbage) {
      mallopt(M_PERTURB, garbage);
      torch::Tensor images = rkd::readImageFolder(root).images;
      mallopt(M_PERTURB, 0);
      return images;
    };
    const torch::Tensor first = decode(0x11);
    QVERIFY(first[0].equal(first[1]));
    for (int garbage : {0x5A, 0xC3, 0xFF}) QVERIFY2(decode(garbage).equal(first), std::to_string(garbage).c_str());
#else
    QSKIP("needs glibc's M_PERTURB");
#endif
  }

  // Found by tests/fuzz/fuzz_image: stb_image allocates what a PNG declares before it reads it, and a 98-byte
  // file whose IDAT chunk declared 1.5 GB made it allocate 1.5 GB. A header declaring 16384 x 16384 for a few
  // bytes of pixels is the same kind of file. Both are refused before stb decodes them.
  void pngDeclaringHugeSizesIsRefused() {
    auto root = rkdtest::tempDir("png-sizes");
    writePng(root + "/a/ok.png", 4, 3, 1, 0);
    const Bytes good = readBytes(root + "/a/ok.png");
    const auto put32At = [](Bytes& b, size_t at, uint32_t v) {
      for (int k = 0; k < 4; ++k) b[at + size_t(k)] = uint8_t(v >> (24 - 8 * k));
    };
    Bytes chunk = good;
    const uint8_t idatType[] = {'I', 'D', 'A', 'T'};
    const auto idat = std::search(chunk.begin(), chunk.end(), std::begin(idatType), std::end(idatType));
    QVERIFY(idat != chunk.end());
    put32At(chunk, size_t(idat - chunk.begin()) - 4, 0x5D000027u);
    writeBytes(root + "/b/chunk.png", chunk);
    std::string msg = errorOf([&] { rkd::readImageFolder(root, {8, 0, {}}); });
    VERIFY_CONTAINS(msg, root + "/b/chunk.png");
    VERIFY_CONTAINS(msg, "IDAT chunk (at byte 33) declares 1560281127 bytes");

    fs::remove(root + "/b/chunk.png");
    Bytes huge = good;
    put32At(huge, 16, 16384);  // IHDR width and height
    put32At(huge, 20, 16384);
    writeBytes(root + "/b/huge.png", huge);
    msg = errorOf([&] { rkd::readImageFolder(root, {8, 0, {}}); });
    VERIFY_CONTAINS(msg, root + "/b/huge.png");
    VERIFY_CONTAINS(msg, "is 16384x16384, more than the 67108864 pixels (8192 x 8192) this reader decodes");
  }

  // Found by tests/fuzz/fuzz_image: stb_image 2.27 does not check a palette PNG's pixels against its palette, and
  // an index past the PLTE entries read uninitialised stack memory (a different image after other calls had
  // left other bytes on the stack). Such pixels now read black, whatever the stack held.
  void pngPaletteIndexPastThePaletteReadsBlack() {
    auto root = rkdtest::tempDir("png-palette");
    const auto chunk = [](const char* type, const Bytes& data) {
      Bytes length, crc;
      put32(length, uint32_t(data.size()));
      const Bytes body = joined({Bytes(type, type + 4), data});
      put32(crc, uint32_t(crc32(0, body.data(), uInt(body.size()))));
      return joined({length, body, crc});
    };
    // 4 x 1, 8-bit palette of two entries (red, green); the pixels use indices 0, 1, 200 and 255.
    const Bytes raw{0, 0, 1, 200, 255};  // filter byte, then the row
    Bytes packed(compressBound(uLong(raw.size())));
    uLongf packedSize = uLongf(packed.size());
    QCOMPARE(compress(packed.data(), &packedSize, raw.data(), uLong(raw.size())), Z_OK);
    packed.resize(packedSize);
    const Bytes png = joined({{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'},
                              chunk("IHDR", {0, 0, 0, 4, 0, 0, 0, 1, 8, 3, 0, 0, 0}),
                              chunk("PLTE", {255, 0, 0, 0, 255, 0}), chunk("IDAT", packed), chunk("IEND", {})});
    writeBytes(root + "/a/p.png", png);
    writeBytes(root + "/b/p.png", png);
    for (const uint8_t stackByte : {uint8_t(0x00), uint8_t(0xAB), uint8_t(0x5C)}) {
      dirtyStack(stackByte);
      const torch::Tensor images = rkd::readImageFolder(root).images;
      QCOMPARE(images.sizes().vec(), (std::vector<int64_t>{2, 3, 1, 4}));
      const torch::Tensor expected = torch::tensor({255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0}, torch::kUInt8);
      for (int i = 0; i < 2; ++i)
        QVERIFY2(images[i].flatten().equal(expected), (std::to_string(stackByte) + ": " +
                                                       torch::str(images[i].flatten())).c_str());
    }
  }

  void imageFolderErrors() {
    auto root = rkdtest::tempDir("foldererr");
    writePng(root + "/a/x.png", 4, 4, 3, 0);
    fs::create_directories(root + "/b");
    std::string msg = errorOf([&] { rkd::readImageFolder(root); });
    VERIFY_CONTAINS(msg, root + "/b");
    VERIFY_CONTAINS(msg, "empty");
    VERIFY_CONTAINS(msg, "found none");

    writeBytes(root + "/b/broken.png", Bytes{'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
    msg = errorOf([&] { rkd::readImageFolder(root); });
    VERIFY_CONTAINS(msg, "unreadable image");
    VERIFY_CONTAINS(msg, root + "/b/broken.png");

    fs::remove(root + "/b/broken.png");
    writePng(root + "/b/big.png", 5, 4, 3, 0);
    msg = errorOf([&] { rkd::readImageFolder(root); });
    VERIFY_CONTAINS(msg, root + "/b/big.png");
    VERIFY_CONTAINS(msg, "is 5x4, expected 4x4");

    auto empty = rkdtest::tempDir("folderempty");
    msg = errorOf([&] { rkd::readImageFolder(empty); });
    VERIFY_CONTAINS(msg, "expected one sub-folder per class, found none");
    msg = errorOf([&] { rkd::readImageFolder(empty + "/missing"); });
    VERIFY_CONTAINS(msg, empty + "/missing");
  }

  void folderDatasetSplits() {
    auto root = rkdtest::tempDir("folderds");
    for (int i = 0; i < 10; ++i) {
      writePng(root + "/a/" + std::to_string(i) + ".png", 4, 4, 3, uint8_t(i));
      writePng(root + "/b/" + std::to_string(i) + ".png", 4, 4, 3, uint8_t(100 + i));
    }
    rkd::DatasetSpec spec;
    spec.kind = rkd::DatasetKind::Folder;
    spec.path = root;
    spec.folderTestFraction = 0.2;
    auto s = rkd::loadDataset(spec);
    QCOMPARE(s.train.size(), int64_t(16));
    QCOMPARE(s.test.size(), int64_t(4));
    QCOMPARE(s.test.classCounts(), (std::vector<int64_t>{2, 2}));
    QVERIFY(s.normalizationComputed);
    QCOMPARE(s.normalization.mean.size(), size_t(3));
  }

  // ---- loadDataset: spec, subsets, splits, statistics ------------------------------------------------------

  void kindNames() {
    QVERIFY(rkd::datasetKindFromString("Fashion-MNIST") == rkd::DatasetKind::FashionMnist);
    QVERIFY(rkd::datasetKindFromString("cifar-100") == rkd::DatasetKind::Cifar100);
    for (auto k : {rkd::DatasetKind::FashionMnist, rkd::DatasetKind::Mnist, rkd::DatasetKind::Cifar10,
                   rkd::DatasetKind::Cifar100, rkd::DatasetKind::Folder})
      QVERIFY(rkd::datasetKindFromString(rkd::toString(k)) == k);
    std::string msg = errorOf([] { rkd::datasetKindFromString("imagenet"); });
    VERIFY_CONTAINS(msg, "imagenet");
    VERIFY_CONTAINS(msg, "fashion-mnist, mnist, cifar10, cifar100, folder");
  }

  void subsetIsStratifiedAndDeterministic() {
    auto dir = rkdtest::tempDir("subset");
    writeMnistFolder(dir, 200, 50);
    rkd::DatasetSpec spec;
    spec.path = dir;
    spec.perClass = 7;
    spec.seed = 11;
    auto a = rkd::loadDataset(spec);
    auto b = rkd::loadDataset(spec);
    QCOMPARE(a.train.size(), int64_t(70));
    QCOMPARE(a.train.classCounts(), std::vector<int64_t>(10, 7));
    QCOMPARE(imageIds(a.train), imageIds(b.train));
    QVERIFY(a.train.images.equal(b.train.images));
    spec.seed = 12;
    auto c = rkd::loadDataset(spec);
    QVERIFY(imageIds(a.train) != imageIds(c.train));
    QCOMPARE(c.train.classCounts(), std::vector<int64_t>(10, 7));
    // Labels agree with the ids (label = id % 10): the subset keeps image/label pairs together.
    auto ids = imageIds(a.train);
    for (int64_t i = 0; i < a.train.size(); ++i) QCOMPARE(a.train.labels[i].item<int64_t>(), ids[size_t(i)] % 10);
    QCOMPARE(a.test.size(), int64_t(50));
  }

  // data.subset first: the first N of each class in the file's order (what a script that slices the data takes),
  // whatever the seed; and data.subset_seed holds the cuts fixed while the run's seed changes.
  void subsetFirstAndSubsetSeed() {
    auto dir = rkdtest::tempDir("subsetfirst");
    writeMnistFolder(dir, 200, 50);  // image id = its index, label = id % 10
    rkd::DatasetSpec spec;
    spec.path = dir;
    spec.perClass = 7;
    spec.testPerClass = 2;
    spec.subset = rkd::SubsetChoice::First;
    std::vector<int64_t> firstIds(70), firstTest(20);
    std::iota(firstIds.begin(), firstIds.end(), 0);
    std::iota(firstTest.begin(), firstTest.end(), 0);
    for (uint64_t seed : {1u, 2u, 99u}) {
      spec.seed = seed;
      auto s = rkd::loadDataset(spec);
      QCOMPARE(imageIds(s.train), firstIds);
      QCOMPARE(imageIds(s.test), firstTest);
      QCOMPARE(s.train.classCounts(), std::vector<int64_t>(10, 7));
    }
    spec.subset = rkd::SubsetChoice::Random;
    QVERIFY(imageIds(rkd::loadDataset(spec).train) != firstIds);

    // The config's fields reach the spec: -1 takes the run's seed, else the subset seed holds.
    rkd::DataConfig data;
    data.perClass = 7;
    QCOMPARE(rkd::datasetSpecOf(data, 5).seed, uint64_t(5));
    QVERIFY(rkd::datasetSpecOf(data, 5).subset == rkd::SubsetChoice::Random);
    data.subsetSeed = 3;
    data.subset = "first";
    QCOMPARE(rkd::datasetSpecOf(data, 5).seed, uint64_t(3));
    QCOMPARE(rkd::datasetSpecOf(data, 6).seed, uint64_t(3));
    QVERIFY(rkd::datasetSpecOf(data, 6).subset == rkd::SubsetChoice::First);
    data.subset = "random";
    data.path = dir;
    const auto runSeed1 = rkd::loadDataset(rkd::datasetSpecOf(data, 1));
    const auto runSeed2 = rkd::loadDataset(rkd::datasetSpecOf(data, 2));
    QCOMPARE(imageIds(runSeed1.train), imageIds(runSeed2.train));  // same subset seed, same images
  }

  void validationSplitIsDisjoint() {
    auto dir = rkdtest::tempDir("val");
    writeMnistFolder(dir, 200, 30);
    rkd::DatasetSpec spec;
    spec.path = dir;
    spec.perClass = 10;
    spec.valCount = 20;
    spec.testPerClass = 2;
    spec.seed = 3;
    auto s = rkd::loadDataset(spec);
    QCOMPARE(s.train.size(), int64_t(80));
    QCOMPARE(s.val.size(), int64_t(20));
    QCOMPARE(s.val.classCounts(), std::vector<int64_t>(10, 2));
    QCOMPARE(s.test.size(), int64_t(20));
    auto t = imageIds(s.train), v = imageIds(s.val);
    std::set<int64_t> trainIds(t.begin(), t.end()), valIds(v.begin(), v.end());
    QCOMPARE(trainIds.size(), size_t(80));
    QCOMPARE(valIds.size(), size_t(20));
    for (auto id : valIds) QVERIFY(!trainIds.count(id));

    spec.perClass = 0;
    spec.valCount = 0;
    spec.valFraction = 0.1;
    s = rkd::loadDataset(spec);
    QCOMPARE(s.val.size(), int64_t(20));
    QCOMPARE(s.train.size(), int64_t(180));

    spec.valFraction = 0;
    s = rkd::loadDataset(spec);
    QCOMPARE(s.val.size(), int64_t(0));

    // Uneven classes: largest remainders, exact total.
    auto [kept, held] = rkd::stratifiedSplit(s.train.select(torch::arange(0, 23)), 5, 1);
    QCOMPARE(held.size(), int64_t(5));
    QCOMPARE(kept.size(), int64_t(18));
  }

  void normalisationStats() {
    auto dir = rkdtest::tempDir("stats");
    writeMnistFolder(dir, 60, 10, 8, 8);
    rkd::DatasetSpec spec;
    spec.path = dir;
    auto s = rkd::loadDataset(spec);
    QVERIFY(s.normalizationComputed);
    auto x = s.train.images.to(torch::kFloat64) / 255.0;
    QVERIFY(std::abs(s.normalization.mean[0] - x.mean().item<double>()) < 1e-9);
    QVERIFY(std::abs(s.normalization.std[0] - x.std(false).item<double>()) < 1e-6);

    spec.mean = {0.5};
    spec.std = {0.25};
    s = rkd::loadDataset(spec);
    QVERIFY(!s.normalizationComputed);
    QCOMPARE(s.normalization.mean[0], 0.5);
    spec.mean = {0.5, 0.5, 0.5};
    spec.std = {0.2, 0.2, 0.2};
    std::string msg = errorOf([&] { rkd::loadDataset(spec); });
    VERIFY_CONTAINS(msg, "expected 1 mean and std values");

    auto cifar = rkd::cifarNormalization();
    QVERIFY(std::abs(cifar.mean[0] - 125.3 / 255) < 1e-12);
    QVERIFY(std::abs(cifar.std[2] - 66.7 / 255) < 1e-12);

    // A batch normalised with the stats has mean ~0 and std ~1 over the whole training set.
    spec.mean.clear();
    spec.std.clear();
    s = rkd::loadDataset(spec);
    auto z = rkd::normalizeImages(s.train.images, s.normalization);
    QCOMPARE(z.scalar_type(), torch::kFloat32);
    QVERIFY(std::abs(z.mean().item<double>()) < 1e-4);
    QVERIFY(std::abs(z.std(false).item<double>() - 1.0) < 1e-4);
  }

  // data.channels: grey replicated to RGB, RGB to grey as PIL's convert('L') computes it.
  void channelsAreConverted() {
    auto dir = rkdtest::tempDir("channels");
    writeMnistFolder(dir, 20, 10, 28, 28);
    rkd::DatasetSpec spec;
    spec.path = dir;
    spec.channels = 3;
    auto s = rkd::loadDataset(spec);
    QCOMPARE(s.train.images.sizes().vec(), (std::vector<int64_t>{20, 3, 28, 28}));
    auto raw = rkd::readMnistFolder(dir, true);
    for (int c = 0; c < 3; ++c) QVERIFY(s.train.images.select(1, c).equal(raw.images.select(1, 0)));
    QCOMPARE(s.normalization.mean.size(), size_t(3));
    QCOMPARE(s.normalization.mean[0], s.normalization.mean[2]);
    spec.channels = 2;
    VERIFY_CONTAINS(errorOf([&] { rkd::loadDataset(spec); }), "channels must be 1, 3");
    // PIL: convert('L') of (255, 0, 0) is 76, of (0, 255, 0) 150, of (0, 0, 255) 29, of (10, 200, 30) 124.
    rkd::TensorDataset rgb;
    rgb.images = torch::tensor({255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30}, torch::kUInt8).view({4, 1, 1, 3})
                     .permute({0, 3, 1, 2}).contiguous();
    rgb.labels = torch::zeros({4}, torch::kLong);
    rgb.numClasses = 1;
    auto grey = rkd::convertChannels(rgb, 1);
    QVERIFY(grey.images.flatten().equal(torch::tensor({76, 150, 29, 124}, torch::kUInt8)));
  }

  void padTo32() {
    auto dir = rkdtest::tempDir("pad");
    writeMnistFolder(dir, 20, 10, 28, 28);
    rkd::DatasetSpec spec;
    spec.path = dir;
    spec.padTo = 32;
    auto s = rkd::loadDataset(spec);
    QCOMPARE(s.train.images.sizes().vec(), (std::vector<int64_t>{20, 1, 32, 32}));
    QCOMPARE(s.test.height(), int64_t(32));
    auto raw = rkd::readMnistFolder(dir, true);
    QVERIFY(s.train.images.narrow(2, 2, 28).narrow(3, 2, 28).equal(raw.images));
    QCOMPARE(s.train.images.narrow(2, 0, 2).sum().item<int64_t>(), int64_t(0));
    QCOMPARE(s.train.images.narrow(3, 30, 2).sum().item<int64_t>(), int64_t(0));
    spec.padTo = 20;
    std::string msg = errorOf([&] { rkd::loadDataset(spec); });
    VERIFY_CONTAINS(msg, "28x28");
  }

  void specErrors() {
    rkd::DatasetSpec spec;
    spec.path = "/nonexistent/reviewkd-data";
    std::string msg = errorOf([&] { rkd::loadDataset(spec); });
    VERIFY_CONTAINS(msg, "/nonexistent/reviewkd-data");
    VERIFY_CONTAINS(msg, "does not exist");
    spec.kind = rkd::DatasetKind::Cifar10;
    spec.path.clear();
    msg = errorOf([&] { rkd::loadDataset(spec); });
    VERIFY_CONTAINS(msg, "no default location");
    spec.kind = rkd::DatasetKind::FashionMnist;
    spec.valFraction = 1.5;
    msg = errorOf([&] { rkd::loadDataset(spec); });
    VERIFY_CONTAINS(msg, "valFraction");
    try {
      spec.valFraction = 0;
      spec.path = "/nonexistent/x";
      rkd::loadDataset(spec);
    } catch (const rkd::InputError& e) {
      QVERIFY(!e.fix().empty());
    }
  }

  void realFashionMnist() {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) QSKIP("Fashion-MNIST not installed (scripts/setup installs it)");
    rkd::DatasetSpec spec;  // the default: Fashion-MNIST at its default path
    auto s = rkd::loadDataset(spec);
    QCOMPARE(s.train.images.sizes().vec(), (std::vector<int64_t>{60000, 1, 28, 28}));
    QCOMPARE(s.test.images.sizes().vec(), (std::vector<int64_t>{10000, 1, 28, 28}));
    QCOMPARE(s.train.numClasses, int64_t(10));
    QCOMPARE(s.train.classCounts(), std::vector<int64_t>(10, 6000));
    QCOMPARE(s.test.classCounts(), std::vector<int64_t>(10, 1000));
    QCOMPARE(s.train.classNames[9], std::string("Ankle boot"));
    QVERIFY(std::abs(s.normalization.mean[0] - 0.2860) < 2e-3);
    QVERIFY(std::abs(s.normalization.std[0] - 0.3530) < 2e-3);
  }

  // ---- augmentation and loading ----------------------------------------------------------------------------

  void augmentDefaults() {
    QVERIFY(!rkd::defaultAugmentation(rkd::DatasetKind::Mnist).horizontalFlip);
    QVERIFY(rkd::defaultAugmentation(rkd::DatasetKind::FashionMnist).horizontalFlip);
    QVERIFY(rkd::defaultAugmentation(rkd::DatasetKind::Cifar10).horizontalFlip);
    QVERIFY(rkd::defaultAugmentation(rkd::DatasetKind::Folder).horizontalFlip);
    QCOMPARE(rkd::defaultAugmentation(rkd::DatasetKind::Cifar100).cropPadding, int64_t(4));
  }

  void augmentDeterminism() {
    auto images = torch::randint(0, 256, {16, 3, 8, 8}, torch::kUInt8);
    rkd::Normalization norm{{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}};
    rkd::Augmenter a({4, true}, norm, 42), b({4, true}, norm, 42), c({4, true}, norm, 43);
    auto xa = a(images), xb = b(images), xc = c(images);
    QCOMPARE(xa.sizes().vec(), images.sizes().vec());
    QCOMPARE(xa.scalar_type(), torch::kFloat32);
    QVERIFY(xa.equal(xb));
    QVERIFY(!xa.equal(xc));
    QVERIFY(!a(images).equal(xa));  // the stream advances
    a.reseed(42);
    QVERIFY(a(images).equal(xa));
  }

  void cropPadsWithZeros() {
    auto images = torch::full({64, 1, 8, 8}, 255, torch::kUInt8);
    rkd::Augmenter aug({4, false}, {{0.0}, {1.0}}, 5);
    auto out = aug.augmentRaw(images);
    QCOMPARE(out.sizes().vec(), images.sizes().vec());
    QCOMPARE(out.scalar_type(), torch::kUInt8);
    int withZeros = 0;
    for (int64_t i = 0; i < 64; ++i) {
      auto img = out[i][0];
      QVERIFY(((img == 0) | (img == 255)).all().item<bool>());
      auto rowMask = (img.amax(1) > 0), colMask = (img.amax(0) > 0);
      // The 255s form one rectangle; the zeros are whole rows/columns at an edge.
      QVERIFY(img.equal((rowMask.view({8, 1}) & colMask.view({1, 8})).to(torch::kUInt8) * 255));
      for (auto mask : {rowMask, colMask}) {
        auto m = mask.to(torch::kInt64);
        const int64_t ones = m.sum().item<int64_t>();
        QVERIFY(ones >= 4);  // at most 4 zero rows/columns
        QVERIFY(m[0].item<int64_t>() == 1 || m[7].item<int64_t>() == 1);
        // contiguous: exactly one 0->1 or 1->0 transition at most on each side
        QVERIFY((m.narrow(0, 1, 7) - m.narrow(0, 0, 7)).abs().sum().item<int64_t>() <= 1);
      }
      if ((img == 0).any().item<bool>()) ++withZeros;
    }
    QVERIFY(withZeros > 32);
    // And the normalised output maps the padded raw 0 to (0 - mean) / std.
    rkd::Augmenter aug2({4, false}, {{0.5}, {0.5}}, 5);
    auto z = aug2(images);
    QVERIFY(((z - (-1.0)).abs() < 1e-6).logical_or((z - 1.0).abs() < 1e-6).all().item<bool>());
  }

  void cropMatchesReference() {
    // Every output image is one of the (2p+1)^2 crops of the zero-padded input, flipped or not.
    const int64_t p = 2;
    auto images = torch::randint(0, 256, {12, 3, 6, 7}, torch::kUInt8);
    rkd::Augmenter aug({p, true}, {{0, 0, 0}, {1, 1, 1}}, 9);
    auto out = aug.augmentRaw(images);
    auto padded = torch::constant_pad_nd(images, {p, p, p, p}, 0);
    int flipped = 0;
    for (int64_t i = 0; i < 12; ++i) {
      bool found = false;
      for (int64_t dy = 0; dy <= 2 * p && !found; ++dy)
        for (int64_t dx = 0; dx <= 2 * p && !found; ++dx) {
          auto crop = padded[i].narrow(1, dy, 6).narrow(2, dx, 7);
          if (out[i].equal(crop)) {
            found = true;
          } else if (out[i].equal(crop.flip({2}))) {
            found = true;
            ++flipped;
          }
        }
      QVERIFY2(found, qPrintable(QString("image %1 is no crop of its padded input").arg(i)));
    }
    QVERIFY(flipped > 0 && flipped < 12);
  }

  void flipOnly() {
    auto images = torch::randint(0, 256, {32, 2, 5, 5}, torch::kUInt8);
    rkd::Augmenter aug({0, true}, {{0, 0}, {1, 1}}, 1);
    auto out = aug.augmentRaw(images);
    int flips = 0;
    for (int64_t i = 0; i < 32; ++i) {
      if (out[i].equal(images[i])) continue;
      QVERIFY(out[i].equal(images[i].flip({2})));  // left-right: the width axis
      ++flips;
    }
    QVERIFY(flips > 4 && flips < 28);
    rkd::Augmenter none({0, false}, {{0, 0}, {1, 1}}, 1);
    QVERIFY(none.augmentRaw(images).equal(images));
  }

  void batchLoader() {
    rkd::TensorDataset d;
    d.images = torch::arange(10, torch::kInt64).to(torch::kUInt8).view({10, 1, 1, 1}).expand({10, 1, 2, 2}).contiguous();
    d.labels = torch::arange(10, torch::kInt64);
    d.numClasses = 10;
    rkd::Normalization norm{{0.0}, {1.0 / 255}};  // normalised value = raw value
    rkd::BatchLoaderOptions opts;
    opts.batchSize = 4;
    opts.seed = 7;
    rkd::BatchLoader loader(d, norm, opts);
    QCOMPARE(loader.batchesPerEpoch(), int64_t(3));
    bool valuesMatchLabels = true;
    auto epochOrder = [&](rkd::BatchLoader& l, int64_t epoch, std::vector<int64_t>* sizes = nullptr) {
      l.startEpoch(epoch);
      std::vector<int64_t> order;
      rkd::Batch b;
      while (l.next(b)) {
        if (sizes) sizes->push_back(b.labels.size(0));
        if (!b.images.select(3, 0).select(2, 0).select(1, 0).round().to(torch::kInt64).equal(b.labels))
          valuesMatchLabels = false;
        for (int64_t k = 0; k < b.labels.size(0); ++k) order.push_back(b.labels[k].item<int64_t>());
      }
      return order;
    };
    std::vector<int64_t> sizes;
    auto e0 = epochOrder(loader, 0, &sizes);
    QCOMPARE(sizes, (std::vector<int64_t>{4, 4, 2}));  // the last partial batch is kept
    QVERIFY(valuesMatchLabels);
    auto sorted = e0;
    std::sort(sorted.begin(), sorted.end());
    QCOMPARE(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    QCOMPARE(epochOrder(loader, 0), e0);  // same (seed, epoch): same order
    auto e1 = epochOrder(loader, 1);
    QVERIFY(e1 != e0);
    rkd::BatchLoader again(d, norm, opts);
    QCOMPARE(epochOrder(again, 1), e1);
    opts.shuffle = false;
    rkd::BatchLoader plain(d, norm, opts);
    QCOMPARE(epochOrder(plain, 3), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

    // With augmentation: deterministic per (seed, epoch).
    opts.shuffle = true;
    opts.augment = rkd::AugmentOptions{1, true};
    rkd::BatchLoader augA(d, norm, opts), augB(d, norm, opts);
    rkd::Batch a, b;
    augA.startEpoch(2);
    augB.startEpoch(2);
    QVERIFY(augA.next(a) && augB.next(b));
    QVERIFY(a.images.equal(b.images));
    QVERIFY(a.labels.equal(b.labels));
  }

  void deviceMatchesCpu() {
    if (!torch::cuda::is_available()) QSKIP("no CUDA device");
    auto images = torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8);
    rkd::Normalization norm = rkd::cifarNormalization();
    rkd::Augmenter cpu({4, true}, norm, 3), gpu({4, true}, norm, 3);
    auto onCpu = cpu(images);
    auto onGpu = gpu(images.to(torch::kCUDA));
    QVERIFY(onGpu.is_cuda());
    QVERIFY(torch::allclose(onGpu.cpu(), onCpu, 1e-5, 1e-5));
    rkd::TensorDataset d;
    d.images = images;
    d.labels = torch::arange(64, torch::kInt64) % 10;
    d.numClasses = 10;
    rkd::BatchLoaderOptions opts;
    opts.batchSize = 20;
    opts.augment = rkd::AugmentOptions{};
    rkd::BatchLoader lc(d, norm, opts);
    opts.device = torch::kCUDA;
    rkd::BatchLoader lg(d, norm, opts);
    rkd::Batch bc, bg;
    while (lc.next(bc)) {
      QVERIFY(lg.next(bg));
      QVERIFY(bg.images.is_cuda());
      QVERIFY(bg.labels.cpu().equal(bc.labels));
      QVERIFY(torch::allclose(bg.images.cpu(), bc.images, 1e-5, 1e-5));
    }
  }
};

QTEST_GUILESS_MAIN(TestData)
#include "test_data.moc"
