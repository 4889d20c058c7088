// Interchange with real Python PyTorch: every kind of file the engine exports (rkd::exportStateDict, a trainer
// checkpoint, services::exportWeights) is loaded by tests/python/check_export.py with torch.load, strictly into
// the PyTorch definition of its network (tests/python/cifar_zoo.py), and must give the engine's logits.
#include <QtTest/QtTest>

#include "core/io/checkpoint.h"
#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/store/run_store.h"
#include "core/services/run_history.h"
#include "core/vocabulary/run_config.h"
#include "core/train/trainer.h"
#include "synthetic_data.h"
#include "torch_support.h"

using namespace rkd;

namespace {

const QString kPython = "/usr/bin/python3";  // Debian's python3-torch; a pyenv python3 on PATH lacks torch

struct ScriptResult {
  int code = -1;  ///< exit code; -1 did not start, -2 crashed or timed out
  QString output;
};

ScriptResult runPython(const QStringList& args, int timeoutMs = 180000) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(kPython, args);
  ScriptResult r;
  if (!p.waitForStarted(10000)) {
    r.output = p.errorString();
    return r;
  }
  p.closeWriteChannel();
  const bool finished = p.waitForFinished(timeoutMs);
  if (!finished) p.kill();
  r.code = finished && p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.output = QString::fromUtf8(p.readAllStandardOutput()).trimmed();
  return r;
}

/// Moves every BatchNorm away from its identity initialisation (running statistics, affine parameters, the
/// batch counter) and every bias away from zero, so a wrong BN order, a dropped bias or a mis-mapped name
/// changes the logits.
void randomiseForInterchange(torch::nn::Module& net) {
  torch::NoGradGuard noGrad;
  for (const auto& module : net.modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.normal_(0.0, 0.2);
      bn->running_var.uniform_(0.5, 1.5);
      bn->weight.uniform_(0.6, 1.4);
      bn->bias.normal_(0.0, 0.2);
      bn->num_batches_tracked.fill_(17);
    }
  }
  for (auto& p : net.named_parameters()) {
    const auto& name = p.key();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) p.value().normal_(0.0, 0.1);
  }
}

/// The engine's eval-mode logits of `net` on a seeded random batch of 2, written with the input as the
/// script's reference file.
void writeReference(BackboneImpl& net, int64_t channels, int64_t size, const std::string& path) {
  torch::NoGradGuard noGrad;
  net.eval();
  const auto input = torch::randn({2, channels, size, size});
  const auto logits = net.forward(input);
  writeTensorFile(path, {{"input", input}, {"logits", logits}});
}

}  // namespace

class TestInterop : public QObject {
  Q_OBJECT

  std::string m_dir;
  QString m_script;
  // The tiny training runs of trainerFiles, made once on first use.
  std::string m_data, m_db;
  int64_t m_teacherRun = 0, m_studentRun = 0;
  bool m_trainingTried = false;

  /// Runs check_export.py; the result's output goes into the failure message and the log.
  void check(const std::string& file, const std::string& arch, int64_t classes, int64_t channels,
             const std::string& reference) {
    const auto r = runPython({m_script, QString::fromStdString(file), QString::fromStdString(arch),
                              QString::number(classes), QString::number(channels), QString::fromStdString(reference)});
    qInfo().noquote() << r.output;
    QVERIFY2(r.code == 0, qPrintable(QString("check_export.py exited %1 for %2:\n%3")
                                         .arg(r.code)
                                         .arg(QString::fromStdString(file), r.output)));
  }

  void trainRunsOnce() {
    if (m_trainingTried) {
      QVERIFY2(m_studentRun > 0, "the tiny training runs failed (see the first row)");
      return;
    }
    m_trainingTried = true;
    m_data = m_dir + "/data";
    QVERIFY(QDir().mkpath(QString::fromStdString(m_data)));
    rkdtest::writeSyntheticMnist(m_data, 20, 10);
    m_db = m_dir + "/runs.sqlite";
    RunStore store(m_db);
    RunConfig c;
    c.name = "interop-teacher";
    c.kind = "teacher";
    c.method = "ce";
    c.student = "resnet8";
    c.data.kind = "mnist";
    c.data.path = m_data;
    c.data.cropPadding = 0;
    c.optim.epochs = 1;
    c.optim.batchSize = 32;
    c.optim.lr = 0.05;
    c.optim.milestones = {};
    c.device = "cpu";
    c.threads = 2;
    c.seed = 5;
    c.snapshotEvery = 0;
    RunOutcome t;
    try {
      t = Trainer(store).start(c);
    } catch (const std::exception& e) {
      QFAIL(qPrintable(QString("teacher run: ") + e.what()));
    }
    QVERIFY2(t.status == RunStatus::Finished, qPrintable(QString::fromStdString("teacher run " + t.statusText() + ": " + t.message)));
    m_teacherRun = t.runId;

    // A ReviewKD student, so its checkpoints also hold head.* entries beside model.*, optim.* and meta.*.
    c.name = "interop-student";
    c.kind = "student";
    c.method = "reviewkd";
    c.student = "wrn-16-1";
    c.teacher.run = m_teacherRun;
    c.teacher.arch = "resnet8";
    c.optim.epochs = 2;
    c.review.warmupEpochs = 1;
    c.review.weight = 1.0;
    RunOutcome s;
    try {
      s = Trainer(store).start(c);
    } catch (const std::exception& e) {
      QFAIL(qPrintable(QString("student run: ") + e.what()));
    }
    QVERIFY2(s.status == RunStatus::Finished, qPrintable(QString::fromStdString("student run " + s.statusText() + ": " + s.message)));
    m_studentRun = s.runId;
  }

