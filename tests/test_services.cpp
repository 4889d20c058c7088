// core/services, the one application layer of the CLI and the studio, tested without widgets: every branch of
// the teacher resolution (with the teacher.arch override the CLI used to drop), the same teacher from either
// front end, the ablation table text, deletion refused while a live process trains the run, the store-path
// order, and previews that leave LibTorch's generator where it was.
#include <QtTest/QtTest>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/services/catalog.h"
#include "core/models/backbone.h"
#include "core/services/ablation_study.h"
#include "core/services/inspect.h"
#include "core/services/run_history.h"
#include "core/vocabulary/snapshot_codec.h"
#include "core/services/training_service.h"
#include "core/store/run_store.h"
#include "synthetic_data.h"
#include "torch_support.h"

using namespace rkd;

namespace {

using Result = rkdtest::CliResult;
using rkdtest::runCli;
QString describe(const Result& r) { return r.describe(); }

RunRecord csvRun(const std::string& name) {
  RunRecord r;
  r.name = name;
  r.method = "reviewkd";
  r.teacherArch = "resnet56";
  r.studentArch = "resnet20";
  return r;
}

// The message of the UserError that `body` throws ("" when it throws none).
template <typename F>
std::string userErrorOf(F&& body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.full();
  }
  return "";
}

}  // namespace

class TestServices : public QObject {
  Q_OBJECT
  std::string m_dir, m_data, m_db;

  // The quick preset's student on the tiny synthetic set: one epoch, CPU, one thread.
  RunConfig tinyStudent() const {
    RunConfig c = findPreset("quick").student;
    c.name = "services-student";
    c.data.kind = "mnist";
    c.data.path = m_data;
    c.data.perClass = 0;
    c.data.testPerClass = 0;
    c.optim.epochs = 1;
    c.optim.batchSize = 40;
    c.review.warmupEpochs = 1;
    c.device = "cpu";
    c.threads = 1;
    c.snapshotEvery = 0;
    return c;
  }

  QString writeConfig(const std::string& name, const RunConfig& c) {
    const std::string path = m_dir + "/" + name;
    std::ofstream(path) << toJson(c).dump(2);
    return QString::fromStdString(path);
  }

