// The `reviewkd` command line as a user runs it: exit codes, messages, the runs subcommands, and a training
// process killed with SIGKILL that leaves a store which opens, shows the run interrupted, and resumes.
#include <QtTest/QtTest>

#include <csignal>
#include <fstream>

#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/store/run_store.h"
#include "core/train/run_config.h"
#include "synthetic_data.h"
#include "test_support.h"

using namespace rkd;

namespace {

struct Result {
  int code = -1;
  QString out;
  QString err;
};

Result runCli(const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.start(QString(REVIEWKD_CLI_PATH), args);
  Result r;
  if (!p.waitForStarted(10000)) return r;
  p.closeWriteChannel();
  p.waitForFinished(timeoutMs);
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QString describe(const Result& r) { return QString("exit %1\nstdout: %2\nstderr: %3").arg(r.code).arg(r.out, r.err); }

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  std::string m_dir, m_data, m_db;

  QString writeConfig(const std::string& name, const RunConfig& c) {
    const std::string path = m_dir + "/" + name;
    std::ofstream(path) << toJson(c).dump(2);
    return QString::fromStdString(path);
  }

  RunConfig tinyTeacher(int epochs) {
    RunConfig c = findPreset("quick").teacher;
    c.name = "cli-teacher";
    c.student = "resnet8";
    c.data.kind = "mnist";
    c.data.path = m_data;
    c.data.perClass = 0;
    c.data.cropPadding = 0;
    c.optim.epochs = epochs;
    c.optim.batchSize = 32;
    c.optim.lr = 0.05;
    c.threads = 1;
    return c;
  }

 private Q_SLOTS:
  void initTestCase() {
    m_dir = rkdtest::tempDir("cli");
    m_data = m_dir + "/data";
    QVERIFY(QDir().mkpath(QString::fromStdString(m_data)));
    rkdtest::writeSyntheticMnist(m_data, 20, 10);
    m_db = m_dir + "/runs.sqlite";
  }

  void exitCodes_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    QTest::newRow("presets") << QStringList{"presets"} << 0 << "quick";
    QTest::newRow("no subcommand") << QStringList{} << 2 << "";
    QTest::newRow("unknown subcommand") << QStringList{"fly"} << 2 << "";
    QTest::newRow("unknown option") << QStringList{"presets", "--fast"} << 2 << "";
    QTest::newRow("unknown preset") << QStringList{"train", "--preset", "nope"} << 2 << "unknown preset 'nope'";
    QTest::newRow("bad override") << QStringList{"train", "--preset", "quick", "--set", "optim.lr=-3"} << 2
                                  << "optim.lr";
    QTest::newRow("missing golden file") << QStringList{"parity", "--arch", "resnet8", "/nonexistent.pt"} << 2
                                         << "does not exist";
  }
  void exitCodes() {
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, text);
    Result r = runCli(QStringList{"--db", QString::fromStdString(m_db)} + args);
    QVERIFY2(r.code == code, qPrintable(describe(r)));
    QVERIFY2(text.isEmpty() || r.out.contains(text) || r.err.contains(text), qPrintable(describe(r)));
  }

  void parityPassesOnGolden() {
    const std::string file = rkdtest::findGolden("architectures/resnet8.pt");
    QVERIFY(!file.empty());
    Result r = runCli({"parity", "--arch", "resnet8", QString::fromStdString(file)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY(r.out.contains("0 over tolerance"));
    // The wrong network for the file is bad input, named as such.
    Result wrong = runCli({"parity", "--arch", "resnet20", QString::fromStdString(file)});
    QVERIFY2(wrong.code == 2, qPrintable(describe(wrong)));
  }

  void badConfigFileNamesTheField() {
    const std::string path = m_dir + "/bad.json";
    std::ofstream(path) << "{\"kind\": \"teacher\", \"optim\": {\"lr\": \"fast\"}}";
    Result r = runCli({"--db", QString::fromStdString(m_db), "teacher", "--config", QString::fromStdString(path)});
    QVERIFY2(r.code == 2, qPrintable(describe(r)));
    QVERIFY2(r.err.contains("optim.lr") && r.err.contains("bad.json"), qPrintable(describe(r)));
  }

  void trainRunsAndHistory() {
    QString cfg = writeConfig("teacher.json", tinyTeacher(1));
    const QString db = QString::fromStdString(m_db);
    Result r = runCli({"--db", db, "teacher", "--config", cfg});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("finished"), qPrintable(describe(r)));
    Result list = runCli({"--db", db, "runs", "list", "--kind", "teacher"});
    QVERIFY2(list.code == 0 && list.out.contains("cli-teacher"), qPrintable(describe(list)));
    RunStore store(m_db);
    RunFilter f;
    f.text = "cli-teacher";
    auto runs = store.listRuns(f);
    QVERIFY(!runs.empty());
    const QString id = QString::number(runs.front().id);
    QCOMPARE(runCli({"--db", db, "runs", "tag", id, "baseline"}).code, 0);
    QCOMPARE(runCli({"--db", db, "runs", "note", id, "first try"}).code, 0);
    Result show = runCli({"--db", db, "runs", "show", id});
    QVERIFY2(show.code == 0 && show.out.contains("baseline") && show.out.contains("first try"), qPrintable(describe(show)));
    const QString csv = QString::fromStdString(m_dir + "/m.csv");
    QCOMPARE(runCli({"--db", db, "runs", "export", "--csv", csv, id}).code, 0);
    QFile f2(csv);
    QVERIFY(f2.open(QIODevice::ReadOnly));
    QVERIFY(f2.readLine().startsWith("run_id,run_name,epoch,step,key,value"));
    // The trained network as a plain state dict: it loads strictly into a fresh resnet8 (1 channel, 10 classes).
    const std::string weights = m_dir + "/teacher-weights.pt";
    Result w = runCli({"--db", db, "runs", "weights", id, QString::fromStdString(weights)});
    QVERIFY2(w.code == 0 && w.out.contains("resnet8"), qPrintable(describe(w)));
    rkd::Backbone net = rkd::createBackbone({"resnet8", 10, 1});
    rkd::loadStateDictStrict(*net, rkd::readTensorFile(weights), weights);
    QCOMPARE(runCli({"--db", db, "runs", "weights", "424242", QString::fromStdString(weights)}).code, 2);
    QCOMPARE(runCli({"--db", db, "runs", "show", "424242"}).code, 2);
    QCOMPARE(runCli({"--db", db, "runs", "delete", id, "--yes"}).code, 0);
    QVERIFY(!store.getRun(runs.front().id).has_value());
  }

  void divergedRunExitsOne() {
    RunConfig c = tinyTeacher(2);
    c.name = "cli-diverging";
    c.optim.lr = 1e5;
    c.optim.weightDecay = 0;
    Result r = runCli({"--db", QString::fromStdString(m_db), "teacher", "--config", writeConfig("div.json", c)});
    QVERIFY2(r.code == 1, qPrintable(describe(r)));
    QVERIFY2(r.err.contains("diverged"), qPrintable(describe(r)));
  }

  void killedRunIsInterruptedAndResumes() {
    RunConfig c = tinyTeacher(40);
    c.name = "cli-killed";
    const QString db = QString::fromStdString(m_db);
    QProcess child;
    child.start(QString(REVIEWKD_CLI_PATH), {"--db", db, "teacher", "--config", writeConfig("long.json", c)});
    QVERIFY(child.waitForStarted(10000));
    // Wait until one epoch (and so one checkpoint) is in the store, then kill -9 mid-training.
    int64_t runId = 0;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 240000) {
      QTest::qWait(200);
      RunStoreOptions ro;
      ro.readOnly = true;
      ro.recoverInterrupted = false;
      try {
        RunStore reader(m_db, ro);
        RunFilter f;
        f.text = "cli-killed";
        auto runs = reader.listRuns(f);
        if (!runs.empty() && runs.front().epochsDone >= 1) {
          runId = runs.front().id;
          break;
        }
      } catch (const std::exception&) {
        // the writer may still be creating the file
      }
    }
    QVERIFY2(runId > 0, "the child never finished an epoch");
    ::kill(static_cast<pid_t>(child.processId()), SIGKILL);
    QVERIFY(child.waitForFinished(10000));
    int target = 0;
    {
      RunStore store(m_db);  // opening recovers runs whose writer is gone
      QCOMPARE(store.integrityCheck(), std::string("ok"));
      auto rec = store.getRun(runId);
      QVERIFY(rec.has_value());
      QCOMPARE(QString::fromStdString(toString(rec->status)), QString("interrupted"));
      // The checkpoint is written before the store records an epoch, so it holds at most one epoch more.
      target = rec->epochsDone + 2;
    }
    Result r = runCli({"--db", db, "resume", QString::number(runId), "--epochs", QString::number(target)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunStore store(m_db);
    auto rec = store.getRun(runId);
    QCOMPARE(QString::fromStdString(toString(rec->status)), QString("finished"));
    QCOMPARE(rec->epochsDone, target);
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
