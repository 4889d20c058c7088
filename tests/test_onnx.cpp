// ONNX export checked by an independent runtime: one network of every family of the zoo, with BatchNorm
// statistics far from the identity, is exported with its BatchNorms folded, read back with ONNX's protobuf
// classes, and run by OpenCV's DNN module, whose logits must match the engine's unfused eval-mode forward.
#include <QtTest/QtTest>

#include <onnx/onnx_pb.h>
#include <opencv2/dnn.hpp>

#include <fstream>
#include <functional>

#include "core/common/errors.h"
#include "core/export/onnx_export.h"
#include "core/models/backbone.h"
#include "torch_support.h"

namespace {

constexpr double kTolerance = 1e-4;

/// A network outside the zoo whose forward uses an operation the exporter has no rule for (a sigmoid). Built
/// as "fused" so that export takes it as it is.
class SigmoidNetImpl : public rkd::BackboneImpl {
 public:
  SigmoidNetImpl() : rkd::BackboneImpl({"sigmoid-net", 10, 1}, /*fused=*/true) {
    fc = register_module("fc", torch::nn::Linear(1, 10));
  }
  rkd::BackboneOutput forwardAll(const torch::Tensor& x, bool) override {
    rkd::BackboneOutput out;
    out.pooled = torch::sigmoid(x).mean({2, 3});
    out.logits = fc(out.pooled);
    return out;
  }
  std::string classifierName() const override { return "fc"; }
  torch::nn::Linear fc{nullptr};
};

onnx::ModelProto readModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) throw std::runtime_error("cannot parse " + path + " as an ONNX model");
  return model;
}

std::map<std::string, int64_t> opCounts(const onnx::ModelProto& model) {
  std::map<std::string, int64_t> counts;
  for (const auto& node : model.graph().node()) ++counts[node.op_type()];
  return counts;
}

QString countsText(const std::map<std::string, int64_t>& counts) {
  QStringList parts;
  for (const auto& [op, n] : counts) parts << QString("%1 %2").arg(QString::fromStdString(op)).arg(n);
  return parts.join(", ");
}

/// Runs the ONNX file in OpenCV's DNN module (its own importer and CPU kernels) on `x` (N x C x H x W).
torch::Tensor runInOpenCv(const std::string& path, const torch::Tensor& x) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  torch::Tensor input = x.to(torch::kFloat).contiguous();
  const std::vector<int> dims(input.sizes().begin(), input.sizes().end());
  cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F, input.data_ptr<float>());
  net.setInput(blob, "input");
  cv::Mat out = net.forward("logits");
  std::vector<int64_t> shape(out.size.p, out.size.p + out.dims);
  return torch::from_blob(out.ptr<float>(), shape, torch::kFloat).clone();
}

/// The message of the rkd::InputError that `f` throws; empty when it throws none.
QString inputErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const rkd::InputError& e) {
    return e.what();
  }
  return {};
}

/// Python's ONNX checker (full check, with shape inference) as a second opinion, when python3-onnx is installed.
bool pythonOnnxAvailable() {
  static const bool available = QProcess::execute("/usr/bin/python3", {"-c", "import onnx"}) == 0;
  return available;
}

}  // namespace

class TestOnnx : public QObject {
  Q_OBJECT
  std::string m_dir;

 private Q_SLOTS:
  void initTestCase() {
    // $REVIEWKD_ONNX_DIR keeps the exported files for a look with other tools; by default they are temporary.
    const QByteArray keep = qgetenv("REVIEWKD_ONNX_DIR");
    m_dir = keep.isEmpty() ? rkdtest::tempDir("onnx") : keep.toStdString();
    torch::manual_seed(7);
  }

