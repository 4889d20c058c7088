// What the run store enforces against a hostile or unlucky user (issue 20): a metric point logged once (a unique
// index, and the schema-4 migration that drops the duplicates a double resume left), a resume that claims its run
// in one transaction, a resume's layout recorded, a delete that takes the run's files too, paths that are not store
// files refused before SQLite touches them, a missing store never made by a command that only reads, and bounded
// text.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include "core/common/errors.h"
#include "core/store/run_store.h"
#include "test_support.h"

namespace fs = std::filesystem;

#define COMPARE_STATUS(actual, expected) QCOMPARE(rkd::toString(actual), rkd::toString(expected))

namespace {

std::string freshStorePath(const std::string& tag) { return rkdtest::tempDir("guards-" + tag) + "/runs.sqlite"; }

rkd::RunRecord makeRun(const std::string& name) {
  rkd::RunRecord r;
  r.name = name;
  r.kind = rkd::RunKind::Student;
  r.method = "reviewkd";
  r.teacherArch = "resnet56";
  r.studentArch = "resnet20";
  r.dataset = "cifar100";
  r.device = "cpu";
  r.config = {{"optim", {{"epochs", 2}}}};
  return r;
}

// The InputError `fn` throws, "" when it throws none (or another type).
template <typename Fn>
std::string inputErrorOf(Fn fn) {
  try {
    fn();
  } catch (const rkd::InputError& e) {
    return e.full();
  } catch (...) {
    return "<another exception>";
  }
  return "";
}

// The StoreError `fn` throws with its exit code ("exit N: message"), "" when it throws none.
template <typename Fn>
std::string storeErrorOf(Fn fn) {
  try {
    fn();
  } catch (const rkd::StoreError& e) {
    return "exit " + std::to_string(e.exitCode()) + ": " + e.full();
  } catch (...) {
    return "<another exception>";
  }
  return "";
}

}  // namespace

