// The trainer end to end on a tiny synthetic set: teacher and student runs, store contents, snapshots,
// stop + resume equivalence, divergence, a concurrent reader, a run the store cannot close, and initial weights
// that networks built on other threads do not disturb.
#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <thread>

#include <sqlite3.h>

#include "core/common/errors.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/models/generator_scope.h"
#include "core/store/run_store.h"
#include "core/vocabulary/run_config.h"
#include "core/train/trainer.h"
#include "synthetic_data.h"
#include "torch_support.h"

using namespace rkd;

namespace {

RunConfig tinyConfig(const std::string& dataDir, bool teacher) {
  RunConfig c;
  c.name = teacher ? "tiny-teacher" : "tiny-student";
  c.kind = teacher ? "teacher" : "student";
  c.method = teacher ? "ce" : "reviewkd";
  c.student = "resnet8";
  c.data.kind = "mnist";
  c.data.path = dataDir;
  c.data.cropPadding = 0;  // the synthetic classes differ by where a block sits: keep positions
  c.optim.epochs = 2;
  c.optim.batchSize = 32;
  c.optim.lr = 0.05;
  c.optim.milestones = {};
  c.device = "cpu";
  c.threads = 2;
  c.seed = 3;
  c.snapshotEvery = 3;
  c.review.warmupEpochs = 1;
  c.review.weight = 1.0;
  return c;
}

TensorMap checkpointWeights(const std::string& path) {
  TensorMap all = readTensorFile(path);
  TensorMap out;
  for (auto& [k, v] : all)
    if (k.rfind("model.", 0) == 0 || k.rfind("head.", 0) == 0) out[k] = v;
  return out;
}

/// Another connection that holds the store's write lock (BEGIN IMMEDIATE); resetting it closes the connection,
/// which rolls back and lets the lock go.
struct CloseConnection {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using WriteLock = std::unique_ptr<sqlite3, CloseConnection>;

WriteLock holdWriteLock(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  WriteLock lock(db);
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) lock.reset();
  return lock;
}

}  // namespace

class TestTrain : public QObject {
  Q_OBJECT

  std::string m_dir;
  std::string m_data;
  std::string m_db;
  int64_t m_teacherRun = 0;

 private Q_SLOTS:
  void initTestCase() {
    m_dir = rkdtest::tempDir("train");
    m_data = m_dir + "/data";
    QVERIFY(QDir().mkpath(QString::fromStdString(m_data)));
    rkdtest::writeSyntheticMnist(m_data, 20, 10);
    m_db = m_dir + "/runs.sqlite";
  }

