// The `reviewkd` command line as a user runs it: exit codes, messages, the runs subcommands, and a training
// process killed with SIGKILL that leaves a store which opens, shows the run interrupted, and resumes.
#include <QtTest/QtTest>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include <sqlite3.h>
#include <unistd.h>

#include "core/services/catalog.h"
#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"
#include "core/models/backbone.h"
#include "core/store/run_store.h"
#include "core/vocabulary/run_config.h"
#include "synthetic_data.h"
#include "torch_support.h"

using namespace rkd;

namespace {

using Result = rkdtest::CliResult;
using rkdtest::runCli;
QString describe(const Result& r) { return r.describe(); }

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  std::string m_dir, m_data, m_db;

  QString writeConfig(const std::string& name, const RunConfig& c) {
    const std::string path = m_dir + "/" + name;
    std::ofstream(path) << toJson(c).dump(2);
    return QString::fromStdString(path);
  }

  // Synthetic MNIST of 4000 training images: with batch 8, epochs of 500 steps and several seconds.
  std::string longData() {
    const std::string data = m_dir + "/data-long";
    if (!QFileInfo::exists(QString::fromStdString(data + "/train-images-idx3-ubyte"))) {
      QDir().mkpath(QString::fromStdString(data));
      rkdtest::writeSyntheticMnist(data, 400, 10);
    }
    return data;
  }

  RunConfig tinyTeacher(int epochs) { return rkdtest::tinyMnistTeacher(m_data, epochs, "cli-teacher"); }

