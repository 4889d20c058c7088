// What a hostile user broke, through the `reviewkd` command line as a user runs it (issue 20): exports that replaced
// device files, FIFOs and folders; two resumes of one run that both trained it; a run stopped on its epoch's last
// step that would not resume; FIFOs that hung the readers; an empty --db that opened the real history; global
// options lost on the way to launch's workers; terminal escapes from files and the store; unbounded sizes; and the
// smaller ones (a symlink loop in an image folder, store paths that are folders or devices, a read-only command that
// made a store, a delete that left the run's files).
#include <QtTest/QtTest>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/stat.h>
#include <unistd.h>

#include "core/io/tensor_file.h"
#include "core/services/catalog.h"
#include "core/vocabulary/run_config.h"
#include "core/store/run_store.h"
#include "synthetic_data.h"
#include "torch_support.h"

using namespace rkd;
namespace fs = std::filesystem;

namespace {

using Result = rkdtest::CliResult;
using rkdtest::runCli;

QString q(const std::string& s) { return QString::fromStdString(s); }

bool isFifo(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

class TestReliability : public QObject {
  Q_OBJECT
  std::string m_dir, m_data, m_db;
  int64_t m_run = 0;  // a finished teacher run of m_db

  QString writeConfig(const std::string& name, const RunConfig& c) {
    const std::string path = m_dir + "/" + name;
    std::ofstream(path) << toJson(c).dump(2);
    return q(path);
  }

  RunConfig tinyTeacher(int epochs, const std::string& name) {
    RunConfig c = rkdtest::tinyMnistTeacher(m_data, epochs, name);
    c.snapshotEvery = 0;
    return c;
  }

 private Q_SLOTS:
  void initTestCase() {
    m_dir = rkdtest::tempDir("reliability");
    m_data = m_dir + "/data";
    QVERIFY(QDir().mkpath(q(m_data)));
    rkdtest::writeSyntheticMnist(m_data, 20, 10);
    m_db = m_dir + "/runs.sqlite";
    Result r = runCli({"--db", q(m_db), "teacher", "--config", writeConfig("teacher.json", tinyTeacher(1, "rel-teacher"))});
    QVERIFY2(r.code == 0, qPrintable(r.describe()));
    RunStore store(m_db);
    RunFilter f;
    f.text = "rel-teacher";
    m_run = store.listRuns(f).front().id;
  }

  // 1. Exports never replace or write into what is not a regular file (a device, a FIFO, a folder), follow a
  // symbolic link to its file, and replace an existing file only with --force, saying so.
  void exportsRefuseWhatIsNotARegularFile() {
    const QString db = q(m_db), run = QString::number(m_run);
    const std::string fifo = m_dir + "/export.fifo";
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    const QList<QStringList> exports = {{"runs", "weights", run}, {"runs", "export-onnx", run}, {"runs", "export", run, "--csv"}};
    for (QStringList args : exports) {
      for (const std::string& target : {std::string("/dev/full"), fifo, m_dir}) {
        const QStringList full = args + QStringList{q(target)};
        Result r = runCli(QStringList{"--db", db} + full, 60000);
        QVERIFY2(r.code == 2, qPrintable(full.join(' ') + "\n" + r.describe()));
        QVERIFY2(r.err.contains("not a regular file") && !r.err.contains("Success"), qPrintable(r.describe()));
      }
    }
    struct stat st {};
    QVERIFY(::stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    QVERIFY(isFifo(fifo));
    QVERIFY(fs::is_directory(m_dir));
    // `runs weights N .` names the folder and says why, not "Success".
    Result dot = runCli({"--db", db, "runs", "weights", run, "."}, 60000, nullptr, q(m_dir));
    QVERIFY2(dot.code == 2 && dot.err.contains("'.'") && dot.err.contains("a directory"), qPrintable(dot.describe()));

    // An existing regular file: refused without --force (and left as it was), replaced with it (and said).
    const std::string existing = m_dir + "/weights.pt";
    std::ofstream(existing) << "keep me";
    Result refused = runCli({"--db", db, "runs", "weights", run, q(existing)});
    QVERIFY2(refused.code == 2 && refused.err.contains("already exists") && refused.err.contains("--force"),
             qPrintable(refused.describe()));
    QCOMPARE(readAll(existing), std::string("keep me"));
    Result forced = runCli({"--db", db, "runs", "weights", run, q(existing), "--force"});
    QVERIFY2(forced.code == 0 && forced.out.contains("replaced"), qPrintable(forced.describe()));
    QVERIFY(readTensorFile(existing).size() > 10);
    const std::string csv = m_dir + "/m.csv";
    QCOMPARE(runCli({"--db", db, "runs", "export", "--csv", q(csv), run}).code, 0);
    QCOMPARE(runCli({"--db", db, "runs", "export", "--csv", q(csv), run}).code, 2);
    Result csvForced = runCli({"--db", db, "runs", "export", "--csv", q(csv), run, "--force"});
    QVERIFY2(csvForced.code == 0 && csvForced.out.contains("replaced"), qPrintable(csvForced.describe()));

    // A symbolic link: the file it points at is written, the link stays a link.
    const std::string target = m_dir + "/target.onnx", link = m_dir + "/link.onnx";
    fs::create_symlink(target, link);
    Result viaLink = runCli({"--db", db, "runs", "export-onnx", run, q(link)}, 120000);
    QVERIFY2(viaLink.code == 0, qPrintable(viaLink.describe()));
    QVERIFY(fs::is_symlink(link));
    QVERIFY(fs::file_size(target) > 1000);
    // No temporary file is left beside the exports.
    for (const auto& e : fs::directory_iterator(m_dir))
      QVERIFY2(e.path().filename().string().find(".tmp") == std::string::npos, e.path().c_str());
  }

  // 2. Two resumes of one run started together: one trains it, the other is refused naming the live writer, and
  // the store holds each step and each epoch once. Both start at once, so both usually pass resume's first check
  // (the run is not running yet) and meet at the claim; on a loaded machine the second may start after the first
  // claimed (refused at the first check) or, rarely, ended (nothing left to do): refused all the same.
  void twoResumesOfOneRunTrainItOnce() {
    const QString db = q(m_db);
    Result first = runCli({"--db", db, "teacher", "--config", writeConfig("double.json", tinyTeacher(1, "rel-double"))});
    QVERIFY2(first.code == 0, qPrintable(first.describe()));
    int64_t id = 0;
    int64_t stepsPerEpoch = 0;
    {
      RunStore store(m_db);
      RunFilter f;
      f.text = "rel-double";
      id = store.listRuns(f).front().id;
      stepsPerEpoch = static_cast<int64_t>(store.metrics(id, "train/loss").size());
    }
    QVERIFY(stepsPerEpoch > 1);
    QProcess a, b;
    const QStringList args{"--db", db, "resume", QString::number(id), "--epochs", "6"};
    a.start(QString(REVIEWKD_CLI_PATH), args);
    b.start(QString(REVIEWKD_CLI_PATH), args);
    QVERIFY(a.waitForFinished(300000) && b.waitForFinished(300000));
    const QString errA = QString::fromUtf8(a.readAllStandardError()), errB = QString::fromUtf8(b.readAllStandardError());
    const QList<int> codes{a.exitCode(), b.exitCode()};
    QVERIFY2(codes.count(0) == 1 && codes.count(2) == 1,
             qPrintable(QString("exit codes %1 and %2\n%3\n%4").arg(codes[0]).arg(codes[1]).arg(errA, errB)));
    const QString refusal = a.exitCode() == 2 ? errA : errB;
    QVERIFY2((refusal.contains("still running") && refusal.contains("pid")) || refusal.contains("already done 6 of 6"),
             qPrintable(refusal));
    RunStore store(m_db);
    const auto loss = store.metrics(id, "train/loss");
    QCOMPARE(static_cast<int64_t>(loss.size()), 6 * stepsPerEpoch);
    QCOMPARE(store.metrics(id, "test/top1").size(), size_t(6));
    QCOMPARE(store.getRun(id)->epochsDone, 6);
    QCOMPARE(toString(store.getRun(id)->status), toString(RunStatus::Finished));
  }

  // 3. A run stopped by SIGTERM on its epoch's last step (every step of a 1-step epoch is its last) resumes,
  // instead of being called damaged.
  void aRunStoppedOnItsEpochsLastStepResumes() {
    RunConfig c = tinyTeacher(40, "rel-onestep");
    c.optim.batchSize = 256;  // 200 training images: one step per epoch
    c.data.testPerClass = 1;  // a short evaluation, so the signal lands in a step
    const QString db = q(m_db);
    QProcess child;
    child.start(QString(REVIEWKD_CLI_PATH), {"--db", db, "teacher", "--config", writeConfig("onestep.json", c)});
    QVERIFY(child.waitForStarted(10000));
    const int64_t id = rkdtest::waitForRun(m_db, "rel-onestep", [](RunStore&, const RunSummary& run) {
      return run.status == RunStatus::Running && run.epochsDone >= 2;
    }, 50);
    QVERIFY2(id > 0, "the child never finished two epochs");
    ::kill(static_cast<pid_t>(child.processId()), SIGTERM);
    QVERIFY(child.waitForFinished(60000));
    QCOMPARE(child.exitCode(), 1);  // a stopped run
    std::string message;
    {
      RunStore store(m_db);
      message = store.getRun(id)->message;
      QVERIFY2(message.find("stopped on request") != std::string::npos, message.c_str());
    }
    Result r = runCli({"--db", db, "resume", QString::number(id)});
    QVERIFY2(r.code == 0, qPrintable(QString::fromStdString(message) + "\n" + r.describe()));
    RunStore store(m_db);
    QCOMPARE(store.getRun(id)->epochsDone, 40);
    QCOMPARE(store.metrics(id, "test/top1").size(), size_t(40));
    QCOMPARE(store.metrics(id, "train/loss").size(), size_t(40));
  }

  // 4. FIFOs are refused at once, never opened: a checkpoint, a config, a data file, an image folder's entry.
  void fifosAreRefusedNotOpened() {
    const std::string fifo = m_dir + "/teacher.pt";
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    QElapsedTimer timer;
    timer.start();
    Result inspect = runCli({"inspect-checkpoint", q(fifo)}, 30000);
    QVERIFY2(inspect.code == 2 && inspect.err.contains("FIFO"), qPrintable(inspect.describe()));
    RunConfig student = findPreset("quick").student;
    student.data.kind = "mnist";
    student.data.path = m_data;
    student.teacher.arch = "resnet8";
    student.student = "resnet8";
    Result train = runCli({"--db", q(m_db), "train", "--config", writeConfig("fifo-student.json", student),
                           "--teacher-checkpoint", q(fifo)},
                          30000);
    QVERIFY2(train.code == 2 && train.err.contains("FIFO"), qPrintable(train.describe()));
    const std::string fifoConfig = m_dir + "/config.fifo";
    QCOMPARE(::mkfifo(fifoConfig.c_str(), 0600), 0);
    Result config = runCli({"--db", q(m_db), "teacher", "--config", q(fifoConfig)}, 30000);
    QVERIFY2(config.code == 2 && config.err.contains("FIFO"), qPrintable(config.describe()));
    // A data file that is a FIFO, in an MNIST folder.
    const std::string data = m_dir + "/fifo-data";
    fs::create_directories(data);
    rkdtest::writeSyntheticMnist(data, 2, 1);
    fs::remove(data + "/t10k-labels-idx1-ubyte");
    QCOMPARE(::mkfifo((data + "/t10k-labels-idx1-ubyte").c_str(), 0600), 0);
    RunConfig onFifo = tinyTeacher(1, "rel-fifo-data");
    onFifo.data.path = data;
    Result dataRun = runCli({"--db", q(m_db), "teacher", "--config", writeConfig("fifo-data.json", onFifo)}, 30000);
    QVERIFY2(dataRun.code == 2 && dataRun.err.contains("t10k-labels"), qPrintable(dataRun.describe()));
    // An image folder whose "image" is a FIFO.
    const std::string folder = m_dir + "/fifo-images";
    for (const char* cls : {"a", "b"}) fs::create_directories(folder + "/" + cls);
    QCOMPARE(::mkfifo((folder + "/a/x.png").c_str(), 0600), 0);
    RunConfig onFolder = tinyTeacher(1, "rel-fifo-folder");
    onFolder.data.kind = "folder";
    onFolder.data.path = folder;
    Result folderRun = runCli({"--db", q(m_db), "teacher", "--config", writeConfig("fifo-folder.json", onFolder)}, 30000);
    QVERIFY2(folderRun.code == 2 && folderRun.err.contains("x.png") && folderRun.err.contains("FIFO"),
             qPrintable(folderRun.describe()));
    QVERIFY2(timer.elapsed() < 60000, "a FIFO was waited on");
  }

  // 5. An empty --db (an unset variable) is refused: it never opens, lists or deletes from the default store.
  void anEmptyDbIsRefused() {
    const std::string home = rkdtest::tempDir("reliability-home");
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("XDG_DATA_HOME", q(home));
    env.remove("REVIEWKD_DB");
    for (const QStringList& args : {QStringList{"--db", "", "runs", "list"}, QStringList{"--db", "", "runs", "delete", "1", "--yes"},
                                    QStringList{"--db", "", "teacher", "--preset", "quick"}}) {
      Result r = runCli(args, 60000, &env);
      QVERIFY2(r.code == 2 && r.err.contains("--db is empty"), qPrintable(r.describe()));
    }
    // `--db=` with nothing after it: CLI11 takes the next word as the value, and the command line is refused.
    Result glued = runCli({"--db=", "runs", "list"}, 60000, &env);
    QVERIFY2(glued.code == 2, qPrintable(glued.describe()));
    QVERIFY(!fs::exists(home + "/reviewkd-studio"));
  }

  // 6. Global options given before `launch` reach every worker; a nested launch and a contradicting --db are refused.
  void launchForwardsTheGlobalOptions() {
    const std::string db = m_dir + "/launched.sqlite";
    RunConfig c = tinyTeacher(1, "rel-launched");
    Result r = runCli({"--db", q(db), "launch", "--nproc-per-node", "2", "--", "teacher", "--config",
                       writeConfig("launched.json", c)});
    QVERIFY2(r.code == 0, qPrintable(r.describe()));
    {
      RunStore store(db);
      const auto runs = store.listRuns({});
      QCOMPARE(runs.size(), size_t(1));
      QCOMPARE(runs.front().worldSize, 2);
    }
    Result nested = runCli({"--db", q(db), "launch", "--nproc-per-node", "1", "--", "launch", "--nproc-per-node", "1",
                            "--", "teacher", "--config", writeConfig("nested.json", c)});
    QVERIFY2(nested.code == 2 && nested.err.contains("another launch"), qPrintable(nested.describe()));
    Result twice = runCli({"--db", q(db), "launch", "--nproc-per-node", "1", "--", "--db", q(m_dir + "/other.sqlite"),
                           "teacher", "--config", writeConfig("twice.json", c)});
    QVERIFY2(twice.code == 2 && twice.err.contains("given twice"), qPrintable(twice.describe()));
    QVERIFY(!fs::exists(m_dir + "/other.sqlite"));
    QCOMPARE(RunStore(db).listRuns({}).size(), size_t(1));
  }

  // 7. Text from a file or the store reaches the terminal escaped: key names of a crafted checkpoint, run and class
  // names, messages.
  void terminalEscapesAreShownNotSent() {
    const std::string crafted = m_dir + "/crafted.pt";
    writeTensorFile(crafted, {{"conv\x1b[2J\x1b]0;owned\x07.weight", torch::zeros({2})}, {"line\nbreak", torch::zeros({1})}});
    Result inspect = runCli({"inspect-checkpoint", q(crafted), "--arch", "resnet8"});
    QVERIFY2(!inspect.out.contains(QChar(0x1b)) && !inspect.err.contains(QChar(0x1b)) && !inspect.out.contains(QChar(0x07)),
             qPrintable(inspect.describe()));
    QVERIFY2(inspect.out.contains("\\x1b") || inspect.err.contains("\\x1b"), qPrintable(inspect.describe()));

    const std::string db = m_dir + "/escapes.sqlite";
    int64_t id = 0;
    {
      RunStore store(db);
      RunRecord r;
      r.name = "evil\x1b[31mred\nsecond line \xc2\x9b" "2J";
      r.kind = RunKind::Teacher;
      r.studentArch = "resnet8";
      r.message = "why\x1b[H";
      r.status = RunStatus::Finished;
      id = store.createRun(r);
      store.setClassAccuracy(id, 0, {ClassAccuracy{0, "cat\x1b[0m", 50.0}});
      store.addNote(id, "note\x1b[1A");
    }
    Result show = runCli({"--db", q(db), "runs", "show", QString::number(id)});
    QVERIFY2(show.code == 0, qPrintable(show.describe()));
    QVERIFY2(!show.out.contains(QChar(0x1b)) && !show.out.contains(QChar(0x9b)), qPrintable(show.out));
    QVERIFY2(show.out.contains("evil\\x1b[31mred\\nsecond line \\u009b2J") && show.out.contains("cat\\x1b[0m") &&
                 show.out.contains("note\\x1b[1A"),
             qPrintable(show.out));
    Result list = runCli({"--db", q(db), "runs", "list"});
    QVERIFY2(!list.out.contains(QChar(0x1b)) && !list.out.contains(QChar(0x9b)), qPrintable(list.out));
  }

  // 8. What enters is bounded, each bound named in its message: a config file, a run name, a list, a tag, a note.
  void sizesAreBounded() {
    const std::string big = m_dir + "/big.json";
    {
      std::ofstream out(big);
      out << "{\"name\": \"" << std::string(2 << 20, 'x') << "\"}";
    }
    Result file = runCli({"--db", q(m_db), "teacher", "--config", q(big)});
    QVERIFY2(file.code == 2 && file.err.contains("1048576"), qPrintable(file.describe()));
    Result name = runCli({"--db", q(m_db), "teacher", "--preset", "quick", "--set", "name=" + QString(300, 'n')});
    QVERIFY2(name.code == 2 && name.err.contains("'name'") && name.err.contains("256"), qPrintable(name.describe()));
    QString many = "optim.milestones=[";
    for (int i = 1; i <= 65; ++i) many += QString::number(i) + (i < 65 ? "," : "]");
    Result list = runCli({"--db", q(m_db), "teacher", "--preset", "quick", "--set", many});
    QVERIFY2(list.code == 2 && list.err.contains("optim.milestones") && list.err.contains("64"), qPrintable(list.describe()));
    Result tag = runCli({"--db", q(m_db), "runs", "tag", QString::number(m_run), QString(65, 't')});
    QVERIFY2(tag.code == 2 && tag.err.contains("64"), qPrintable(tag.describe()));
    Result note = runCli({"--db", q(m_db), "runs", "note", QString::number(m_run), QString(20000, 'x')});
    QVERIFY2(note.code == 2 && note.err.contains("16384"), qPrintable(note.describe()));
  }

  // 9. The smaller ones.
  void imageFolderLinkLoopIsBadInput() {
    const std::string folder = m_dir + "/loop-images";
    for (const char* cls : {"a", "b"}) fs::create_directories(folder + "/" + cls);
    fs::create_symlink("loop", folder + "/loop");
    RunConfig c = tinyTeacher(1, "rel-loop");
    c.data.kind = "folder";
    c.data.path = folder;
    Result r = runCli({"--db", q(m_db), "teacher", "--config", writeConfig("loop.json", c)});
    QVERIFY2(r.code == 2 && r.err.contains("loop of symbolic links") && r.err.contains(q(folder)), qPrintable(r.describe()));
  }

  void storePathsThatAreNotStoresAreBadInput() {
    const std::string dir = rkdtest::tempDir("reliability-stores");
    std::ofstream(dir + "/plain") << "x";
    for (const std::string& db : {dir, dir + "/plain/x.sqlite", std::string("/dev/null")}) {
      Result r = runCli({"--db", q(db), "runs", "list"});
      QVERIFY2(r.code == 2, qPrintable(q(db) + "\n" + r.describe()));
      Result t = runCli({"--db", q(db), "teacher", "--preset", "quick"});
      QVERIFY2(t.code == 2, qPrintable(q(db) + "\n" + t.describe()));
    }
    QVERIFY(!fs::exists("/dev/null-journal") && !fs::exists("/dev/null-wal"));
    // A command that only reads makes nothing where no store is.
    Result list = runCli({"--db", q(dir + "/nonexist/x.sqlite"), "runs", "list"});
    QVERIFY2(list.code == 0 && list.out.contains("no run store"), qPrintable(list.describe()));
    Result show = runCli({"--db", q(dir + "/nonexist/x.sqlite"), "runs", "show", "1"});
    QVERIFY2(show.code == 2 && show.err.contains("no run store"), qPrintable(show.describe()));
    QVERIFY(!fs::exists(dir + "/nonexist"));
  }

  void deleteTakesTheRunsCheckpoints() {
    const QString db = q(m_db);
    Result r = runCli({"--db", db, "teacher", "--config", writeConfig("deleted.json", tinyTeacher(1, "rel-deleted"))});
    QVERIFY2(r.code == 0, qPrintable(r.describe()));
    int64_t id = 0;
    {
      RunStore store(m_db);
      RunFilter f;
      f.text = "rel-deleted";
      id = store.listRuns(f).front().id;
    }
    const std::string folder = RunStore::runFolder(m_db, id);
    QVERIFY(fs::exists(folder + "/last.pt"));
    Result del = runCli({"--db", db, "runs", "delete", QString::number(id), "--yes"});
    QVERIFY2(del.code == 0, qPrintable(del.describe()));
    QVERIFY(!fs::exists(folder));
    QVERIFY(fs::exists(RunStore::runFolder(m_db, m_run) + "/last.pt"));  // another run's files stay
  }
};

QTEST_GUILESS_MAIN(TestReliability)
#include "test_reliability.moc"