 private Q_SLOTS:
  void initTestCase() {
    const auto probe = runPython({"-c", "import torch"}, 120000);
    if (probe.code != 0) {
      const QString why = "python3-torch is not installed: scripts/setup --tests installs it (" + kPython +
                          " -c 'import torch': " + (probe.output.isEmpty() ? QString("did not run") : probe.output) +
                          ")";
      QSKIP(qPrintable(why));
    }
    m_script = QString(REVIEWKD_INTEROP_SCRIPT);
    QVERIFY2(QFile::exists(m_script), qPrintable("missing " + m_script));
    m_dir = rkdtest::tempDir("interop");
  }

  // rkd::exportStateDict of a freshly built network with randomised BatchNorms, one per zoo family.
  void exportedNetwork_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("classes");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    for (const char* arch : {"resnet8", "resnet20", "resnet8x4", "wrn-16-2", "vgg8", "mobilenetv2", "shufflev1",
                             "shufflev2", "resnet50"}) {
      QTest::addRow("%s 3x32x32 100 classes", arch) << QString(arch) << 100 << 3 << 32;
    }
    // Fashion-MNIST shaped: odd stage sizes (7 -> 4) and a one-channel stem.
    QTest::addRow("shufflev2 1x28x28 10 classes") << "shufflev2" << 10 << 1 << 28;
    QTest::addRow("vgg8 1x28x28 10 classes") << "vgg8" << 10 << 1 << 28;
  }

  void exportedNetwork() {
    QFETCH(QString, arch);
    QFETCH(int, classes);
    QFETCH(int, channels);
    QFETCH(int, size);
    const std::string stem = m_dir + "/" + arch.toStdString() + "-" + std::to_string(channels);
    try {
      torch::manual_seed(11);
      auto net = createBackbone({arch.toStdString(), classes, channels});
      randomiseForInterchange(*net);
      writeReference(*net, channels, size, stem + "-reference.pt");
      exportStateDict(*net, stem + ".pt");
    } catch (const std::exception& e) {
      QFAIL(e.what());
    }
    check(stem + ".pt", arch.toStdString(), classes, channels, stem + "-reference.pt");
  }

  // Files of a real (tiny) training run: raw trainer checkpoints, and services::exportWeights.
  void trainerFiles_data() {
    QTest::addColumn<QString>("which");
    QTest::newRow("teacher best checkpoint") << "teacher-best";
    QTest::newRow("student last checkpoint") << "student-last";
    QTest::newRow("student exportWeights (best)") << "student-export";
  }

  void trainerFiles() {
    QFETCH(QString, which);
    trainRunsOnce();
    if (QTest::currentTestFailed()) return;
    const bool teacher = which.startsWith("teacher");
    const int64_t run = teacher ? m_teacherRun : m_studentRun;
    const std::string arch = teacher ? "resnet8" : "wrn-16-1";
    const std::string stem = m_dir + "/" + which.toStdString();
    std::string file;
    try {
      services::RunHistory store(m_db);
      std::string checkpoint;
      if (which == "student-export") {
        const auto exported = store.exportWeights(run, stem + ".pt", /*best=*/true, /*replace=*/true);
        QVERIFY2(exported.ok, exported.error.c_str());
        QCOMPARE(QString::fromStdString(exported.arch), QString::fromStdString(arch));
        file = stem + ".pt";
        checkpoint = exported.source;  // the engine's logits come from the checkpoint, not from the export
      } else {
        file = checkpoint = store.checkpointPath(run, teacher ? CheckpointKind::Best : CheckpointKind::Last);
      }
      QVERIFY2(!checkpoint.empty(), qPrintable(QString("run %1 has no checkpoint").arg(run)));
      const TensorMap all = readTensorFile(checkpoint);
      if (!teacher) {
        // What makes it a trainer checkpoint rather than a state dict: the script must pick out model.*.
        QVERIFY(!withPrefix(all, "head.").empty());
        QVERIFY(!withPrefix(all, "meta.").empty());
      }
      torch::manual_seed(12);
      auto net = createBackbone({arch, 10, 1});
      loadStateDictStrict(*net, withPrefix(all, "model."), checkpoint);
      writeReference(*net, 1, 28, stem + "-reference.pt");
    } catch (const std::exception& e) {
      QFAIL(e.what());
    }
    check(file, arch, 10, 1, stem + "-reference.pt");
  }
};

QTEST_GUILESS_MAIN(TestInterop)
#include "test_interop.moc"
