// The run store: CRUD, filters, tags/notes, cascades, metrics and batching, CSV, schema versions, error
// messages, WAL readers beside a writer (thread and process), recovery after a writer killed with SIGKILL,
// recovery and delete deciding inside their transaction, and runs whose writer could not close them.
#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common/errors.h"
#include "core/store/run_store.h"
#include "test_support.h"

namespace fs = std::filesystem;

// QCOMPARE of the store's enums, printed by name (rkd::toString).
#define COMPARE_ENUM(actual, expected) QCOMPARE(rkd::toString(actual), rkd::toString(expected))

namespace {

std::string freshStorePath(const std::string& tag) { return rkdtest::tempDir("store-" + tag) + "/runs.sqlite"; }

rkd::RunRecord makeRun(const std::string& name, const std::string& teacher = "resnet56",
                       const std::string& student = "resnet20", rkd::RunKind kind = rkd::RunKind::Student) {
  rkd::RunRecord r;
  r.name = name;
  r.kind = kind;
  r.method = "reviewkd";
  r.teacherArch = teacher;
  r.studentArch = student;
  r.dataset = "cifar100";
  r.device = "cpu";
  r.seed = 7;
  r.config = {{"epochs", 240}, {"lr", 0.05}, {"review", {{"abf", true}, {"hcl", true}}}};
  return r;
}

using rkdtest::rawQuery;

/// Expects fn to throw a UserError whose message contains every needle; returns the error's full text.
template <typename Fn>
std::string expectUserError(Fn fn, std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const rkd::UserError& e) {
    const std::string full = e.full();
    for (const auto& n : needles)
      if (full.find(n) == std::string::npos) return "MISSING '" + n + "' IN: " + full;
    if (e.fix().empty()) return "NO FIX IN: " + full;
    return full;
  } catch (const std::exception& e) {
    return std::string("WRONG TYPE: ") + e.what();
  }
  return "NO THROW";
}

#define EXPECT_USER_ERROR(fn, ...)                                                  \
  do {                                                                              \
    const std::string msg_ = expectUserError(fn, {__VA_ARGS__});                    \
    QVERIFY2(msg_.rfind("MISSING", 0) != 0 && msg_ != "NO THROW" &&                 \
                 msg_.rfind("WRONG TYPE", 0) != 0 && msg_.rfind("NO FIX", 0) != 0, \
             msg_.c_str());                                                         \
    qInfo("%s", msg_.c_str());                                                      \
  } while (0)

/// The pid of a process that has exited and been reaped (so the pid is free).
pid_t deadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

/// A connection of its own that holds the store's write lock (BEGIN IMMEDIATE) until release() or destruction.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path) {
    if (sqlite3_open(path.c_str(), &m_db) == SQLITE_OK)
      m_locked = sqlite3_exec(m_db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLockHolder() {
    release();
    sqlite3_close(m_db);
  }
  bool locked() const { return m_locked; }
  /// Runs a statement inside the held transaction; true on success.
  bool exec(const std::string& sql) { return sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK; }
  /// Commits what exec() wrote and lets the lock go.
  void release() {
    if (m_locked) sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr);
    m_locked = false;
  }

 private:
  sqlite3* m_db = nullptr;
  bool m_locked = false;
};

/// Starts store_writer_child in "forever" mode on path and returns the id of the run it writes (0 on failure).
int64_t startForeverWriter(QProcess& child, const std::string& path) {
  child.start(QStringLiteral(REVIEWKD_STORE_CHILD), {QString::fromStdString(path), "forever"});
  if (!child.waitForStarted(10000) || !child.waitForReadyRead(15000)) return 0;
  const QByteArray line = child.readLine().trimmed();
  return line.startsWith("run ") ? line.mid(4).toLongLong() : 0;
}

}  // namespace