  int64_t waitForRun(const std::string& name, const std::function<bool(RunStore&, const RunSummary&)>& ready,
                     int pollMs, int timeoutMs = 240000, const std::string& db = {}) {
    return rkdtest::waitForRun(db.empty() ? m_db : db, name, ready, pollMs, timeoutMs);
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

  // A trained run leaves as an ONNX model (fixed or dynamic batch); bad input is exit code 2.
  void exportOnnxOfATrainedRun() {
    RunConfig c = tinyTeacher(1);
    c.name = "cli-onnx";
    const QString db = QString::fromStdString(m_db);
    Result r = runCli({"--db", db, "teacher", "--config", writeConfig("onnx.json", c)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunFilter f;
    f.text = "cli-onnx";
    const auto runs = RunStore(m_db).listRuns(f);
    QVERIFY(!runs.empty());
    const QString id = QString::number(runs.front().id);
    const QString file = QString::fromStdString(m_dir + "/teacher.onnx");
    Result e = runCli({"--db", db, "runs", "export-onnx", id, file});
    QVERIFY2(e.code == 0 && e.out.contains("resnet8") && e.out.contains("1x1x28x28"), qPrintable(describe(e)));
    QVERIFY(QFileInfo(file).size() > 1000);
    // The same file again: replaced only with --force (issue 20).
    Result dynamic = runCli({"--db", db, "runs", "export-onnx", id, file, "--last", "--batch", "dynamic", "--force"});
    QVERIFY2(dynamic.code == 0 && dynamic.out.contains("Nx1x28x28"), qPrintable(describe(dynamic)));
    Result unknown = runCli({"--db", db, "runs", "export-onnx", "424242", file});
    QVERIFY2(unknown.code == 2 && unknown.err.contains("424242"), qPrintable(describe(unknown)));
    Result badBatch = runCli({"--db", db, "runs", "export-onnx", id, file, "--batch", "0"});
    QVERIFY2(badBatch.code == 2 && badBatch.err.contains("--batch"), qPrintable(describe(badBatch)));
    Result unwritable = runCli({"--db", db, "runs", "export-onnx", id, QString::fromStdString(m_dir + "/no/such/x.onnx")});
    QVERIFY2(unwritable.code == 2 && unwritable.err.contains("no/such/x.onnx"), qPrintable(describe(unwritable)));
  }

  // What a user brings from PyTorch: `inspect-checkpoint` names the network each fixture fits, or says what the
  // file is and how to re-save it.
  void inspectCheckpointNamesTheNetwork_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    for (const char* f : {"resnet8_state_dict.pt", "resnet8_model_epoch.pt", "resnet8_state_dict_key.pt",
                          "resnet8_dataparallel.pt", "resnet8_legacy_format.pt", "resnet8_half.pt"})
      QTest::newRow(f) << f << 0 << "fits:       resnet8 (100 classes, 3 input channels)";
    QTest::newRow("10 classes, 3 channels") << "resnet8_10class_3channel.pt" << 0
                                            << "fits:       resnet8 (10 classes, 3 input channels)";
    QTest::newRow("whole module") << "resnet8_whole_module.pt" << 2 << "torch.save(torch.load(";
    QTest::newRow("TorchScript") << "resnet8_torchscript.pt" << 2 << "torch.jit.load(";
  }
  void inspectCheckpointNamesTheNetwork() {
    QFETCH(QString, file);
    QFETCH(int, code);
    QFETCH(QString, text);
    Result r = runCli({"inspect-checkpoint", QString::fromStdString(rkdtest::testDataDir() + "/checkpoints/") + file});
    QVERIFY2(r.code == code, qPrintable(describe(r)));
    QVERIFY2(r.out.contains(text) || r.err.contains(text), qPrintable(describe(r)));
  }

  // The three most common layouts of a PyTorch CIFAR-100 teacher, given to `train --teacher-checkpoint`.
  void trainFromPyTorchTeacherFiles_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("state_dict()") << "resnet8_state_dict.pt";
    QTest::newRow("{'model': ...}") << "resnet8_model_epoch.pt";
    QTest::newRow("{'state_dict': ...}") << "resnet8_state_dict_key.pt";
  }
  void trainFromPyTorchTeacherFiles() {
    QFETCH(QString, file);
    const std::string data = m_dir + "/cifar100";
    if (!QFileInfo::exists(QString::fromStdString(data + "/train.bin"))) {
      QVERIFY(QDir().mkpath(QString::fromStdString(data)));
      rkdtest::writeSyntheticCifar100(data, 2, 1);
    }
    RunConfig c = findPreset("quick").student;
    c.name = "from-pytorch";
    c.data.kind = "cifar100";
    c.data.path = data;
    c.data.perClass = 0;
    c.student = "resnet8";
    c.teacher.arch = "resnet8";
    c.optim.epochs = 1;
    c.optim.batchSize = 50;
    c.threads = 1;
    c.snapshotEvery = 0;
    const QString cfg = writeConfig("from-pytorch.json", c);
    Result r = runCli({"--db", QString::fromStdString(m_dir + "/pytorch.sqlite"), "train", "--config", cfg,
                       "--teacher-checkpoint", QString::fromStdString(rkdtest::testDataDir() + "/checkpoints/") + file});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("finished"), qPrintable(describe(r)));
  }

  // data.channels auto: a PyTorch teacher trained on grey images replicated to 3 channels distils into a student
  // on the 1-channel dataset (the images are replicated, the student takes 3 channels); forcing 1 channel is
  // refused, and the message says what the file fits.
  void channelsAutoFollowsTheTeacher() {
    const QString teacher = QString::fromStdString(rkdtest::testDataDir() + "/checkpoints/resnet8_10class_3channel.pt");
    RunConfig c = tinyTeacher(1);
    c.kind = "student";
    c.method = "reviewkd";
    c.name = "channels-auto";
    c.teacher.arch = "resnet8";
    c.review.warmupEpochs = 1;
    c.snapshotEvery = 0;
    const QString cfg = writeConfig("channels.json", c);
    const QString db = QString::fromStdString(m_dir + "/channels.sqlite");
    Result r = runCli({"--db", db, "train", "--config", cfg, "--teacher-checkpoint", teacher});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunStore store(db.toStdString());
    RunFilter f;
    f.text = "channels-auto";
    const auto runs = store.listRuns(f);
    QCOMPARE(runs.size(), size_t(1));
    const TensorMap ck = readTensorFile(store.checkpointPath(runs.front().id, CheckpointKind::Last));
    QCOMPARE(ck.at("model.conv1.weight").size(1), int64_t(3));
    Result grey = runCli({"--db", db, "train", "--config", cfg, "--teacher-checkpoint", teacher, "--set",
                          "data.channels=1"});
    QVERIFY2(grey.code == 2, qPrintable(describe(grey)));
    QVERIFY2(grey.err.contains("it fits resnet8 (10 classes, 3 input channels)"), qPrintable(describe(grey)));
  }