  void teacherRunEndToEnd() {
    RunStore store(m_db);
    std::vector<double> losses;
    int epochs = 0;
    TrainerCallbacks cb;
    cb.onStep = [&](const StepProgress& p) {
      losses.push_back(p.loss);
      QVERIFY(p.lr > 0);
      QVERIFY(p.stepsPerEpoch == 7);  // 200 images, batch 32, last partial batch kept
    };
    cb.onEpoch = [&](const EpochProgress& e) {
      ++epochs;
      QVERIFY(e.testTop1 >= 0 && e.testTop1 <= 100);
      QVERIFY(e.testTop5 >= e.testTop1);
    };
    Trainer trainer(store, cb);
    RunConfig c = tinyConfig(m_data, true);
    c.optim.epochs = 4;
    RunOutcome o = trainer.start(c);
    QCOMPARE(QString::fromStdString(o.statusText()), QString("finished"));
    QCOMPARE(epochs, 4);
    QCOMPARE(losses.size(), size_t(28));
    const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[25] + losses[26] + losses[27]) / 3;
    QVERIFY2(last < first * 0.8, qPrintable(QString("loss did not fall: %1 -> %2").arg(first).arg(last)));
    auto rec = store.getRun(o.runId);
    QVERIFY(rec.has_value());
    QCOMPARE(QString::fromStdString(toString(rec->status)), QString("finished"));
    QCOMPARE(rec->epochsDone, 4);
    QVERIFY(rec->bestTop1.has_value() && *rec->bestTop1 >= *rec->lastTop1 - 1e-9);
    QVERIFY2(*rec->bestTop1 > 30.0, qPrintable(QString("teacher top-1 %1").arg(*rec->bestTop1)));
    QCOMPARE(store.metrics(o.runId, "train/loss").size(), size_t(28));
    QCOMPARE(store.metrics(o.runId, "test/top1").size(), size_t(4));
    QCOMPARE(store.classAccuracy(o.runId).size(), size_t(10));
    bool best = false, last_ = false;
    for (const auto& ck : store.listCheckpoints(o.runId)) {
      QVERIFY(QFile::exists(QString::fromStdString(ck.path)));
      best |= ck.kind == CheckpointKind::Best;
      last_ |= ck.kind == CheckpointKind::Last;
    }
    QVERIFY(best && last_);
    m_teacherRun = o.runId;
  }

  void reviewStudentWithSnapshots() {
    QVERIFY(m_teacherRun > 0);
    RunStore store(m_db);
    std::vector<FeatureSnapshot> snaps;
    std::vector<StepProgress> steps;
    TrainerCallbacks cb;
    cb.onSnapshot = [&](const FeatureSnapshot& s) { snaps.push_back(s); };
    cb.onStep = [&](const StepProgress& p) { steps.push_back(p); };
    Trainer trainer(store, cb);
    RunConfig c = tinyConfig(m_data, false);
    c.teacher.run = m_teacherRun;
    c.teacher.arch = "resnet8";
    RunOutcome o = trainer.start(c);
    QCOMPARE(QString::fromStdString(o.statusText()), QString("finished"));
    QVERIFY(!snaps.empty());
    const FeatureSnapshot& s = snaps.back();
    QCOMPARE(s.levels.size(), size_t(4));
    for (size_t i = 0; i < s.levels.size(); ++i) {
      const auto& l = s.levels[i];
      QCOMPARE(l.teacher.shape, l.reviewOutput.shape);
      QVERIFY(!l.teacher.empty());
      // Every level but the deepest fuses with attention.
      QCOMPARE(l.attentionCurrent.empty(), i + 1 == s.levels.size());
      QVERIFY(std::isfinite(l.loss));
    }
    QCOMPARE(s.probeImage.shape, (std::vector<int64_t>{1, 28, 28}));
    // Warm-up: the review term is off in epoch 0 and on in epoch 1; per-level losses are reported.
    QCOMPARE(steps.front().reviewFactor, 0.0);
    QCOMPARE(steps.back().reviewFactor, 1.0);
    QCOMPARE(steps.back().levelLosses.size(), size_t(4));
    QVERIFY(store.metrics(o.runId, "train/review").size() == steps.size());
    auto rec = store.getRun(o.runId);
    QCOMPARE(rec->teacherRun.value_or(0), m_teacherRun);
    QCOMPARE(QString::fromStdString(rec->teacherArch), QString("resnet8"));
  }

  // Reading a step's scalars in groups (as on a GPU) gives the same callbacks, metrics and weights as reading
  // them after every step.
  void groupedScalarReadsChangeNothing() {
    QVERIFY(m_teacherRun > 0);
    RunStore store(m_db);
    RunConfig c = tinyConfig(m_data, false);
    c.teacher.run = m_teacherRun;
    std::vector<std::vector<double>> losses(2);
    std::vector<int> snapshots(2, 0);
    std::vector<int64_t> runs;
    for (int variant = 0; variant < 2; ++variant) {
      TrainerCallbacks cb;
      cb.onStep = [&, variant](const StepProgress& p) {
        losses[variant].push_back(p.loss);
        losses[variant].push_back(static_cast<double>(p.step));
      };
      cb.onSnapshot = [&, variant](const FeatureSnapshot&) { ++snapshots[variant]; };
      Trainer trainer(store, cb);
      trainer.setReadEvery(variant == 0 ? 1 : 5);
      RunOutcome o = trainer.start(c);
      QCOMPARE(QString::fromStdString(o.statusText()), QString("finished"));
      runs.push_back(o.runId);
    }
    QCOMPARE(losses[1], losses[0]);
    QCOMPARE(snapshots[1], snapshots[0]);
    QCOMPARE(store.metrics(runs[1], "train/loss").values, store.metrics(runs[0], "train/loss").values);
    TensorMap wa = checkpointWeights(store.checkpointPath(runs[0], CheckpointKind::Last));
    TensorMap wb = checkpointWeights(store.checkpointPath(runs[1], CheckpointKind::Last));
    for (const auto& [name, t] : wa) QVERIFY2(torch::equal(t, wb.at(name)), name.c_str());
  }

  // A stop at each kind of position resumes exactly: after an epoch's evaluation, mid-epoch, on an epoch's last step
  // (trained, not yet evaluated: the checkpoint's step_in_epoch equals the steps per epoch, which resume once
  // refused as "damaged"), and on an epoch's first step.
  void resumeEquivalence_data() {
    QTest::addColumn<int>("stopAtStep");
    QTest::addColumn<int>("stopEpoch");
    QTest::addColumn<int>("stopStepInEpoch");  // -1: the epoch's last step
    QTest::newRow("stop after epoch 1") << -1 << -1 << 0;
    QTest::newRow("stop mid-epoch (step 3)") << 3 << -1 << 0;
    QTest::newRow("stop on epoch 1's last step") << -1 << 0 << -1;
    QTest::newRow("stop on epoch 2's first step") << -1 << 1 << 0;
  }
  void resumeEquivalence() {
    QFETCH(int, stopAtStep);
    QFETCH(int, stopEpoch);
    QFETCH(int, stopStepInEpoch);
    QVERIFY(m_teacherRun > 0);
    RunStore store(m_db);
    RunConfig c = tinyConfig(m_data, false);
    c.teacher.run = m_teacherRun;
    c.snapshotEvery = 0;
    Trainer straight(store);
    RunOutcome a = straight.start(c);
    QCOMPARE(QString::fromStdString(a.statusText()), QString("finished"));

    StopFlag stop{false};
    TrainerCallbacks cb;
    int64_t stoppedAtStepInEpoch = -1, stepsPerEpoch = 0;
    if (stopEpoch >= 0)
      cb.onStep = [&](const StepProgress& p) {
        stepsPerEpoch = p.stepsPerEpoch;
        const int64_t wanted = stopStepInEpoch < 0 ? p.stepsPerEpoch - 1 : stopStepInEpoch;
        if (p.epoch == stopEpoch && p.stepInEpoch == wanted && !stop) {
          stop = true;
          stoppedAtStepInEpoch = p.stepInEpoch;
        }
      };
    else if (stopAtStep < 0)
      cb.onEpoch = [&](const EpochProgress& e) {
        if (e.epoch == 0) stop = true;
      };
    else
      cb.onStep = [&](const StepProgress& p) {
        if (p.step == stopAtStep) stop = true;
      };
    Trainer stopping(store, cb, &stop);
    RunOutcome b = stopping.start(c);
    QCOMPARE(QString::fromStdString(b.statusText()), QString("stopped"));
    QCOMPARE(QString::fromStdString(toString(store.getRun(b.runId)->status)), QString("stopped"));
    if (stopEpoch >= 0) {
      QVERIFY(stepsPerEpoch > 1);  // the first and the last step are different steps
      QCOMPARE(stoppedAtStepInEpoch, stopStepInEpoch < 0 ? stepsPerEpoch - 1 : int64_t(stopStepInEpoch));
      // The stop message names the position: the step count done in that epoch.
      const std::string at = "epoch " + std::to_string(stopEpoch) + ", step " + std::to_string(stoppedAtStepInEpoch + 1);
      QVERIFY2(b.message.find(at) != std::string::npos, b.message.c_str());
    }
    Trainer resuming(store);
    RunOutcome b2 = resuming.resume(b.runId);
    QCOMPARE(QString::fromStdString(b2.statusText()), QString("finished"));
    QCOMPARE(b2.runId, b.runId);

    TensorMap wa = checkpointWeights(store.checkpointPath(a.runId, CheckpointKind::Last));
    TensorMap wb = checkpointWeights(store.checkpointPath(b.runId, CheckpointKind::Last));
    QCOMPARE(wa.size(), wb.size());
    double worst = 0;
    std::string worstName;
    for (const auto& [name, t] : wa) {
      QVERIFY2(wb.count(name), name.c_str());
      const double d = (t.to(torch::kDouble) - wb.at(name).to(torch::kDouble)).abs().max().item<double>();
      if (d > worst) {
        worst = d;
        worstName = name;
      }
    }
    QVERIFY2(worst <= 1e-6, qPrintable(QString("largest difference %1 in %2").arg(worst).arg(worstName.c_str())));
    QCOMPARE(store.getRun(b.runId)->epochsDone, 2);
    QCOMPARE(store.metrics(b.runId, "test/top1").size(), size_t(2));
  }

  // A stop asked for while the data and networks load (a SIGTERM then) ends the call as a stop during training
  // does, before anything is recorded: no run is created, and a resume leaves its run as it was.
  void aStopWhileLoadingRecordsNothing() {
    QVERIFY(m_teacherRun > 0);
    RunStore store(m_db);
    const size_t runsBefore = store.listRuns({}).size();
    StopFlag stop{true};
    Trainer trainer(store, {}, &stop);
    RunConfig c = tinyConfig(m_data, true);
    c.name = "stopped-while-loading";
    const RunOutcome o = trainer.start(c);
    QCOMPARE(QString::fromStdString(o.statusText()), QString("stopped"));
    QCOMPARE(o.runId, int64_t(0));
    QVERIFY2(o.message.find("while loading") != std::string::npos, o.message.c_str());
    QCOMPARE(store.listRuns({}).size(), runsBefore);

    const auto before = store.getRun(m_teacherRun);
    const RunOutcome r = trainer.resume(m_teacherRun, before->epochsDone + 1);
    QCOMPARE(QString::fromStdString(r.statusText()), QString("stopped"));
    const auto after = store.getRun(m_teacherRun);
    QCOMPARE(toString(after->status), toString(before->status));
    QCOMPARE(after->epochsDone, before->epochsDone);
    QCOMPARE(after->config.dump(), before->config.dump());
  }

  void divergenceStopsTheRun_data() {
    QTest::addColumn<int>("readEvery");
    QTest::newRow("scalars read every step") << 1;
    QTest::newRow("scalars read in groups of 4") << 4;
  }
  void divergenceStopsTheRun() {
    QFETCH(int, readEvery);
    RunStore store(m_db);
    RunConfig c = tinyConfig(m_data, true);
    c.optim.lr = 1e5;  // far too large: the loss explodes to inf/NaN within a few steps
    c.optim.weightDecay = 0;
    c.optim.epochs = 3;
    std::vector<double> seen;
    TrainerCallbacks cb;
    cb.onStep = [&](const StepProgress& p) { seen.push_back(p.loss); };
    Trainer trainer(store, cb);
    trainer.setReadEvery(readEvery);
    RunOutcome o = trainer.start(c);
    QCOMPARE(QString::fromStdString(o.statusText()), QString("diverged"));
    QVERIFY2(o.message.find("epoch") != std::string::npos && o.message.find("step") != std::string::npos,
             o.message.c_str());
    // The message names the first step whose loss was not finite; every step reported before it was finite.
    for (double l : seen) QVERIFY(std::isfinite(l));
    QVERIFY2(o.message.find("global step " + std::to_string(seen.size()) + ")") != std::string::npos, o.message.c_str());
    auto rec = store.getRun(o.runId);
    QCOMPARE(QString::fromStdString(toString(rec->status)), QString("diverged"));
    QCOMPARE(QString::fromStdString(rec->message), QString::fromStdString(o.message));
  }


  void readerWhileTraining() {
    RunStore store(m_db);
    std::atomic<bool> done{false};
    std::atomic<int> reads{0}, sawRunning{0};
    std::string readerError;
    int64_t maxMetrics = 0;
    std::thread reader([&] {
      try {
        RunStore second(m_db);  // its own connection
        while (!done) {
          for (const auto& r : second.listRuns()) {
            if (r.status == RunStatus::Running) {
              ++sawRunning;
              maxMetrics = std::max(maxMetrics, second.metricCount(r.id));
            }
          }
          ++reads;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      } catch (const std::exception& e) {
        readerError = e.what();
      }
    });
    Trainer trainer(store);
    RunConfig c = tinyConfig(m_data, true);
    RunOutcome o = trainer.start(c);
    done = true;
    reader.join();
    QVERIFY2(readerError.empty(), readerError.c_str());
    QCOMPARE(QString::fromStdString(o.statusText()), QString("finished"));
    QVERIFY(reads > 5);
    QVERIFY(sawRunning > 0);
    QVERIFY(maxMetrics > 0);
  }

  void closingMeetsAWriteLock_data() {
    QTest::addColumn<int>("releaseAfterMs");
    QTest::newRow("lock released while the trainer retries") << 300;
    QTest::newRow("lock held past every retry") << -1;
  }
  // A stop after epoch 0 whose closing write meets another connection's write lock, held longer than the busy
  // timeout. Released while the trainer retries: the run is closed as stopped. Held past every retry: the
  // outcome says why the run ended, then why it could not be closed; the run does not stay "running" under this
  // live process, and this same process resumes it.
  void closingMeetsAWriteLock() {
    QFETCH(int, releaseAfterMs);
    RunStoreOptions quick;
    quick.busyTimeoutMs = 100;
    RunStore store(m_db, quick);
    StopFlag stop{false};
    WriteLock lock;
    std::thread releaser;
    TrainerCallbacks cb;
    cb.onEpoch = [&](const EpochProgress&) {
      stop = true;
      lock = holdWriteLock(m_db);
      if (releaseAfterMs >= 0)
        releaser = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(releaseAfterMs));
          lock.reset();
        });
    };
    Trainer trainer(store, cb, &stop);
    RunOutcome o = trainer.start(tinyConfig(m_data, true));
    if (releaser.joinable()) releaser.join();
    if (releaseAfterMs >= 0) {
      QCOMPARE(QString::fromStdString(o.statusText()), QString("stopped"));
      QVERIFY2(o.message.find("could not be closed") == std::string::npos, o.message.c_str());
      QCOMPARE(QString::fromStdString(toString(store.getRun(o.runId)->status)), QString("stopped"));
      return;
    }
    QVERIFY(lock != nullptr);
    lock.reset();
    qInfo("%s", o.message.c_str());
    QCOMPARE(QString::fromStdString(o.statusText()), QString("failed"));
    QVERIFY2(o.message.rfind("stopped on request after epoch 0", 0) == 0, o.message.c_str());
    const size_t closeAt = o.message.find("could not be closed");
    QVERIFY2(closeAt != std::string::npos && o.message.find("finishRun", closeAt) != std::string::npos,
             o.message.c_str());
    QVERIFY2(o.message.find("will show as interrupted") != std::string::npos, o.message.c_str());

    // Still marked running (nothing could be written), but its writer gave it up: resume proceeds.
    QCOMPARE(QString::fromStdString(toString(store.getRun(o.runId)->status)), QString("running"));
    Trainer resuming(store);
    RunOutcome resumed = resuming.resume(o.runId);
    QCOMPARE(QString::fromStdString(resumed.statusText()), QString("finished"));
    auto rec = store.getRun(o.runId);
    QCOMPARE(QString::fromStdString(toString(rec->status)), QString("finished"));
    QCOMPARE(rec->epochsDone, 2);
  }

  // The student, teacher and review head are built in the trainer's seeded GeneratorScope: another thread that
  // keeps building networks (as the studio's previews do, under GeneratorScope()) cannot interleave with those
  // draws, so two runs of one config start from the same weights.
  void initialWeightsIgnoreConcurrentBuilds() {
    QVERIFY(m_teacherRun > 0);
    RunStore store(m_db);
    RunConfig c = tinyConfig(m_data, false);
    c.teacher.run = m_teacherRun;
    c.snapshotEvery = 0;
    std::atomic<bool> done{false};
    std::atomic<int> builds{0};
    std::thread previews([&] {
      while (!done) {
        GeneratorScope borrowed;
        createBackbone({"resnet8", 10, 1});
        ++builds;
      }
    });
    std::vector<TensorMap> weights;
    for (int i = 0; i < 2; ++i) {
      StopFlag stop{false};
      TrainerCallbacks cb;
      cb.onStep = [&](const StepProgress&) { stop = true; };  // the weights after one step show the initial ones
      Trainer trainer(store, cb, &stop);
      RunOutcome o = trainer.start(c);
      QCOMPARE(QString::fromStdString(o.statusText()), QString("stopped"));
      weights.push_back(checkpointWeights(store.checkpointPath(o.runId, CheckpointKind::Last)));
    }
    done = true;
    previews.join();
    QVERIFY(builds > 0);
    QCOMPARE(weights[0].size(), weights[1].size());
    for (const auto& [name, t] : weights[0]) QVERIFY2(torch::equal(t, weights[1].at(name)), name.c_str());
  }

  void missingTeacherRunIsInputError() {
    RunStore store(m_db);
    RunConfig c = tinyConfig(m_data, false);
    c.teacher.run = 99999;
    Trainer trainer(store);
    try {
      trainer.start(c);
      QFAIL("expected an InputError");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find("99999") != std::string::npos, e.what());
    }
  }

  void scheduleFollowsTheSpec() {
    OptimConfig o;
    o.lr = 0.1;
    o.milestones = {150, 180, 210};
    o.gamma = 0.1;
    o.epochs = 240;
    QCOMPARE(scheduledLr(o, 0), 0.1);
    QCOMPARE(scheduledLr(o, 150), 0.1);
    QVERIFY(qFuzzyCompare(scheduledLr(o, 151), 0.01));
    QVERIFY(qFuzzyCompare(scheduledLr(o, 181), 0.001));
    QVERIFY(qFuzzyCompare(scheduledLr(o, 239), 0.0001));
    o.schedule = "cosine";
    QCOMPARE(scheduledLr(o, 0), 0.1);
    QVERIFY(qFuzzyCompare(scheduledLr(o, 120), 0.05));
  }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "test_train.moc"