 private Q_SLOTS:
  // The snapshot file a follower reads: a round trip keeps every field; every cut and a flipped count in the
  // header are refused with the file's name, never a crash or a huge allocation.
  void snapshotBytesRoundTripAndRefuseDamage() {
    rkd::FeatureSnapshot s;
    s.runId = 7;
    s.epoch = 2;
    s.step = 130;
    s.probeIndex = 3;
    s.probeLabel = 9;
    s.probeImage.shape = {1, 2, 2};
    s.probeImage.values = {0.f, 0.25f, 0.5f, 1.f};
    rkd::LevelSnapshot l;
    l.label = "level 1 (16@4x4 <- 16@4x4)";
    l.teacher.shape = {2, 1, 3};
    l.teacher.values = {1, 2, 3, 4, 5, 6};
    l.reviewOutput = l.teacher;
    l.attentionCurrent.shape = {1, 1, 3};
    l.attentionCurrent.values = {0.1f, 0.2f, 0.3f};
    l.loss = 0.125;
    s.levels = {l, l};
    const std::string bytes = rkd::encodeSnapshot(s);
    const rkd::FeatureSnapshot back = rkd::decodeSnapshot(bytes, "snap");
    QCOMPARE(back.runId, s.runId);
    QCOMPARE(back.step, s.step);
    QCOMPARE(back.probeLabel, 9);
    QCOMPARE(back.probeImage.values, s.probeImage.values);
    QCOMPARE(back.levels.size(), size_t(2));
    QCOMPARE(back.levels[1].label, l.label);
    QCOMPARE(back.levels[1].teacher.shape, l.teacher.shape);
    QCOMPARE(back.levels[1].attentionCurrent.values, l.attentionCurrent.values);
    QVERIFY(back.levels[1].attentionResidual.empty());
    QCOMPARE(back.levels[1].loss, 0.125);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      try {
        rkd::decodeSnapshot(bytes.substr(0, cut), "snap");
        QFAIL(qPrintable(QString("a snapshot cut to %1 bytes was accepted").arg(cut)));
      } catch (const rkd::InputError& e) {
        QVERIFY(std::string(e.what()).find("snap is not a feature snapshot") != std::string::npos);
      }
    }
    std::string huge = bytes;
    huge[8 + 5 * 8 + 8 + 3 * 8 + 7] = '\x7f';  // the probe image's value count, high byte
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::decodeSnapshot(huge, "snap"));
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::decodeSnapshot(bytes + "x", "snap"));
  }

  void initTestCase() {
    m_dir = rkdtest::tempDir("services");
    m_data = m_dir + "/data";
    QVERIFY(QDir().mkpath(QString::fromStdString(m_data)));
    rkdtest::writeSyntheticMnist(m_data, 20, 10);
    m_db = m_dir + "/runs.sqlite";
  }

  void explicitTeacherRunAndCheckpointComeFirst() {
    services::TrainingService service(m_db);
    RunConfig c = tinyStudent();
    c.teacher.run = 41;
    c.teacher.checkpoint = "/somewhere/teacher.pt";
    services::TeacherPlan p = service.planTeacher(c);
    QVERIFY(p.source == services::TeacherPlan::Source::Run);
    QCOMPARE(p.run, int64_t(41));
    c.teacher.run = 0;
    p = service.planTeacher(c);
    QVERIFY(p.source == services::TeacherPlan::Source::Checkpoint);
    QCOMPARE(p.checkpoint, std::string("/somewhere/teacher.pt"));
    c.method = "student-alone";
    QVERIFY(service.planTeacher(c).source == services::TeacherPlan::Source::None);
  }

  // The preset's teacher recipe, with every override of the student that concerns the teacher.
  void presetRecipeTakesTheStudentsOverrides() {
    RunConfig c = tinyStudent();
    c.data.channels = "3";
    c.data.padTo = 32;
    const services::TeacherPlan p = services::TrainingService(m_db).planTeacher(c);
    QVERIFY(p.source == services::TeacherPlan::Source::Train);
    const RunConfig& t = p.recipe;
    QCOMPARE(t.kind, std::string("teacher"));
    QCOMPARE(t.student, findPreset("quick").teacher.student);
    QCOMPARE(t.optim.epochs, findPreset("quick").teacher.optim.epochs);  // the preset's teacher recipe
    QCOMPARE(t.data.kind, std::string("mnist"));
    QCOMPARE(t.data.path, m_data);
    QCOMPARE(t.data.channels, std::string("3"));
    QCOMPARE(t.data.padTo, int64_t(32));
    QCOMPARE(t.device, std::string("cpu"));
    QCOMPARE(t.threads, int64_t(1));
  }

  // `--set teacher.arch=...` reaches the teacher: the CLI used to train the preset's network anyway.
  void teacherArchOverrideIsHonoured() {
    RunConfig c = findPreset("resnet56-resnet20").student;
    c.teacher.arch = "resnet110";
    const services::TeacherPlan p = services::TrainingService(m_db).planTeacher(c);
    QCOMPARE(p.recipe.student, std::string("resnet110"));
    c.teacher.arch = "resnet14";  // no preset trains a resnet14 teacher: the student's recipe with cross-entropy
    const services::TeacherPlan q = services::TrainingService(m_db).planTeacher(c);
    QCOMPARE(q.recipe.student, std::string("resnet14"));
    QCOMPARE(q.recipe.method, std::string("ce"));
    QCOMPARE(q.recipe.optim.epochs, c.optim.epochs);
    QCOMPARE(q.recipe.data.kind, c.data.kind);
  }

  // A name that is not in the zoo is refused before anything is trained.
  void unknownTeacherIsRefusedFirst() {
    RunConfig c = tinyStudent();
    c.teacher.arch = "resnet9000";
    services::TrainingService service(m_db);
    QVERIFY_EXCEPTION_THROWN(service.planTeacher(c), InputError);
    const RunOutcome o = service.start(c, {});
    QVERIFY(o.badInput);
    QCOMPARE(o.runId, int64_t(0));
    QVERIFY2(o.message.find("teacher.arch 'resnet9000'") != std::string::npos, o.message.c_str());
    QVERIFY(services::RunHistory(m_db).list().empty());
    Result r = runCli({"--db", QString::fromStdString(m_db), "train", "--config",
                       writeConfig("bad-teacher.json", c)});
    QVERIFY2(r.code == 2 && r.err.contains("resnet9000"), qPrintable(describe(r)));
    QVERIFY(services::RunHistory(m_db).list().empty());
  }

  // The studio (the service called directly) trains the teacher; the CLI, given the same student config,
  // reuses exactly that run, and so does the service again.
  void sameConfigSameTeacherFromEitherFrontEnd() {
    RunConfig student = tinyStudent();
    services::TrainingService service(m_db);
    const RunOutcome first = service.start(student, {});
    QVERIFY2(first.status == RunStatus::Finished, first.message.c_str());
    services::RunHistory history(m_db);
    const auto teacherRun = history.run(first.runId)->teacherRun;
    QVERIFY(teacherRun.has_value());
    const services::TeacherPlan again = service.planTeacher(student);
    QVERIFY(again.source == services::TeacherPlan::Source::Reuse);
    QCOMPARE(again.run, *teacherRun);
    student.name = "from-the-cli";
    Result r = runCli({"--db", QString::fromStdString(m_db), "train", "--config", writeConfig("student.json", student)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    RunFilter f;
    f.text = "from-the-cli";
    const auto runs = history.list(f);
    QCOMPARE(runs.size(), size_t(1));
    QCOMPARE(runs.front().teacherRun, teacherRun);
  }

  // The CLI prints the table the studio shows and exports: the same service text, from the same runs.
  void ablationTableIsTheSameText() {
    RunConfig base = tinyStudent();
    base.name.clear();
    Result r = runCli({"--db", QString::fromStdString(m_db), "ablation", "--preset", "quick", "--set",
                       "data.kind=mnist", "--set", "data.path=" + QString::fromStdString(m_data), "--set",
                       "data.per_class=0", "--set", "data.test_per_class=0", "--set", "optim.epochs=1", "--set",
                       "optim.batch_size=40", "--set", "review.warmup_epochs=1", "--set", "device=cpu", "--set",
                       "threads=1", "--set", "snapshot_every=0"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    // The rows of the grid, filled from the store as the studio's panel fills them from outcomes.
    services::RunHistory history(m_db);
    const auto teacherRun = services::TrainingService(m_db).planTeacher(base);
    QVERIFY(teacherRun.source == services::TeacherPlan::Source::Reuse);
    base.teacher.run = teacherRun.run;
    std::vector<services::AblationResult> rows;
    auto all = history.list();
    std::reverse(all.begin(), all.end());  // oldest first: the grid's order
    std::vector<RunSummary> grid(all.end() - 8, all.end());
    for (const auto& row : services::ablationRows(base)) rows.push_back({row});
    QCOMPARE(rows.size(), size_t(8));
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].runId = grid[i].id;
      rows[i].status = toString(grid[i].status);
      rows[i].best = grid[i].bestTop1;
      rows[i].last = grid[i].lastTop1;
    }
    const std::string text = services::ablationMarkdown(base.teacher.arch + " -> " + base.student, rows);
    QVERIFY2(r.out.toStdString().find(text) != std::string::npos,
             qPrintable("expected:\n" + QString::fromStdString(text) + "\n" + describe(r)));
    QVERIFY(text.find("| student alone |") != std::string::npos);
    const std::string csv = services::ablationCsv(rows);
    QCOMPARE(std::count(csv.begin(), csv.end(), '\n'), 9L);  // header + 8 rows
  }

  // A run that a live process is training is not deleted, from either front end; once it ended, it is.
  void deleteWhileRunningIsRefused() {
    int64_t id = 0;
    {
      RunStore store(m_db);
      RunRecord rec;
      rec.name = "live";
      rec.kind = RunKind::Student;
      rec.method = "reviewkd";
      rec.studentArch = "resnet8";
      rec.pid = static_cast<int64_t>(::getpid());  // this test process: alive
      id = store.createRun(rec);
    }
    services::RunHistory history(m_db);
    try {
      history.deleteRun(id);
      QFAIL("a running run was deleted");
    } catch (const InputError& e) {
      QVERIFY2(std::string(e.what()).find(std::to_string(id)) != std::string::npos, e.what());
    }
    Result r = runCli({"--db", QString::fromStdString(m_db), "runs", "delete", QString::number(id), "--yes"});
    QVERIFY2(r.code == 2, qPrintable(describe(r)));
    QVERIFY(history.run(id).has_value());
    RunStore(m_db).finishRun(id, RunStatus::Stopped);
    history.deleteRun(id);
    QVERIFY(!history.run(id).has_value());
  }

  void storePathOrder() {
    const std::string explicitPath = m_dir + "/explicit.sqlite";
    const std::string envPath = m_dir + "/env.sqlite";
    const std::string last = m_dir + "/last.sqlite";
    std::ofstream(last).put('\n');
    const QByteArray xdg = QByteArray::fromStdString(m_dir + "/xdg");
    qputenv("XDG_DATA_HOME", xdg);
    qputenv("REVIEWKD_DB", QByteArray::fromStdString(envPath));
    std::string source;
    QCOMPARE(services::resolveStorePath(explicitPath, last, &source), explicitPath);
    QCOMPARE(source, std::string("--db"));
    QCOMPARE(services::resolveStorePath("", last, &source), envPath);
    QCOMPARE(source, std::string("$REVIEWKD_DB"));
    qunsetenv("REVIEWKD_DB");
    QCOMPARE(services::resolveStorePath("", last, &source), last);
    QCOMPARE(source, std::string("the store used last"));
    QCOMPARE(services::resolveStorePath("", m_dir + "/gone.sqlite", &source),
             xdg.toStdString() + "/reviewkd-studio/runs.sqlite");
    QCOMPARE(source, std::string("the default location"));
    qunsetenv("XDG_DATA_HOME");
  }

  // Previews (level tables, checkpoint inspection) build networks on the studio's worker pool while a run may
  // be starting: they leave LibTorch's generator exactly where it was.
  void previewsLeaveTheGeneratorAlone() {
    torch::manual_seed(123);
    const torch::Tensor expected = torch::randn({8});
    torch::manual_seed(123);
    const services::LevelTable t = services::levelTable("resnet20", "resnet8", {1, 28, 28, 10});
    QVERIFY2(t.ok(), t.error.c_str());
    const services::ImportReport r = services::inspectCheckpoint(
        rkdtest::testDataDir() + "/checkpoints/resnet8_state_dict.pt", "resnet8", {3, 32, 32, 100});
    QVERIFY2(r.complete(), r.describe().c_str());
    QVERIFY(torch::randn({8}).equal(expected));
  }
  // The metrics CSV of the history (moved from the store to the services with issue 11): quoting, NaN, order.
  void exportsCsv() {
    const std::string dir = rkdtest::tempDir("store-csv");
    rkd::RunStore store(dir + "/runs.sqlite");
    services::RunHistory history(dir + "/runs.sqlite");
    const int64_t a = store.createRun(csvRun("plain"));
    const int64_t b = store.createRun(csvRun("with, \"comma\""));
    store.appendMetrics(a, {{0, 1, "loss", 0.25}, {0, 0, "loss", 0.5}, rkd::MetricPoint::epochLevel(0, "top1", 12.5)});
    store.appendMetrics(b, {{2, 7, "loss", std::numeric_limits<double>::quiet_NaN()}, {2, 8, "loss", 0.1}});
    std::ostringstream out;
    history.writeCsv({b, a}, out);
    const std::string expected = "run_id,run_name,epoch,step,key,value\n" + std::to_string(b) +
                                 ",\"with, \"\"comma\"\"\",2,7,loss,nan\n" + std::to_string(b) +
                                 ",\"with, \"\"comma\"\"\",2,8,loss,0.1\n" + std::to_string(a) + ",plain,0,0,loss,0.5\n" +
                                 std::to_string(a) + ",plain,0,1,loss,0.25\n" + std::to_string(a) +
                                 ",plain,0,-1,top1,12.5\n";
    QCOMPARE(out.str(), expected);

    const std::string file = dir + "/out.csv";
    QVERIFY(!history.writeCsv({a}, file, /*replace=*/false));  // nothing was there to replace
    std::ifstream in(file);
    std::stringstream content;
    content << in.rdbuf();
    QCOMPARE(content.str(), std::string("run_id,run_name,epoch,step,key,value\n") + std::to_string(a) +
                                ",plain,0,0,loss,0.5\n" + std::to_string(a) + ",plain,0,1,loss,0.25\n" +
                                std::to_string(a) + ",plain,0,-1,top1,12.5\n");
    QVERIFY(userErrorOf([&] { history.writeCsv({a}, dir + "/no/such/dir/out.csv", false); }).find("out.csv") != std::string::npos);
    // An existing file is refused without `replace` and left as it was; with it, replaced and said so.
    QVERIFY(userErrorOf([&] { history.writeCsv({a}, file, false); }).find("already exists") != std::string::npos);
    QVERIFY(history.writeCsv({a}, file, /*replace=*/true));
    std::ostringstream sink;
    QVERIFY(userErrorOf([&] { history.writeCsv({a, 5555}, sink); }).find("5555") != std::string::npos);
  }

};

QTEST_GUILESS_MAIN(TestServices)
#include "test_services.moc"