  void divergedRunExitsOne() {
    RunConfig c = tinyTeacher(2);
    c.name = "cli-diverging";
    c.optim.lr = 1e5;
    c.optim.weightDecay = 0;
    Result r = runCli({"--db", QString::fromStdString(m_db), "teacher", "--config", writeConfig("div.json", c)});
    QVERIFY2(r.code == 1, qPrintable(describe(r)));
    QVERIFY2(r.err.contains("diverged"), qPrintable(describe(r)));
    // stdout's last status line and stderr say why once each; where both go to one place, it is said once.
    QVERIFY2(r.out.count("loss became") == 1 && r.err.count("loss became") == 1, qPrintable(describe(r)));
    const QString log = QString::fromStdString(m_dir) + "/div.log";
    Result merged = rkdtest::runProgram("/bin/sh", {"-c", QString("\"$0\" --db \"$1\" teacher --config \"$2\" >\"$3\" 2>&1"),
                                                    QString(REVIEWKD_CLI_PATH), QString::fromStdString(m_db),
                                                    writeConfig("div.json", c), log});
    QVERIFY2(merged.code == 1, qPrintable(describe(merged)));
    QFile f(log);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString both = QString::fromUtf8(f.readAll());
    QVERIFY2(both.count("loss became") == 1 && both.contains("diverged: best top-1"), qPrintable(both));
  }