class TestStoreGuards : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // A point (run, key, epoch, step) is one row: a second write of it fails, whatever the code path.
  void aMetricPointIsLoggedOnce() {
    rkd::RunStore store(freshStorePath("unique"));
    const int64_t id = store.createRun(makeRun("once"));
    store.appendMetrics(id, {{0, 0, "train/loss", 2.0}, {0, 1, "train/loss", 1.5}, {0, rkd::kEpochStep, "test/top1", 40}});
    // The database refuses it: a store failure (exit 3), not bad input.
    const std::string twice = storeErrorOf([&] { store.appendMetrics(id, {{0, 1, "train/loss", 1.4}}); });
    QVERIFY2(twice.rfind("exit 3: ", 0) == 0 && twice.find("UNIQUE") != std::string::npos, twice.c_str());
    QVERIFY(storeErrorOf([&] { store.appendMetrics(id, {{0, rkd::kEpochStep, "test/top1", 41}}); }).rfind("exit 3", 0) == 0);
    // The refused batch left nothing: the series is what the first write made.
    QCOMPARE(store.metrics(id, "train/loss").size(), size_t(2));
    QCOMPARE(store.metrics(id, "train/loss").values[1], 1.5);
    QCOMPARE(store.metrics(id, "test/top1").values.front(), 40.0);
  }

  // A store of schema 3 that holds duplicates (what two resumes of one run left) is migrated: the last row of each
  // point is kept, the count of dropped rows is reported and recorded with the version, every other row stays.
  void migrationDropsDuplicatesAndSaysHowMany() {
    const std::string path = freshStorePath("migrate");
    int64_t id = 0;
    {
      rkd::RunStore store(path);
      id = store.createRun(makeRun("doubled"));
      store.appendMetrics(id, {{0, 0, "train/loss", 2.0}, {0, 1, "train/loss", 1.5}, {0, rkd::kEpochStep, "test/top1", 40}});
    }
    // Back to schema 3 (no unique index), then the rows a second trainer of the same run wrote.
    QCOMPARE(rkdtest::rawQuery(path, "DROP INDEX metrics_point"), std::string());
    QCOMPARE(rkdtest::rawQuery(path, "DELETE FROM schema_version WHERE version = 4"), std::string());
    const std::string insert = "INSERT INTO metrics(run_id, epoch, step, key, value) VALUES (" + std::to_string(id) + ", ";
    QCOMPARE(rkdtest::rawQuery(path, insert + "0, 1, 'train/loss', 1.25)"), std::string());
    QCOMPARE(rkdtest::rawQuery(path, insert + "0, -1, 'test/top1', 42)"), std::string());
    QCOMPARE(rkdtest::rawQuery(path, insert + "0, -1, 'test/top1', 43)"), std::string());
    QCOMPARE(rkdtest::rawQuery(path, "SELECT count(*) FROM metrics"), std::string("6"));

    rkd::RunStore upgraded(path);
    QCOMPARE(upgraded.schemaVersion(), rkd::RunStore::latestSchemaVersion());
    QCOMPARE(upgraded.duplicateMetricRowsDropped(), int64_t(3));
    QCOMPARE(rkdtest::rawQuery(path, "SELECT count(*) FROM metrics"), std::string("3"));
    const auto loss = upgraded.metrics(id, "train/loss");
    QCOMPARE(loss.size(), size_t(2));
    QCOMPARE(loss.values[0], 2.0);
    QCOMPARE(loss.values[1], 1.25);  // the last write of the point
    QCOMPARE(upgraded.metrics(id, "test/top1").values, std::vector<double>{43});
    const std::string recorded = rkdtest::rawQuery(path, "SELECT description FROM schema_version WHERE version = 4");
    QVERIFY2(recorded.find("3 duplicate metric rows dropped") != std::string::npos, recorded.c_str());
    // Opening again changes nothing and reports nothing.
    rkd::RunStore again(path);
    QCOMPARE(again.duplicateMetricRowsDropped(), int64_t(0));
  }

  // Two connections resume one stopped run: the first claims it, the second is refused naming the live writer,
  // and the refused claim dropped no metric.
  void aResumeClaimsItsRun() {
    const std::string path = freshStorePath("claim");
    rkd::RunStore first(path);
    const int64_t id = first.createRun(makeRun("claimed"));
    first.appendMetrics(id, {{0, 0, "train/loss", 2.0}, {0, 1, "train/loss", 1.5}, {0, 2, "train/loss", 1.2}});
    first.updateRunStatus(id, rkd::RunStatus::Stopped, "stopped on request");
    first.resumeRunAt(id, 0, 2, "resumed");
    COMPARE_STATUS(first.getRun(id)->status, rkd::RunStatus::Running);
    QCOMPARE(first.metrics(id, "train/loss").size(), size_t(2));  // step 2 was after the checkpoint

    rkd::RunStore second(path);
    const std::string refused = inputErrorOf([&] { second.resumeRunAt(id, 0, 1, "resumed again"); });
    QVERIFY2(refused.find("still running") != std::string::npos && refused.find(std::to_string(getpid())) != std::string::npos,
             refused.c_str());
    QCOMPARE(second.metrics(id, "train/loss").size(), size_t(2));  // the refused claim rolled back its truncation
    QCOMPARE(QString::fromStdString(second.getRun(id)->message), QString("resumed"));
    // Once the writer ended the run, another resume may claim it.
    first.finishRun(id, rkd::RunStatus::Stopped, "stopped again");
    second.resumeRunAt(id, 0, 1, "resumed by the second");
    COMPARE_STATUS(second.getRun(id)->status, rkd::RunStatus::Running);
  }

  // A run trained by 2 processes and resumed by 1 (or on another device) records the layout it now trains on.
  void aResumeRecordsItsLayout() {
    rkd::RunStore store(freshStorePath("layout"));
    rkd::RunRecord r = makeRun("two ranks");
    r.worldSize = 2;
    r.backend = "gloo";
    r.rankDevices = "cpu,cpu";
    const int64_t id = store.createRun(r);
    store.updateRunStatus(id, rkd::RunStatus::Stopped, "stopped");
    rkd::RunRecord layout;
    layout.device = "cpu";
    layout.worldSize = 1;
    store.resumeRunAt(id, 1, 10, "resumed alone", &layout);
    const auto after = store.getRun(id);
    QCOMPARE(after->worldSize, 1);
    QCOMPARE(QString::fromStdString(after->backend), QString());
    QCOMPARE(QString::fromStdString(after->rankDevices), QString());
  }

  // Deleting a run takes its folder of checkpoints (after its rows), and no other run's.
  void deleteTakesTheRunsFiles() {
    const std::string path = freshStorePath("delete");
    rkd::RunStore store(path);
    const int64_t a = store.createRun(makeRun("a"));
    const int64_t b = store.createRun(makeRun("b"));
    for (int64_t id : {a, b}) {
      store.finishRun(id, rkd::RunStatus::Finished);
      const std::string folder = rkd::RunStore::runFolder(path, id);
      fs::create_directories(folder);
      std::ofstream(folder + "/last.pt") << "weights";
      store.addCheckpoint(id, 0, folder + "/last.pt", rkd::CheckpointKind::Last);
    }
    QVERIFY(store.deleteRun(a));
    QVERIFY(!fs::exists(rkd::RunStore::runFolder(path, a)));
    QVERIFY(fs::exists(rkd::RunStore::runFolder(path, b) + "/last.pt"));
    QVERIFY(store.getRun(b).has_value());
  }

  // What a store path names is checked before SQLite opens it: a folder, a device or a FIFO is refused as bad input
  // (no journal left beside a device), and a store that must exist is never made, nor its folder.
  void pathsThatAreNotStoresAreRefused() {
    const std::string dir = rkdtest::tempDir("guards-paths");
    QVERIFY(inputErrorOf([&] { rkd::RunStore s(dir); }).find("is a folder") != std::string::npos);
    const std::string fifo = dir + "/store.fifo";
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    QVERIFY(inputErrorOf([&] { rkd::RunStore s(fifo); }).find("FIFO") != std::string::npos);
    QVERIFY(inputErrorOf([&] { rkd::RunStore s("/dev/null"); }).find("character device") != std::string::npos);
    QVERIFY(!fs::exists("/dev/null-journal") && !fs::exists("/dev/null-wal"));
    std::ofstream(dir + "/plain") << "x";
    QVERIFY(inputErrorOf([&] { rkd::RunStore s(dir + "/plain/x.sqlite"); }).find("not a folder") != std::string::npos);

    rkd::RunStoreOptions existing;
    existing.mustExist = true;
    const std::string missing = dir + "/not/yet/runs.sqlite";
    const std::string why = inputErrorOf([&] { rkd::RunStore s(missing, existing); });
    QVERIFY2(why.find("no run store at") != std::string::npos, why.c_str());
    QVERIFY(!fs::exists(dir + "/not"));
  }

  // Names, tags and notes are bounded, with the bound in the message.
  void textIsBounded() {
    rkd::RunStore store(freshStorePath("bounds"));
    const std::string longName(rkd::kRunNameBytes + 1, 'n');
    QVERIFY(inputErrorOf([&] { store.createRun(makeRun(longName)); }).find("256") != std::string::npos);
    const int64_t id = store.createRun(makeRun(std::string(rkd::kRunNameBytes, 'n')));
    QVERIFY(inputErrorOf([&] { store.addTag(id, std::string(rkd::kTagBytes + 1, 't')); }).find("64") != std::string::npos);
    store.addTag(id, std::string(rkd::kTagBytes, 't'));
    QVERIFY(!inputErrorOf([&] { store.addNote(id, std::string(rkd::kNoteBytes + 1, 'x')); }).empty());
    store.addNote(id, std::string(rkd::kNoteBytes, 'x'));
    QCOMPARE(store.tags(id).size(), size_t(1));
    QCOMPARE(store.notes(id).size(), size_t(1));
  }
};

QTEST_GUILESS_MAIN(TestStoreGuards)
#include "test_store_guards.moc"