  void matchesOpenCv_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("classes");
    QTest::newRow("resnet8 3x32") << "resnet8" << 3 << 32 << 100;
    QTest::newRow("resnet8 1x28") << "resnet8" << 1 << 28 << 10;
    QTest::newRow("resnet8x4 3x32") << "resnet8x4" << 3 << 32 << 100;
    QTest::newRow("wrn-16-2 3x32") << "wrn-16-2" << 3 << 32 << 100;
    QTest::newRow("wrn-16-1 1x28") << "wrn-16-1" << 1 << 28 << 10;
    QTest::newRow("vgg8 3x32") << "vgg8" << 3 << 32 << 100;
    QTest::newRow("vgg8 1x28") << "vgg8" << 1 << 28 << 10;
    QTest::newRow("mobilenetv2 3x32") << "mobilenetv2" << 3 << 32 << 100;
    QTest::newRow("shufflev1 3x32") << "shufflev1" << 3 << 32 << 100;
    QTest::newRow("shufflev1 1x28") << "shufflev1" << 1 << 28 << 10;
    QTest::newRow("shufflev2 3x32") << "shufflev2" << 3 << 32 << 100;
    QTest::newRow("resnet50 3x32") << "resnet50" << 3 << 32 << 100;
  }

  void matchesOpenCv() {
    QFETCH(QString, arch);
    QFETCH(int, channels);
    QFETCH(int, size);
    QFETCH(int, classes);
    torch::NoGradGuard noGrad;
    rkd::Backbone net = rkd::createBackbone({arch.toStdString(), classes, channels});
    rkdtest::randomiseBatchNorms(*net);
    net->eval();
    const std::string family = rkd::findZooEntry(arch.toStdString())->family;
    const std::string stem = m_dir + "/" + QString(QTest::currentDataTag()).replace(' ', '-').toStdString();

    // Fixed batch of 2.
    const std::string fixedPath = stem + ".onnx";
    const rkd::OnnxExportReport report = rkd::exportOnnx(net, size, fixedPath, {2, false, 13});
    QCOMPARE(report.inputShape, (std::vector<int64_t>{2, channels, size, size}));
    QCOMPARE(report.outputShape, (std::vector<int64_t>{2, classes}));
    QCOMPARE(report.foldedBatchNorms, int64_t(net->foldablePairs().size()));

    // The file as another reader sees it: no Identity node, only the unfoldable BatchNorms left (WRN's
    // pre-activation ones), input and output as declared.
    const onnx::ModelProto model = readModel(fixedPath);
    const auto counts = opCounts(model);
    QCOMPARE(counts, report.opCounts);
    QCOMPARE(int64_t(model.graph().node_size()), report.nodes);
    QVERIFY2(!counts.count("Identity"), qPrintable(countsText(counts)));
    const int64_t leftBatchNorms = counts.count("BatchNormalization") ? counts.at("BatchNormalization") : 0;
    QCOMPARE(leftBatchNorms, rkdtest::countBatchNorms(*net) - int64_t(net->foldablePairs().size()));
    if (family != "wrn") QCOMPARE(leftBatchNorms, int64_t(0));
    QVERIFY(report.foldedBatchNorms > 0);
    QCOMPARE(model.graph().input_size(), 1);
    QCOMPARE(model.graph().input(0).name(), std::string("input"));
    QCOMPARE(model.graph().output(0).name(), std::string("logits"));
    QVERIFY(model.opset_import(0).version() >= 13);

    const torch::Tensor x = torch::randn({2, channels, size, size});
    const torch::Tensor expected = net->forward(x);
    torch::Tensor got;
    try {
      got = runInOpenCv(fixedPath, x);
    } catch (const cv::Exception& e) {
      QFAIL(qPrintable(QString("OpenCV refused the %1 export (%2): %3").arg(arch, countsText(counts), e.what())));
    }
    QCOMPARE(got.sizes().vec(), expected.sizes().vec());
    const double fixedError = rkdtest::relError(got, expected);
    qInfo("%s: fixed batch 2, relative error %.3g; %lld nodes: %s; %lld BatchNorms folded", qPrintable(arch),
          fixedError, static_cast<long long>(report.nodes), qPrintable(countsText(counts)),
          static_cast<long long>(report.foldedBatchNorms));
    QVERIFY2(fixedError <= kTolerance, qPrintable(QString("relative error %1").arg(fixedError)));

    // Dynamic batch, run with 3 images.
    const std::string dynamicPath = stem + "-dynamic.onnx";
    const rkd::OnnxExportReport dynamic = rkd::exportOnnx(net, size, dynamicPath, {1, true, 13});
    QCOMPARE(dynamic.inputShape.front(), int64_t(-1));
    QCOMPARE(readModel(dynamicPath).graph().input(0).type().tensor_type().shape().dim(0).dim_param(), std::string("batch"));
    const torch::Tensor x3 = torch::randn({3, channels, size, size});
    const torch::Tensor expected3 = net->forward(x3);
    torch::Tensor got3;
    try {
      got3 = runInOpenCv(dynamicPath, x3);
    } catch (const cv::Exception& e) {
      QFAIL(qPrintable(QString("OpenCV refused the dynamic-batch %1 export: %2").arg(arch, e.what())));
    }
    QCOMPARE(got3.sizes().vec(), expected3.sizes().vec());
    const double dynamicError = rkdtest::relError(got3, expected3);
    qInfo("%s: dynamic batch run with 3, relative error %.3g", qPrintable(arch), dynamicError);
    QVERIFY2(dynamicError <= kTolerance, qPrintable(QString("relative error %1").arg(dynamicError)));

    if (pythonOnnxAvailable()) {
      QProcess python;
      python.start("/usr/bin/python3", {"-c",
                                        "import onnx, sys\n"
                                        "for p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)",
                                        QString::fromStdString(fixedPath), QString::fromStdString(dynamicPath)});
      QVERIFY(python.waitForFinished(120000));
      QVERIFY2(python.exitCode() == 0, python.readAllStandardError().constData());
    }
  }

  // Later operator sets (up to 17, the newest ONNX 1.12 knows) pass the checker and strict shape inference.
  void laterOpsetsAreAccepted_data() {
    QTest::addColumn<QString>("arch");
    QTest::newRow("wrn-16-1") << "wrn-16-1";
    QTest::newRow("shufflev2") << "shufflev2";
  }
  void laterOpsetsAreAccepted() {
    QFETCH(QString, arch);
    rkd::Backbone net = rkd::createBackbone({arch.toStdString(), 10, 1});
    const std::string path = m_dir + "/" + arch.toStdString() + "-opset17.onnx";
    rkd::exportOnnx(net, 28, path, {1, true, 17});
    QCOMPARE(readModel(path).opset_import(0).version(), int64_t(17));
    QVERIFY(net->is_training());  // the export folds a copy; the network itself is left as it was
  }

  void untranslatableOperationIsNamed() {
    const rkd::Backbone net = std::make_shared<SigmoidNetImpl>();
    const std::string path = m_dir + "/sigmoid.onnx";
    const QString message = inputErrorOf([&] { rkd::exportOnnx(net, 28, path); });
    QVERIFY2(message.contains("aten::sigmoid") && message.contains("sigmoid-net"), qPrintable(message));
    QVERIFY(!QFile::exists(QString::fromStdString(path)));
    QVERIFY(net->parameters().front().requires_grad());  // frozen for the trace only
  }

  void badInputIsRefused() {
    rkd::Backbone net = rkd::createBackbone({"resnet8", 10, 1});
    const std::string path = m_dir + "/refused.onnx";
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::exportOnnx(net, 28, path, {0, false, 13}));
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::exportOnnx(net, 28, path, {1, false, 9}));
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::exportOnnx(net, 28, m_dir + "/no/such/folder/x.onnx"));
    // An input the network cannot take names the network and the size.
    rkd::Backbone vgg = rkd::createBackbone({"vgg8", 10, 1});
    const QString message = inputErrorOf([&] { rkd::exportOnnx(vgg, 4, path); });
    QVERIFY2(message.contains("vgg8") && message.contains("1x1x4x4"), qPrintable(message));
    QVERIFY(!QFile::exists(QString::fromStdString(path)));
  }
};

QTEST_GUILESS_MAIN(TestOnnx)
#include "test_onnx.moc"