  // SIGTERM (what schedulers, torchrun and docker stop send) stops a run like Ctrl-C: the step in flight
  // finishes, a checkpoint is written, the run is stopped; resume then ends where an uninterrupted run ends.
  void sigtermStopsAndResumeIsExact() {
    RunConfig c = tinyTeacher(3);
    c.name = "cli-term";
    const QString db = QString::fromStdString(m_db);
    QProcess child;
    child.start(QString(REVIEWKD_CLI_PATH), {"--db", db, "teacher", "--config", writeConfig("term.json", c)});
    QVERIFY(child.waitForStarted(10000));
    // Mid-epoch: a few steps into the second epoch.
    const int64_t runId = waitForRun("cli-term", [](RunStore& reader, const RunSummary& run) {
      if (run.status != RunStatus::Running) return false;
      const auto loss = reader.metrics(run.id, "train/loss");
      return !loss.epochs.empty() && loss.epochs.back() == 1 && loss.values.size() >= 9;
    }, 100);
    QVERIFY2(runId > 0, "the child never reached the second epoch");
    ::kill(static_cast<pid_t>(child.processId()), SIGTERM);
    QVERIFY(child.waitForFinished(60000));
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QCOMPARE(child.exitCode(), 1);  // a stopped run
    {
      RunStore store(m_db);
      auto rec = store.getRun(runId);
      QCOMPARE(QString::fromStdString(toString(rec->status)), QString("stopped"));
      QVERIFY2(rec->message.find("stopped on request") != std::string::npos, rec->message.c_str());
    }
    Result r = runCli({"--db", db, "resume", QString::number(runId)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    // The same config straight through.
    c.name = "cli-term-straight";
    r = runCli({"--db", db, "teacher", "--config", writeConfig("straight.json", c)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunStore store(m_db);
    RunFilter f;
    f.text = "cli-term-straight";
    const int64_t straight = store.listRuns(f).front().id;
    QCOMPARE(store.metrics(runId, "epoch/train_loss").values, store.metrics(straight, "epoch/train_loss").values);
    QCOMPARE(store.metrics(runId, "test/top1").values, store.metrics(straight, "test/top1").values);
    QCOMPARE(store.getRun(runId)->epochsDone, 3);
  }

  // Run names are the user's text: a newline, a tab, accents and wide characters keep one line per run and the
  // columns where they belong (issue 14, finding 10).
  void runsListKeepsOneLinePerRunAndItsColumns() {
    const std::string db = m_dir + "/names.sqlite";
    {
      RunStore store(db);
      for (const std::string name : {std::string("plain"), std::string("two\nlines\tand tab"),
                                     std::string("Ünïcødé naïve café"), std::string("学习率 蒸馏 实验"),
                                     std::string(60, 'x')}) {
        RunRecord r;
        r.name = name;
        r.kind = RunKind::Student;
        r.method = "reviewkd";
        r.status = RunStatus::Finished;
        r.studentArch = "resnet8";
        r.teacherArch = "resnet20";
        r.device = "cpu";
        store.createRun(r);
      }
    }
    Result r = runCli({"--db", QString::fromStdString(db), "runs", "list"});
    QCOMPARE(r.code, 0);
    const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 5 + 1);  // header, five runs, the count
    QVERIFY2(r.out.contains("two\\nlines\\tand tab"), qPrintable(r.out));
    QVERIFY2(r.out.contains(QString::fromStdString(std::string(33, 'x') + "\u2026")), qPrintable(r.out));
    // The status column starts at the same terminal column on every run's line (wide characters count two).
    const auto column = [](const QString& line) {
      int width = 0;
      const QString prefix = line.left(line.indexOf(" finished"));
      for (const uint c : prefix.toUcs4()) width += (c >= 0x2E80 && c <= 0xA4CF) ? 2 : 1;
      return width;
    };
    for (int i = 1; i <= 5; ++i) {
      QVERIFY2(lines[i].contains(" finished"), qPrintable(lines[i]));
      QCOMPARE(column(lines[i]), column(lines[1]));
    }
  }

  // More threads than cores is refused before anything loads or trains, naming the machine's core count.
  void threadsAboveTheCoresAreRefused() {
    RunConfig c = tinyTeacher(1);
    c.threads = 1024;
    Result r = runCli({"--db", QString::fromStdString(m_db), "teacher", "--config", writeConfig("threads.json", c)}, 60000);
    QCOMPARE(r.code, 2);
    const QString cores = QString::number(std::max(1u, std::thread::hardware_concurrency()));
    QVERIFY2(r.err.contains("thread count 1024 is more than the " + cores + " cores"), qPrintable(describe(r)));
    QVERIFY2(!r.out.contains("loading"), qPrintable(describe(r)));
  }

  // Two stores in one folder keep their checkpoints apart, a relative --db means the same files from any
  // directory, and a checkpoint of another store or run is refused at resume and as a teacher, even when the
  // network is the same (issue 14, finding 3).
  void storesKeepTheirOwnCheckpoints() {
    const std::string dir = m_dir + "/two-stores";
    std::filesystem::create_directories(dir);
    RunConfig c = tinyTeacher(1);
    c.name = "cli-owner";
    const QString cfg = writeConfig("owner.json", c);
    // Store a by a relative path from its folder; store b by its absolute path. Both get run 1.
    Result r = runCli({"--db", "a.sqlite", "teacher", "--config", cfg}, 600000, nullptr, QString::fromStdString(dir));
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const QString b = QString::fromStdString(dir + "/b.sqlite");
    for (int i = 0; i < 2; ++i) {
      r = runCli({"--db", b, "teacher", "--config", cfg});
      QVERIFY2(r.code == 0, qPrintable(describe(r)));
    }
    std::string aLast, bLast1, bLast2;
    {
      RunStore a(dir + "/a.sqlite");
      RunStore bs(dir + "/b.sqlite");
      QVERIFY(a.storeId().size() == 32 && a.storeId() != bs.storeId());
      aLast = a.checkpointPath(1, CheckpointKind::Last);
      bLast1 = bs.checkpointPath(1, CheckpointKind::Last);
      bLast2 = bs.checkpointPath(2, CheckpointKind::Last);
    }
    QCOMPARE(QString::fromStdString(aLast), QString::fromStdString(dir + "/a.sqlite.checkpoints/run-1/last.pt"));
    QCOMPARE(QString::fromStdString(bLast1), QString::fromStdString(dir + "/b.sqlite.checkpoints/run-1/last.pt"));
    QVERIFY(std::filesystem::exists(aLast) && std::filesystem::exists(bLast1));
    {  // the relative --db recorded a path relative to the store, not to the directory the command ran in
      sqlite3* db = nullptr;
      QCOMPARE(sqlite3_open_v2((dir + "/a.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
      sqlite3_stmt* q = nullptr;
      sqlite3_prepare_v2(db, "SELECT path FROM checkpoints WHERE run_id = 1 AND kind = 'last'", -1, &q, nullptr);
      QCOMPARE(sqlite3_step(q), SQLITE_ROW);
      QCOMPARE(QString(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))),
               QString("a.sqlite.checkpoints/run-1/last.pt"));
      sqlite3_finalize(q);
      sqlite3_close(db);
    }
    // From another directory, by its absolute path, store a resumes from its own file.
    r = runCli({"--db", QString::fromStdString(dir + "/a.sqlite"), "resume", "1", "--epochs", "2"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));

    // Another store's checkpoint of the same network in b's run 1: refused, the file and both ids named.
    const std::string saved = m_dir + "/b-run1-last.pt";
    std::filesystem::copy_file(bLast1, saved, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(aLast, bLast1, std::filesystem::copy_options::overwrite_existing);
    r = runCli({"--db", b, "resume", "1", "--epochs", "2"});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("another run store") && r.err.contains("b.sqlite.checkpoints/run-1/last.pt"),
             qPrintable(describe(r)));
    // Used as a teacher (teacher.run 1 of store b: its best checkpoint), another store's file is refused too.
    const std::string bBest1 = dir + "/b.sqlite.checkpoints/run-1/best.pt";
    const std::string savedBest = m_dir + "/b-run1-best.pt";
    std::filesystem::copy_file(bBest1, savedBest, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(dir + "/a.sqlite.checkpoints/run-1/best.pt", bBest1,
                               std::filesystem::copy_options::overwrite_existing);
    RunConfig student = findPreset("quick").student;
    student.name = "cli-owner-student";
    student.student = "resnet8";
    student.teacher.run = 1;
    student.teacher.arch = "";
    student.data = c.data;
    student.optim.epochs = 1;
    student.threads = 1;
    r = runCli({"--db", b, "train", "--config", writeConfig("owner-student.json", student)});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("another run store") && r.err.contains("run-1/best.pt"), qPrintable(describe(r)));
    std::filesystem::copy_file(savedBest, bBest1, std::filesystem::copy_options::overwrite_existing);
    // Run 2's own checkpoint in run 1's place: the run is named.
    std::filesystem::copy_file(bLast2, bLast1, std::filesystem::copy_options::overwrite_existing);
    r = runCli({"--db", b, "resume", "1", "--epochs", "2"});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("belongs to run 2, not run 1"), qPrintable(describe(r)));
    // Its own file back: it resumes.
    std::filesystem::copy_file(saved, bLast1, std::filesystem::copy_options::overwrite_existing);
    r = runCli({"--db", b, "resume", "1", "--epochs", "2"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
  }

  // A disk that fills up under a run (a tmpfs of 8 MiB, filled once the first checkpoint is written): the run
  // ends failed with the real cause, not "running"; the store stays readable on the full disk; after space is
  // freed the run resumes (issue 14, finding 6). Needs root to mount a tmpfs; skipped otherwise.
  void diskFullEndsTheRunAndTheStoreStaysReadable() {
    const std::string mnt = m_dir + "/full-disk";
    QVERIFY(QDir().mkpath(QString::fromStdString(mnt)));
    if (::geteuid() != 0 || QProcess::execute("mount", {"-t", "tmpfs", "-o", "size=8m", "tmpfs",
                                                        QString::fromStdString(mnt)}) != 0)
      QSKIP("mounting a small tmpfs needs root (mount -t tmpfs)");
    struct Unmount {
      std::string at;
      ~Unmount() { QProcess::execute("umount", {"-l", QString::fromStdString(at)}); }
    } unmount{mnt};
    const std::string dbPath = mnt + "/runs.sqlite";
    const QString db = QString::fromStdString(dbPath);
    RunConfig c = tinyTeacher(40);
    c.name = "cli-disk-full";
    c.data.path = longData();
    c.optim.batchSize = 8;
    QProcess child;
    child.start(QString(REVIEWKD_CLI_PATH), {"--db", db, "teacher", "--config", writeConfig("full.json", c)});
    QVERIFY(child.waitForStarted(10000));
    const int64_t runId = waitForRun("cli-disk-full", [](RunStore& reader, const RunSummary& run) {
      return !reader.checkpointPath(run.id, CheckpointKind::Last).empty();
    }, 100, 240000, dbPath);
    QVERIFY2(runId > 0, "the child never wrote a checkpoint");
    {  // fill the disk
      std::ofstream filler(mnt + "/filler", std::ios::binary);
      const std::vector<char> block(1 << 16, 'x');
      while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {
      }
    }
    QVERIFY(child.waitForFinished(240000));
    const QString out = QString::fromUtf8(child.readAllStandardOutput());
    const QString err = QString::fromUtf8(child.readAllStandardError());
    QVERIFY2(child.exitCode() == 1, qPrintable(out + err));
    QVERIFY2(!err.contains("rollback failed"), qPrintable(err));
    // Still full: the history reads.
    Result list = runCli({"--db", db, "runs", "list"});
    QVERIFY2(list.code == 0 && list.out.contains("cli-disk-full") && list.out.contains("failed"), qPrintable(describe(list)));
    Result show = runCli({"--db", db, "runs", "show", QString::number(runId)});
    QVERIFY2(show.code == 0 && show.out.contains("full"), qPrintable(describe(show)));
    int done = 0;
    {
      RunStoreOptions ro;
      ro.readOnly = true;
      RunStore reader(dbPath, ro);
      const auto rec = reader.getRun(runId);
      QCOMPARE(QString::fromStdString(toString(rec->status)), QString("failed"));
      // The cause: SQLite's "database or disk is full", or the checkpoint write's "disk full?".
      QVERIFY2(QString::fromStdString(rec->message).contains("full"), rec->message.c_str());
      QVERIFY2(!QString::fromStdString(rec->message).contains("could not be closed"), rec->message.c_str());
      done = rec->epochsDone;
    }
    QVERIFY(std::filesystem::remove(mnt + "/filler"));
    Result r = runCli({"--db", db, "resume", QString::number(runId), "--epochs", QString::number(done + 1)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunStore store(dbPath);
    QCOMPARE(QString::fromStdString(toString(store.getRun(runId)->status)), QString("finished"));
    QCOMPARE(store.integrityCheck(), std::string("ok"));
  }

  // A store this user may not write (its file and folder belong to another user) is listed and shown all the
  // same, read-only; changing it is refused with exit 3, the store's own (issue 14, finding 7). Needs root to switch to the
  // user nobody (setpriv); skipped otherwise.
  void readOnlyStoreIsReadable() {
    RunConfig c = tinyTeacher(1);
    c.name = "cli-read-only";
    const std::string dir = m_dir + "/read-only";
    QVERIFY(QDir().mkpath(QString::fromStdString(dir)));
    const QString db = QString::fromStdString(dir + "/runs.sqlite");
    Result r = runCli({"--db", db, "teacher", "--config", writeConfig("ro.json", c)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    if (::geteuid() != 0 || QStandardPaths::findExecutable("setpriv").isEmpty())
      QSKIP("running as another user needs root and setpriv");
    std::filesystem::permissions(m_dir, std::filesystem::perms(0755));  // mkdtemp made it 0700
    std::filesystem::permissions(dir, std::filesystem::perms(0755));
    std::filesystem::permissions(dir + "/runs.sqlite", std::filesystem::perms(0644));
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("HOME", QString::fromStdString(dir));
    auto asNobody = [&](const QStringList& args) {
      return rkdtest::runProgram(
          "setpriv", QStringList{"--reuid=65534", "--regid=65534", "--clear-groups", REVIEWKD_CLI_PATH, "--db", db} + args,
          120000, &env, "/");
    };
    Result probe = asNobody({"--version"});
    if (probe.code != 0) QSKIP(qPrintable("the user nobody cannot run this build's reviewkd: " + describe(probe)));
    Result list = asNobody({"runs", "list"});
    QVERIFY2(list.code == 0 && list.out.contains("cli-read-only"), qPrintable(describe(list)));
    QVERIFY2(list.err.contains("open for reading only"), qPrintable(describe(list)));
    Result show = asNobody({"runs", "show", "1"});
    QVERIFY2(show.code == 0 && show.out.contains("cli-read-only"), qPrintable(describe(show)));
    Result tag = asNobody({"runs", "tag", "1", "x"});
    // SQLite refuses the write: a store failure (exit 3), not bad input.
    QVERIFY2(tag.code == 3 && tag.err.contains("readonly"), qPrintable(describe(tag)));
  }

  // Running out of memory names the settings to lower, with the machine's figures and no stack trace: while
  // loading (padding 4000 images to 512x512 under a 1.5 GB address space; exit 2, nothing started) and in the
  // first step (batch 256 at 128x128; the run ends failed, exit 1) (issue 14, finding 9).
  void outOfMemoryNamesTheSettingsToLower() {
    const QString limit = "ulimit -v 1500000 && exec \"$0\" \"$@\"";
    const QString cli = REVIEWKD_CLI_PATH;
    auto limited = [&](const QStringList& args) {
      return rkdtest::runProgram("sh", QStringList{"-c", limit, cli} + args, 300000);
    };
    Result probe = limited({"--version"});
    if (probe.code != 0) QSKIP(qPrintable("this build does not start within 1.5 GB of address space (a sanitizer build?): " + describe(probe)));
    const QString db = QString::fromStdString(m_dir + "/oom.sqlite");
    RunConfig c = tinyTeacher(1);
    c.name = "cli-oom-load";
    c.data.path = longData();
    c.data.padTo = 512;
    Result load = limited({"--db", db, "teacher", "--config", writeConfig("oom-load.json", c)});
    QVERIFY2(load.code == 2, qPrintable(describe(load)));
    QVERIFY2(load.err.contains("out of memory while loading") && load.err.contains("data.pad_to (now 512") &&
                 load.err.contains("optim.batch_size (now 32)") && load.err.contains("ulimit -v"),
             qPrintable(describe(load)));
    QVERIFY2(!load.err.contains("frame #") && !load.err.contains("DefaultCPUAllocator"), qPrintable(describe(load)));
    c.name = "cli-oom-step";
    c.data.path = m_data;
    c.data.padTo = 128;
    c.optim.batchSize = 256;
    Result step = limited({"--db", db, "teacher", "--config", writeConfig("oom-step.json", c)});
    QVERIFY2(step.code == 1, qPrintable(describe(step)));
    QVERIFY2(step.err.contains("out of memory at epoch 1, step 1") && step.err.contains("optim.batch_size (now 256)"),
             qPrintable(describe(step)));
    QVERIFY2(!step.err.contains("frame #"), qPrintable(describe(step)));
    RunStore store(m_dir + "/oom.sqlite");
    RunFilter f;
    f.text = "cli-oom-step";
    const auto runs = store.listRuns(f);
    QCOMPARE(runs.size(), size_t(1));
    QCOMPARE(QString::fromStdString(toString(runs.front().status)), QString("failed"));
  }

  // Resume trusts no number of the checkpoint: NaN, negative, fractional or impossible positions are refused
  // with the entry named, before anything trains (issue 14, finding 2); the intact file then resumes.
  void resumeRefusesImpossiblePositions() {
    RunConfig c = tinyTeacher(1);
    c.name = "cli-meta";
    const QString db = QString::fromStdString(m_db);
    Result r = runCli({"--db", db, "teacher", "--config", writeConfig("meta.json", c)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    int64_t runId = 0;
    std::string last;
    {
      RunStore store(m_db);
      RunFilter f;
      f.text = "cli-meta";
      runId = store.listRuns(f).front().id;
      last = store.checkpointPath(runId, CheckpointKind::Last);
    }
    const TensorMap intact = readTensorFile(last);
    const std::vector<std::pair<std::pair<std::string, double>, QString>> cases = {
        {{"meta.epoch", std::nan("")}, "'meta.epoch' is NaN"},
        {{"meta.global_step", -5}, "'meta.global_step' is -5"},
        {{"meta.global_step", 1e9}, "meta.global_step 1000000000 is not epoch x steps per epoch"},
        {{"meta.step_in_epoch", 2.5}, "'meta.step_in_epoch' is 2.5"},
        {{"meta.epochs_done", 7}, "meta.epochs_done 7 does not match"},
    };
    for (const auto& [change, expected] : cases) {
      TensorMap damaged = intact;
      damaged[change.first] = torch::tensor(change.second, torch::kDouble);
      writeTensorFile(last, damaged);
      r = runCli({"--db", db, "resume", QString::number(runId), "--epochs", "2"});
      QCOMPARE(r.code, 2);
      QVERIFY2(r.err.contains(expected), qPrintable(describe(r)));
    }
    writeTensorFile(last, intact);
    r = runCli({"--db", db, "resume", QString::number(runId), "--epochs", "2"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunStore store(m_db);
    QCOMPARE(store.getRun(runId)->epochsDone, 2);
  }

  void killedRunIsInterruptedAndResumes() {
    RunConfig c = tinyTeacher(40);
    c.name = "cli-killed";
    // Epochs of several seconds (4000 images, batch 8: 500 steps), so that the metric writer's once-a-second
    // flush surely puts steps of an unfinished epoch into the store, for longer than a poll.
    c.data.path = longData();
    c.optim.batchSize = 8;
    const QString db = QString::fromStdString(m_db);
    QProcess child;
    child.start(QString(REVIEWKD_CLI_PATH), {"--db", db, "teacher", "--config", writeConfig("long.json", c)});
    QVERIFY(child.waitForStarted(10000));
    // Wait until one epoch (and so one checkpoint) and steps after it are in the store (they come again at the
    // resume), then kill -9.
    const int64_t runId = waitForRun("cli-killed", [](RunStore& reader, const RunSummary& run) {
      if (run.epochsDone < 1) return false;
      const auto loss = reader.metrics(run.id, "train/loss");
      return !loss.epochs.empty() && loss.epochs.back() >= run.epochsDone;
    }, 100);
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
    // The steps logged after the last checkpoint were dropped at the resume, not logged twice (issue 14,
    // finding 4): every step and every epoch once.
    const auto loss = store.metrics(runId, "train/loss");
    QCOMPARE(std::set<int64_t>(loss.steps.begin(), loss.steps.end()).size(), loss.steps.size());
    QCOMPARE(static_cast<int>(loss.steps.size()), target * 500);
    const auto top1 = store.metrics(runId, "test/top1");
    QCOMPARE(std::set<int>(top1.epochs.begin(), top1.epochs.end()).size(), top1.epochs.size());
    QCOMPARE(static_cast<int>(top1.epochs.size()), target);
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