// The whole file, to show that a refused store was not changed.
std::string fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class TestStore : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void createsListsFiltersAndGets() {
    rkd::RunStore store(freshStorePath("crud"));
    QVERIFY(store.walEnabled());
    rkd::RunRecord teacherRec = makeRun("teacher resnet56", "resnet56", "", rkd::RunKind::Teacher);
    teacherRec.method = "ce";
    const int64_t teacher = store.createRun(teacherRec);
    rkd::RunRecord a = makeRun("ReviewKD r56->r20");
    a.teacherRun = teacher;
    const int64_t idA = store.createRun(a);
    const int64_t idB = store.createRun(makeRun("KD wrn40-2 -> wrn16-2", "wrn40_2", "wrn16_2"));
    QVERIFY(teacher > 0 && idA > teacher && idB > idA);

    auto got = store.getRun(idA);
    QVERIFY(got.has_value());
    QCOMPARE(got->name, std::string("ReviewKD r56->r20"));
    COMPARE_ENUM(got->kind, rkd::RunKind::Student);
    COMPARE_ENUM(got->status, rkd::RunStatus::Running);
    QCOMPARE(got->config, a.config);
    QCOMPARE(got->teacherRun.value_or(-1), teacher);
    QCOMPARE(got->pid, static_cast<int64_t>(getpid()));
    QVERIFY(!got->hostname.empty());
    QVERIFY(!got->buildVersion.empty());
    QVERIFY(got->startedAt > 0);
    QVERIFY(!got->endedAt);
    QVERIFY(!store.getRun(9999).has_value());

    QCOMPARE(store.listRuns().size(), size_t(3));
    QCOMPARE(store.listRuns().front().id, idB);  // newest first

    rkd::RunFilter byText;
    byText.text = "WRN40";
    auto r = store.listRuns(byText);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].id, idB);

    rkd::RunFilter byPair;
    byPair.teacherArch = "resnet56";
    byPair.studentArch = "resnet20";
    r = store.listRuns(byPair);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].id, idA);

    rkd::RunFilter byKind;
    byKind.kind = rkd::RunKind::Teacher;
    QCOMPARE(store.listRuns(byKind).size(), size_t(1));

    store.finishRun(idB, rkd::RunStatus::Diverged, "loss became NaN at epoch 3");
    rkd::RunFilter byStatus;
    byStatus.status = rkd::RunStatus::Diverged;
    r = store.listRuns(byStatus);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].message, std::string("loss became NaN at epoch 3"));
    QVERIFY(r[0].endedAt.has_value());
    byStatus.text = "nan at";  // text matches the message too
    QCOMPARE(store.listRuns(byStatus).size(), size_t(1));

    rkd::RunFilter limited;
    limited.limit = 2;
    QCOMPARE(store.listRuns(limited).size(), size_t(2));

    // Text with SQL/LIKE metacharacters is matched literally.
    rkd::RunFilter weird;
    weird.text = "%'_";
    QCOMPARE(store.listRuns(weird).size(), size_t(0));
  }

  void updatesStatusAndAccuracy() {
    rkd::RunStore store(freshStorePath("status"));
    const int64_t id = store.createRun(makeRun("run"));
    store.recordEpoch(id, 1, 40.0);
    store.recordEpoch(id, 2, 55.5);
    store.recordEpoch(id, 3, 50.0);
    auto r = store.getRun(id);
    QCOMPARE(r->epochsDone, 3);
    QCOMPARE(r->bestTop1.value_or(0), 55.5);
    QCOMPARE(r->lastTop1.value_or(0), 50.0);
    store.setBestTop1(id, 60.0);
    store.setLastTop1(id, 59.0);
    store.setEpochsDone(id, 4);
    r = store.getRun(id);
    QCOMPARE(r->bestTop1.value_or(0), 60.0);
    QCOMPARE(r->lastTop1.value_or(0), 59.0);
    QCOMPARE(r->epochsDone, 4);

    store.updateRunStatus(id, rkd::RunStatus::Stopped, "stopped by user");
    r = store.getRun(id);
    COMPARE_ENUM(r->status, rkd::RunStatus::Stopped);
    QVERIFY(r->endedAt.has_value());
    store.updateRunStatus(id, rkd::RunStatus::Running);  // resumed
    QVERIFY(!store.getRun(id)->endedAt.has_value());
    store.finishRun(id);
    COMPARE_ENUM(store.getRun(id)->status, rkd::RunStatus::Finished);

    nlohmann::json cfg = {{"epochs", 300}};
    store.setConfig(id, cfg);
    QCOMPARE(store.getRun(id)->config, cfg);

    EXPECT_USER_ERROR([&] { store.finishRun(id, rkd::RunStatus::Running); }, "running");
    EXPECT_USER_ERROR([&] { store.updateRunStatus(4242, rkd::RunStatus::Failed, "x"); }, "4242");
    EXPECT_USER_ERROR([&] { store.createRun(makeRun("  ")); }, "name");
    EXPECT_USER_ERROR(
        [&] {
          auto rec = makeRun("bad teacher");
          rec.teacherRun = 777;
          store.createRun(rec);
        },
        "777");
    EXPECT_USER_ERROR([&] { rkd::runStatusFromString("done"); }, "done", "finished");

    store.setClassAccuracy(id, 1, {{0, "airplane", 0.5}, {1, "automobile", 0.75}});
    store.setClassAccuracy(id, 2, {{0, "airplane", 0.625}, {1, "automobile", 0.875}});
    auto latest = store.classAccuracy(id);
    QCOMPARE(latest.size(), size_t(2));
    QCOMPARE(latest[1].className, std::string("automobile"));
    QCOMPARE(latest[1].accuracy, 0.875);
    QCOMPARE(store.classAccuracy(id, 1)[0].accuracy, 0.5);
    QVERIFY(store.classAccuracy(id, 9).empty());
  }

  void tagsAndNotes() {
    rkd::RunStore store(freshStorePath("tags"));
    const int64_t a = store.createRun(makeRun("a"));
    const int64_t b = store.createRun(makeRun("b"));
    store.addTag(a, " baseline ");
    store.addTag(a, "paper");
    store.addTag(a, "paper");  // idempotent
    store.addTag(b, "paper");
    QCOMPARE(store.tags(a), (std::vector<std::string>{"baseline", "paper"}));
    QCOMPARE(store.allTags(), (std::vector<std::string>{"baseline", "paper"}));

    rkd::RunFilter byTag;
    byTag.tag = "baseline";
    auto r = store.listRuns(byTag);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].id, a);
    QCOMPARE(r[0].tags, (std::vector<std::string>{"baseline", "paper"}));
    byTag.tag = "paper";
    QCOMPARE(store.listRuns(byTag).size(), size_t(2));

    QVERIFY(store.removeTag(a, "baseline"));
    QVERIFY(!store.removeTag(a, "baseline"));
    QCOMPARE(store.tags(a), (std::vector<std::string>{"paper"}));
    EXPECT_USER_ERROR([&] { store.addTag(a, "   "); }, "tag");
    EXPECT_USER_ERROR([&] { store.addTag(999, "x"); }, "999");

    const int64_t n1 = store.addNote(b, "lr too high,\n\"retry\" with 0.01");
    store.addNote(b, "second");
    auto ns = store.notes(b);
    QCOMPARE(ns.size(), size_t(2));
    QCOMPARE(ns[0].text, std::string("lr too high,\n\"retry\" with 0.01"));
    QCOMPARE(ns[1].text, std::string("second"));
    QVERIFY(ns[0].createdAt > 0);

    rkd::RunFilter byNote;
    byNote.text = "RETRY";
    r = store.listRuns(byNote);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].id, b);

    QVERIFY(store.removeNote(n1));
    QCOMPARE(store.notes(b).size(), size_t(1));
    EXPECT_USER_ERROR([&] { store.addNote(b, ""); }, "note");
  }

  void deleteCascades() {
    const std::string path = freshStorePath("delete");
    rkd::RunStore store(path);
    const int64_t teacher = store.createRun(makeRun("teacher", "resnet56", "", rkd::RunKind::Teacher));
    auto rec = makeRun("student");
    rec.teacherRun = teacher;
    const int64_t student = store.createRun(rec);
    store.appendMetrics(teacher, {{0, 0, "train/loss", 2.0}, {0, 1, "train/loss", 1.5}});
    store.appendMetrics(student, {{0, 0, "train/loss", 3.0}});
    store.addCheckpoint(teacher, 1, "/tmp/t/last.pt", rkd::CheckpointKind::Last);
    store.addTag(teacher, "t");
    store.addNote(teacher, "n");
    store.setClassAccuracy(teacher, 1, {{0, "", 0.5}});
    store.finishRun(teacher);  // a run this process still writes cannot be deleted

    QVERIFY(store.deleteRun(teacher));
    QVERIFY(!store.deleteRun(teacher));
    QVERIFY(!store.getRun(teacher));
    for (const char* table : {"metrics", "checkpoints", "tags", "notes", "class_accuracy"}) {
      QCOMPARE(rawQuery(path, std::string("SELECT count(*) FROM ") + table + " WHERE run_id = " +
                                  std::to_string(teacher)),
               std::string("0"));
    }
    // The student keeps its data; its teacher link is cleared.
    auto s = store.getRun(student);
    QVERIFY(s.has_value());
    QVERIFY(!s->teacherRun.has_value());
    QCOMPARE(store.metricCount(student), int64_t(1));
  }

  void metricsRoundTrip() {
    rkd::RunStore store(freshStorePath("metrics"));
    const int64_t id = store.createRun(makeRun("m"));
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    store.appendMetrics(id, {{1, 10, "train/loss", 0.5},
                             {0, 0, "train/loss", 2.5},
                             {0, 5, "train/loss", 1.25},
                             {1, 11, "train/loss", nan},
                             {1, 12, "train/loss", inf},
                             rkd::MetricPoint::epochLevel(1, "val/top1", 61.5),
                             rkd::MetricPoint::epochLevel(0, "val/top1", 40.0)});
    auto loss = store.metrics(id, "train/loss");
    QCOMPARE(loss.key, std::string("train/loss"));
    QCOMPARE(loss.steps, (std::vector<int64_t>{0, 5, 10, 11, 12}));
    QCOMPARE(loss.epochs, (std::vector<int>{0, 0, 1, 1, 1}));
    QCOMPARE(loss.values[0], 2.5);
    QCOMPARE(loss.values[1], 1.25);
    QCOMPARE(loss.values[2], 0.5);
    QVERIFY(std::isnan(loss.values[3]));
    QVERIFY(std::isinf(loss.values[4]));
    auto top1 = store.metrics(id, "val/top1");
    QCOMPARE(top1.epochs, (std::vector<int>{0, 1}));
    QCOMPARE(top1.steps, (std::vector<int64_t>{rkd::kEpochStep, rkd::kEpochStep}));
    QCOMPARE(top1.values, (std::vector<double>{40.0, 61.5}));
    QCOMPARE(store.metricKeys(id), (std::vector<std::string>{"train/loss", "val/top1"}));
    QVERIFY(store.metrics(id, "nope").empty());
    QCOMPARE(store.metricCount(id), int64_t(7));
    EXPECT_USER_ERROR([&] { store.appendMetrics(31337, {{0, 0, "x", 1}}); }, "31337");
  }

  // What a follower reads: only the rows written after the last one it saw, of its own run, in written order.
  void metricsSinceARow() {
    const std::string path = freshStorePath("since");
    rkd::RunStore store(path);
    const int64_t a = store.createRun(makeRun("a")), b = store.createRun(makeRun("b"));
    store.appendMetrics(a, {{0, 0, "train/loss", 2.0}, {0, 1, "train/loss", 1.5}});
    store.appendMetrics(b, {{0, 0, "train/loss", 9.0}});
    std::vector<double> seen;
    const auto collect = [&](const rkd::MetricPoint& p) { seen.push_back(p.value); };
    const int64_t first = store.visitMetricsSince(a, 0, collect);
    QCOMPARE(seen, (std::vector<double>{2.0, 1.5}));
    seen.clear();
    QCOMPARE(store.visitMetricsSince(a, first, collect), first);  // nothing new: the same row back
    QVERIFY(seen.empty());
    store.appendMetrics(b, {{0, 1, "train/loss", 8.0}});
    store.appendMetrics(a, {{0, 2, "train/loss", 1.25}, rkd::MetricPoint::epochLevel(0, "test/top1", 50.0)});
    const int64_t second = store.visitMetricsSince(a, first, collect);
    QCOMPARE(seen, (std::vector<double>{1.25, 50.0}));
    QVERIFY(second > first);
    EXPECT_USER_ERROR([&] { store.visitMetricsSince(31337, 0, collect); }, "31337");
  }

  void metricWriterBatches() {
    const std::string path = freshStorePath("writer");
    rkd::RunStore store(path);
    const int64_t id = store.createRun(makeRun("w"));
    {
      rkd::MetricWriter writer(store, id, 10, std::chrono::hours(1));
      for (int i = 0; i < 25; ++i) writer.add(0, i, "loss", i);
      QCOMPARE(writer.pending(), size_t(5));
      QCOMPARE(store.metricCount(id), int64_t(20));  // two full batches written
      // Another connection sees exactly the committed batches.
      QCOMPARE(rawQuery(path, "SELECT count(*) FROM metrics"), std::string("20"));
      writer.flush();
      QCOMPARE(writer.pending(), size_t(0));
      QCOMPARE(store.metricCount(id), int64_t(25));
      writer.add(1, 25, "loss", 25);
    }  // destructor flushes
    QCOMPARE(store.metricCount(id), int64_t(26));

    // Time-based flush: a small interval writes a partial batch at the next add.
    rkd::MetricWriter timed(store, id, 1000, std::chrono::milliseconds(20));
    timed.add(2, 26, "loss", 26);
    QTest::qWait(40);
    timed.add(2, 27, "loss", 27);
    QCOMPARE(timed.pending(), size_t(0));
    QCOMPARE(store.metricCount(id), int64_t(28));
  }

  void metricWriterCostPerPoint() {
    rkd::RunStore store(freshStorePath("bench"));
    const int64_t id = store.createRun(makeRun("bench"));
    const int kPoints = 100000;
    const std::string keys[] = {"train/loss", "train/loss_ce", "train/loss_review", "lr"};
    auto t0 = std::chrono::steady_clock::now();
    {
      rkd::MetricWriter writer(store, id);  // defaults: 512 points / 1 s
      for (int i = 0; i < kPoints; ++i) writer.add(i / 4000, i / 4, keys[i % 4], 1.0 / (i + 1));
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    const double perPoint = us / kPoints;
    qInfo("MetricWriter: %d points in %.1f ms, %.3f us/point", kPoints, us / 1000, perPoint);
    QCOMPARE(store.metricCount(id), int64_t(kPoints));
    QVERIFY2(perPoint < 50.0, qPrintable(QString("%1 us/point").arg(perPoint)));
  }

  void checkpointsKeepOneLastAndBest() {
    rkd::RunStore store(freshStorePath("ckpt"));
    const int64_t id = store.createRun(makeRun("c"));
    store.addCheckpoint(id, 1, "/ck/last.pt", rkd::CheckpointKind::Last);
    store.addCheckpoint(id, 1, "/ck/best.pt", rkd::CheckpointKind::Best);
    store.addCheckpoint(id, 1, "/ck/epoch1.pt", rkd::CheckpointKind::Epoch);
    store.addCheckpoint(id, 2, "/ck/last.pt", rkd::CheckpointKind::Last);
    store.addCheckpoint(id, 2, "/ck/epoch2.pt", rkd::CheckpointKind::Epoch);
    auto list = store.listCheckpoints(id);
    QCOMPARE(list.size(), size_t(4));
    int last = 0, best = 0, epoch = 0;
    for (const auto& c : list) {
      QCOMPARE(c.runId, id);
      QVERIFY(c.createdAt > 0);
      if (c.kind == rkd::CheckpointKind::Last) {
        ++last;
        QCOMPARE(c.epoch, 2);
      }
      best += c.kind == rkd::CheckpointKind::Best;
      epoch += c.kind == rkd::CheckpointKind::Epoch;
    }
    QCOMPARE(last, 1);
    QCOMPARE(best, 1);
    QCOMPARE(epoch, 2);
    QCOMPARE(list.front().epoch, 1);
    QCOMPARE(list.back().epoch, 2);
  }

  void schemaVersionAndReopen() {
    const std::string path = freshStorePath("schema");
    int64_t id = 0;
    {
      rkd::RunStore store(path);
      QCOMPARE(store.schemaVersion(), rkd::RunStore::latestSchemaVersion());
      id = store.createRun(makeRun("persist"));
      store.appendMetrics(id, {{0, 0, "loss", 1.0}});
      store.finishRun(id);
    }
    QCOMPARE(rawQuery(path, "PRAGMA journal_mode"), std::string("wal"));
    QCOMPARE(rawQuery(path, "SELECT count(*) FROM schema_version"),
             std::to_string(rkd::RunStore::latestSchemaVersion()));
    {
      rkd::RunStore store(path);  // re-open: no migration re-applied, data intact
      QCOMPARE(store.schemaVersion(), rkd::RunStore::latestSchemaVersion());
      QCOMPARE(store.getRun(id)->name, std::string("persist"));
      COMPARE_ENUM(store.getRun(id)->status, rkd::RunStatus::Finished);
      QCOMPARE(store.metricCount(id), int64_t(1));
    }
    QCOMPARE(rawQuery(path, "SELECT count(*) FROM schema_version"),
             std::to_string(rkd::RunStore::latestSchemaVersion()));
    {
      rkd::RunStoreOptions ro;
      ro.readOnly = true;
      rkd::RunStore reader(path, ro);
      QCOMPARE(reader.listRuns().size(), size_t(1));
    }

    // An empty SQLite file (no tables) becomes a store.
    const std::string empty = freshStorePath("schema-empty");
    {
      sqlite3* db = nullptr;
      QCOMPARE(sqlite3_open(empty.c_str(), &db), SQLITE_OK);
      sqlite3_close(db);
    }
    rkd::RunStore created(empty);
    QCOMPARE(created.schemaVersion(), rkd::RunStore::latestSchemaVersion());
  }

  // Schema 3 gives every store its own id (an upgraded store too) and checkpoint files of its own: recorded
  // relative to the store, resolved to absolute paths; a path a store of schema 2 recorded relative to the
  // writer's working directory still finds its file in the run folder of that time (issue 14, finding 3).
  void storeIdsAndCheckpointPaths() {
    namespace fs = std::filesystem;
    const std::string path = freshStorePath("owner");
    const std::string folder = fs::path(path).parent_path().string();
    int64_t id = 0;
    std::string firstId;
    {
      rkd::RunStore store(path);
      firstId = store.storeId();
      QCOMPARE(firstId.size(), size_t(32));
      id = store.createRun(makeRun("owned"));
      QCOMPARE(QString::fromStdString(rkd::RunStore::runFolder(path, id)),
               QString::fromStdString(path + ".checkpoints/run-" + std::to_string(id)));
      store.addCheckpoint(id, 1, rkd::RunStore::runFolder(path, id) + "/last.pt", rkd::CheckpointKind::Last);
      store.addCheckpoint(id, 1, "/elsewhere/best.pt", rkd::CheckpointKind::Best);
      QCOMPARE(QString::fromStdString(store.checkpointPath(id, rkd::CheckpointKind::Last)),
               QString::fromStdString(path + ".checkpoints/run-" + std::to_string(id) + "/last.pt"));
      QCOMPARE(store.checkpointPath(id, rkd::CheckpointKind::Best), std::string("/elsewhere/best.pt"));
    }
    const std::string stored = rawQuery(path, "SELECT path FROM checkpoints WHERE kind = 'last'");
    QCOMPARE(QString::fromStdString(stored),
             QString::fromStdString(fs::path(path).filename().string() + ".checkpoints/run-" + std::to_string(id) +
                                    "/last.pt"));
    QCOMPARE(rkd::RunStore(freshStorePath("owner-2")).storeId() == firstId, false);

    // Back to schema 2, with a path recorded the old way ("sub/checkpoints/run-1/last.pt" from the folder above).
    QCOMPARE(rawQuery(path, "DROP TABLE store_info"), std::string());
    QCOMPARE(rawQuery(path, "DELETE FROM schema_version WHERE version >= 3"), std::string());
    QCOMPARE(rawQuery(path, "DROP INDEX metrics_point"), std::string());
    QCOMPARE(rawQuery(path, "UPDATE checkpoints SET path = 'sub/checkpoints/run-" + std::to_string(id) +
                                "/last.pt' WHERE kind = 'last'"),
             std::string());
    const fs::path legacy = fs::path(folder) / "checkpoints" / ("run-" + std::to_string(id)) / "last.pt";
    fs::create_directories(legacy.parent_path());
    std::ofstream(legacy) << "x";
    {
      rkd::RunStoreOptions ro;
      ro.readOnly = true;
      expectUserError([&] { rkd::RunStore reader(path, ro); }, {"schema version 2", "read-only"});
    }
    rkd::RunStore upgraded(path);
    QCOMPARE(upgraded.schemaVersion(), rkd::RunStore::latestSchemaVersion());
    QCOMPARE(upgraded.storeId().size(), size_t(32));
    QVERIFY(upgraded.storeId() != firstId);
    QCOMPARE(QString::fromStdString(upgraded.checkpointPath(id, rkd::CheckpointKind::Last)), QString::fromStdString(legacy.string()));
  }

  // A database of another program (tables, no schema_version) is refused and left byte for byte as it was
  // (issue 14, finding 5: it used to be adopted and given the store's tables).
  void foreignDatabaseIsRefusedUntouched() {
    const std::string path = freshStorePath("foreign");
    {
      sqlite3* db = nullptr;
      QCOMPARE(sqlite3_open(path.c_str(), &db), SQLITE_OK);
      QCOMPARE(sqlite3_exec(db, "CREATE TABLE customers(id INTEGER, name TEXT); INSERT INTO customers VALUES (1, 'a')",
                            nullptr, nullptr, nullptr),
               SQLITE_OK);
      sqlite3_close(db);
    }
    const std::string before = fileBytes(path);
    EXPECT_USER_ERROR([&] { rkd::RunStore store(path); }, path, "another program", "customers");
    QCOMPARE(fileBytes(path), before);
    QVERIFY(!std::filesystem::exists(path + "-wal"));
  }

  void newerSchemaIsRefused() {
    const std::string path = freshStorePath("newer");
    { rkd::RunStore store(path); }
    // A rollback-journal file, as a newer build might leave it: refusing it must not switch it to WAL.
    rawQuery(path, "PRAGMA journal_mode=DELETE");
    QCOMPARE(rawQuery(path, "INSERT INTO schema_version(version, applied_at, description) VALUES (99, 0, 'future')"),
             std::string());
    const std::string before = fileBytes(path);
    QCOMPARE(static_cast<int>(before.at(18)), 1);  // header: legacy (rollback) read/write versions
    EXPECT_USER_ERROR([&] { rkd::RunStore store(path); }, path, "99",
                      std::to_string(rkd::RunStore::latestSchemaVersion()), "newer");
    QCOMPARE(fileBytes(path), before);
    rkd::RunStoreOptions ro;
    ro.readOnly = true;
    EXPECT_USER_ERROR([&] { rkd::RunStore store(path, ro); }, "99");
    QCOMPARE(fileBytes(path), before);
  }

  void nonSqliteFileIsRefused() {
    const std::string path = rkdtest::tempDir("store-notdb") + "/runs.sqlite";
    {
      std::ofstream out(path);
      out << "this is a text file, not a database\n" << std::string(4096, 'x');
    }
    EXPECT_USER_ERROR([&] { rkd::RunStore store(path); }, path, "not a");
  }

  void unwritablePathIsRefused() {
    const std::string dir = rkdtest::tempDir("store-unwritable");
    const std::string file = dir + "/plain-file";
    { std::ofstream(file) << "x"; }
    // The parent "folder" is a regular file: cannot be created.
    EXPECT_USER_ERROR([&] { rkd::RunStore store(file + "/runs.sqlite"); }, file + "/runs.sqlite", "folder");
    // The path is a folder.
    EXPECT_USER_ERROR([&] { rkd::RunStore store(dir); }, dir, "folder");
    // Read-only open of a file that does not exist.
    rkd::RunStoreOptions ro;
    ro.readOnly = true;
    EXPECT_USER_ERROR([&] { rkd::RunStore store(dir + "/missing.sqlite", ro); }, dir + "/missing.sqlite");
  }

  void defaultPathFollowsXdg() {
    const std::string dir = rkdtest::tempDir("store-xdg");
    const char* old = std::getenv("XDG_DATA_HOME");
    const std::string saved = old ? old : "";
    qputenv("XDG_DATA_HOME", QByteArray::fromStdString(dir + "/data"));
    const std::string path = rkd::RunStore::defaultPath();
    if (old) qputenv("XDG_DATA_HOME", QByteArray::fromStdString(saved));
    else qunsetenv("XDG_DATA_HOME");
    QCOMPARE(path, dir + "/data/reviewkd-studio/runs.sqlite");
    QVERIFY(fs::is_directory(dir + "/data/reviewkd-studio"));
  }

  void sqliteErrorsNameTheStatement() {
    const std::string path = freshStorePath("busy");
    rkd::RunStoreOptions quick;
    quick.busyTimeoutMs = 50;
    rkd::RunStore store(path, quick);
    auto other = std::make_unique<WriteLockHolder>(path);
    QVERIFY(other->locked());
    try {
      store.createRun(makeRun("blocked"));
      QFAIL("createRun should fail while another connection holds the write lock");
    } catch (const rkd::StoreError& e) {
      const std::string what = e.what();
      qInfo("%s", e.full().c_str());
      QCOMPARE(e.sqliteCode(), SQLITE_BUSY);
      QVERIFY2(what.find(path) != std::string::npos, what.c_str());
      QVERIFY2(what.find("createRun") != std::string::npos, what.c_str());
      QVERIFY2(what.find("INSERT INTO runs") != std::string::npos, what.c_str());
      QVERIFY(!e.fix().empty());
    }
    QCOMPARE(store.listRuns().size(), size_t(0));  // readers are not blocked by the writer in WAL mode
    other.reset();
    QVERIFY(store.createRun(makeRun("now free")) > 0);
  }

  void readerThreadSeesWholeBatches() {
    const std::string path = freshStorePath("thread");
    rkd::RunStore writerStore(path);
    const int64_t id = writerStore.createRun(makeRun("threaded"));
    constexpr int kBatch = 50, kBatches = 100;
    std::atomic<bool> done{false};
    std::thread writer([&] {
      rkd::MetricWriter w(writerStore, id, kBatch, std::chrono::hours(1));
      for (int i = 0; i < kBatch * kBatches; ++i) {
        w.add(0, i, "x", i);
        if (i % kBatch == kBatch - 1) std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      w.flush();
      done = true;
    });
    rkd::RunStore reader(path);
    int reads = 0, partial = 0;
    size_t lastSize = 0;
    while (!done || reads == 0) {
      auto s = reader.metrics(id, "x");
      ++reads;
      if (s.size() % kBatch != 0 || s.size() < lastSize) ++partial;
      for (size_t i = 0; i < s.size(); ++i)
        if (s.steps[i] != int64_t(i) || s.values[i] != double(i)) ++partial;
      lastSize = s.size();
    }
    writer.join();
    QCOMPARE(partial, 0);
    QCOMPARE(reader.metricCount(id), int64_t(kBatch * kBatches));
    qInfo("reader thread: %d consistent reads while the writer appended", reads);
  }

  void readerSeesConsistentDataWhileChildWrites() {
    const std::string path = freshStorePath("child");
    { rkd::RunStore init(path); }
    constexpr int kBatches = 150, kBatch = 40;
    QProcess child;
    child.start(QStringLiteral(REVIEWKD_STORE_CHILD),
                {QString::fromStdString(path), "batches", QString::number(kBatches), QString::number(kBatch), "2"});
    QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
    QVERIFY(child.waitForReadyRead(15000));
    const QByteArray line = child.readLine().trimmed();
    QVERIFY2(line.startsWith("run "), line.constData());
    const int64_t id = line.mid(4).toLongLong();

    rkd::RunStore reader(path);
    int reads = 0, bad = 0;
    std::set<size_t> sizesSeen;
    while (child.state() != QProcess::NotRunning) {
      auto s = reader.metrics(id, "x");
      ++reads;
      sizesSeen.insert(s.size());
      if (s.size() % kBatch != 0) ++bad;
      for (size_t i = 0; i < s.size(); ++i)
        if (s.steps[i] != int64_t(i) || s.values[i] != double(i)) ++bad;
      QTest::qWait(1);
    }
    child.waitForFinished(15000);  // already finished: returns at once
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QCOMPARE(child.exitCode(), 0);
    QCOMPARE(bad, 0);
    qInfo("reader process side: %d reads, %zu distinct sizes seen while the child wrote", reads, sizesSeen.size());
    QVERIFY2(sizesSeen.size() >= 3, "the reader should observe the series growing");
    QCOMPARE(reader.metricCount(id), int64_t(kBatches * kBatch));
    COMPARE_ENUM(reader.getRun(id)->status, rkd::RunStatus::Finished);
  }

  void killedWriterLeavesAnInterruptedRun() {
    const std::string path = freshStorePath("kill");
    { rkd::RunStore init(path); }
    QProcess child;
    const int64_t id = startForeverWriter(child, path);
    QVERIFY2(id > 0, qPrintable(child.errorString()));
    {
      // Wait until the child has committed a good number of batches, so the kill lands mid-stream.
      rkd::RunStoreOptions noRecover;
      noRecover.recoverInterrupted = false;
      rkd::RunStore watcher(path, noRecover);
      QTRY_VERIFY_WITH_TIMEOUT(watcher.metricCount(id) > 5000, 15000);
      COMPARE_ENUM(watcher.getRun(id)->status, rkd::RunStatus::Running);
    }
    child.kill();  // SIGKILL on Unix
    QVERIFY(child.waitForFinished(10000));  // reaped: the pid is gone
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);

    rkd::RunStore store(path);
    QCOMPARE(store.integrityCheck(), std::string("ok"));
    auto run = store.getRun(id);
    QVERIFY(run.has_value());
    COMPARE_ENUM(run->status, rkd::RunStatus::Interrupted);
    QVERIFY2(run->message.find("pid") != std::string::npos, run->message.c_str());
    QVERIFY(run->endedAt.has_value());
    const int64_t n = store.metricCount(id);
    QVERIFY(n > 5000);
    // Whatever was committed is a gap-free prefix of the child's loss series.
    auto loss = store.metrics(id, "train/loss");
    QVERIFY(!loss.empty());
    for (size_t i = 0; i < loss.size(); ++i) QCOMPARE(loss.steps[i], int64_t(i));
    qInfo("after SIGKILL: %lld metric rows kept, message: %s", static_cast<long long>(n), run->message.c_str());
  }

  // Recovery decides inside its IMMEDIATE transaction. Here it first finds a run whose writer crashed, then
  // waits for the write lock, which another connection holds while it resumes that run (this live process
  // becomes its writer): once it has the lock, recovery must see the live writer and leave the run alone.
  void recoveryDecidesInsideItsTransaction() {
    const std::string path = freshStorePath("recover-race");
    rkd::RunStoreOptions noRecover;
    noRecover.recoverInterrupted = false;
    rkd::RunStore store(path, noRecover);
    auto crashed = makeRun("crashed, then resumed elsewhere");
    crashed.pid = deadPid();
    const int64_t id = store.createRun(crashed);

    WriteLockHolder other(path);
    QVERIFY(other.locked());
    int marked = -1;
    std::string error;
    std::thread recovery([&] {
      try {
        marked = store.recoverInterruptedRuns();
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // recovery has looked and waits for the lock
    QVERIFY(other.exec("UPDATE runs SET pid = " + std::to_string(getpid()) +
                       ", writer_token = '', message = 'resumed' WHERE id = " + std::to_string(id)));
    other.release();
    recovery.join();
    QVERIFY2(error.empty(), error.c_str());
    QCOMPARE(marked, 0);
    auto run = store.getRun(id);
    COMPARE_ENUM(run->status, rkd::RunStatus::Running);
    QCOMPARE(run->message, std::string("resumed"));
  }

  // deleteRun refuses a run whose writer is alive (this process, a second process, another host heard from
  // recently) and deletes one whose writer is gone.
  void deleteRefusesARunWithALiveWriter() {
    const std::string path = freshStorePath("delete-live");
    rkd::RunStore store(path);
    const int64_t mine = store.createRun(makeRun("trained here"));
    EXPECT_USER_ERROR([&] { store.deleteRun(mine); }, "run " + std::to_string(mine), "trained here",
                      "pid " + std::to_string(getpid()), "still running", "Stop it first");
    QVERIFY(store.getRun(mine).has_value());

    auto crashed = makeRun("writer crashed");
    crashed.pid = deadPid();
    const int64_t dead = store.createRun(crashed);
    QVERIFY(store.deleteRun(dead));  // running, but its writer is gone: an interrupted run

    auto fresh = makeRun("other host, recent");
    fresh.pid = 1;
    fresh.hostname = "some-gpu-server";
    const int64_t foreign = store.createRun(fresh);
    EXPECT_USER_ERROR([&] { store.deleteRun(foreign); }, "some-gpu-server", "Stop it first");
    auto stale = fresh;
    stale.name = "other host, silent for days";
    stale.startedAt = rkd::nowUnixMs() - 3LL * 24 * 3600 * 1000;
    stale.updatedAt = stale.startedAt + 1000;
    QVERIFY(store.deleteRun(store.createRun(stale)));

    store.finishRun(mine);
    QVERIFY(store.deleteRun(mine));

    // A second process that is still writing its run.
    QProcess child;
    const int64_t childRun = startForeverWriter(child, path);
    QVERIFY2(childRun > 0, qPrintable(child.errorString()));
    EXPECT_USER_ERROR([&] { store.deleteRun(childRun); }, "run " + std::to_string(childRun),
                      "pid " + std::to_string(child.processId()), "still running");
    child.kill();
    QVERIFY(child.waitForFinished(10000));  // reaped: its writer is gone
    QVERIFY(store.deleteRun(childRun));
    QVERIFY(!store.getRun(childRun));
  }

  // A writer whose finishRun fails (another connection holds the write lock past the busy timeout) gives the
  // run up: this same process then recovers it as interrupted, and a resume makes it its writer again.
  void abandonedRunIsRecoveredInThisProcess() {
    const std::string path = freshStorePath("abandon");
    rkd::RunStoreOptions quick;
    quick.busyTimeoutMs = 50;
    rkd::RunStore store(path, quick);
    const int64_t id = store.createRun(makeRun("cannot be closed"));
    {
      WriteLockHolder other(path);
      QVERIFY(other.locked());
      int code = 0;
      try {
        store.finishRun(id);
      } catch (const rkd::StoreError& e) {
        code = e.sqliteCode();
      }
      QCOMPARE(code, SQLITE_BUSY);
      QVERIFY(!store.abandonRun(id, "database is locked"));  // the store cannot be written yet
      COMPARE_ENUM(store.getRun(id)->status, rkd::RunStatus::Running);
    }
    // The write lock is gone: the next recovery in this process marks the run interrupted.
    rkd::RunStore reopened(path);
    auto run = reopened.getRun(id);
    COMPARE_ENUM(run->status, rkd::RunStatus::Interrupted);
    QVERIFY2(run->message.find("could not close") != std::string::npos &&
                 run->message.find("database is locked") != std::string::npos,
             run->message.c_str());

    // Resumed here, the run is this live process's again: recovery leaves it alone.
    store.updateRunStatus(id, rkd::RunStatus::Running, "resumed");
    QCOMPARE(reopened.recoverInterruptedRuns(), 0);
    COMPARE_ENUM(store.getRun(id)->status, rkd::RunStatus::Running);
    EXPECT_USER_ERROR([&] { reopened.deleteRun(id); }, "still running");

    // Given up while the store can be written: marked interrupted at once.
    QVERIFY(store.abandonRun(id, "disk full"));
    COMPARE_ENUM(store.getRun(id)->status, rkd::RunStatus::Interrupted);
    QVERIFY(store.deleteRun(id));
  }

  void recoveryRules() {
    const std::string path = freshStorePath("recover");
    int64_t mine = 0, deadLocal = 0, foreignFresh = 0, foreignStale = 0, finished = 0;
    {
      rkd::RunStoreOptions noRecover;
      noRecover.recoverInterrupted = false;
      rkd::RunStore store(path, noRecover);
      mine = store.createRun(makeRun("this process"));
      auto dead = makeRun("dead local writer");
      dead.pid = deadPid();
      deadLocal = store.createRun(dead);
      auto fresh = makeRun("other host, recent");
      fresh.pid = 1;
      fresh.hostname = "some-gpu-server";
      foreignFresh = store.createRun(fresh);
      auto stale = makeRun("other host, silent for days");
      stale.pid = 1;
      stale.hostname = "some-gpu-server";
      stale.startedAt = rkd::nowUnixMs() - 3LL * 24 * 3600 * 1000;
      stale.updatedAt = stale.startedAt + 1000;
      foreignStale = store.createRun(stale);
      auto done = makeRun("finished, dead writer");
      done.pid = dead.pid;
      finished = store.createRun(done);
      store.finishRun(finished);
    }
    rkd::RunStore store(path);
    COMPARE_ENUM(store.getRun(mine)->status, rkd::RunStatus::Running);
    COMPARE_ENUM(store.getRun(deadLocal)->status, rkd::RunStatus::Interrupted);
    COMPARE_ENUM(store.getRun(foreignFresh)->status, rkd::RunStatus::Running);
    COMPARE_ENUM(store.getRun(foreignStale)->status, rkd::RunStatus::Interrupted);
    QVERIFY(store.getRun(foreignStale)->message.find("some-gpu-server") != std::string::npos);
    COMPARE_ENUM(store.getRun(finished)->status, rkd::RunStatus::Finished);
    QCOMPARE(store.recoverInterruptedRuns(), 0);  // idempotent
  }
};

QTEST_GUILESS_MAIN(TestStore)
#include "test_store.moc"
