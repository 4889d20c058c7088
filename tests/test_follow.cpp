// Following runs that other processes write to the store, and the studio's jobs of several processes: the device
// menu's "N processes" entries, the command lines the studio builds, History > Follow live on a `reviewkd train`
// child process (curves, progress, the end, Stop by SIGINT), a job started from the studio through a stand-in for
// `reviewkd launch` (followed from the teacher to the student), a launcher that fails, the resume of a
// distributed run, and, when the CLI has `launch`, a real 2-process Gloo job started from the studio.
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QtTest/QtTest>
#include <qcustomplot.h>

#include <sqlite3.h>

#include "core/services/catalog.h"
#include "core/services/inspect.h"
#include "core/services/run_follower.h"
#include "core/services/run_history.h"
#include "gui_support.h"
#include "widgets/controllers/distributed_job.h"
#include "widgets/experiment_panel.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/main_window.h"
#include "widgets/controllers/run_follow_controller.h"
#include "widgets/controllers/training_controller.h"

using rkd::gui::MainWindow;

namespace {

int pointCount(QCustomPlot* plot) {
  int n = 0;
  for (int i = 0; i < plot->graphCount(); ++i) n += plot->graph(i)->dataCount();
  return n;
}

std::vector<std::string> strings(std::initializer_list<const char*> list) {
  std::vector<std::string> out;
  for (const char* s : list) out.emplace_back(s);
  return out;
}

// A shell script that stands in for `reviewkd launch`: it records its arguments and the config file it was
// given, checks the launch syntax, then runs the worker command (everything after --) once, as one process.
QString writeFakeLauncher(const QString& dir) {
  const QString path = dir + "/fake-reviewkd";
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly)) return {};
  f.write(QStringLiteral(
              "#!/bin/sh\n"
              "printf '%s\\n' \"$@\" > \"%1/args.txt\"\n"
              "[ \"$1\" = launch ] && [ \"$2\" = --nproc-per-node ] && [ \"$4\" = -- ] || { echo \"bad launch syntax: $*\" >&2; exit 64; }\n"
              "shift 4\n"
              "for a in \"$@\"; do case \"$a\" in *.json) cp \"$a\" \"%1/config.json\";; esac; done\n"
              "exec \"%2\" \"$@\"\n")
              .arg(dir, QStringLiteral(REVIEWKD_CLI_PATH))
              .toUtf8());
  f.close();
  f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
  return path;
}

QString writeFailingLauncher(const QString& dir) {
  const QString path = dir + "/failing-reviewkd";
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly)) return {};
  f.write("#!/bin/sh\n"
          "echo 'starting 2 workers'\n"
          "echo 'error: MASTER_PORT 29500 is in use; set --master-port to a free port' >&2\n"
          "exit 2\n");
  f.close();
  f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
  return path;
}

// Whether the process has exited (at once when it already had: QProcess::waitForFinished says false then).
bool exited(QProcess& p, int timeoutMs) { return p.state() == QProcess::NotRunning || p.waitForFinished(timeoutMs); }

bool cliHasLaunch() {
  QProcess p;
  p.start(QStringLiteral(REVIEWKD_CLI_PATH), {QStringLiteral("launch"), QStringLiteral("--help")});
  return p.waitForFinished(60000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

}  // namespace

class TestFollow : public QObject {
  Q_OBJECT

 private:
  QString m_data;
  QString m_dir;
  QString m_store;
  std::unique_ptr<QSettings> m_settings;
  std::unique_ptr<MainWindow> m_window;
  qint64 m_teacherRun = 0;
  qint64 m_stoppedRun = 0;  // stopped by stopSendsSigintToAProcessOfThisHost, resumed by a later test

  // Sets columns of a run's row directly (what another writer, or rank 0 of a distributed job, would have
  // recorded: the store has no call for these).
  bool setColumns(qint64 run, const QString& assignments) const {
    return execute(QStringLiteral("UPDATE runs SET %1 WHERE id = %2").arg(assignments).arg(run));
  }
  // One statement that must change exactly one row.
  bool execute(const QString& statement) const {
    sqlite3* db = nullptr;
    if (sqlite3_open(m_store.toUtf8().constData(), &db) != SQLITE_OK) return false;
    sqlite3_busy_timeout(db, 5000);
    const QByteArray sql = statement.toUtf8();
    const bool ok = sqlite3_exec(db, sql.constData(), nullptr, nullptr, nullptr) == SQLITE_OK && sqlite3_changes(db) == 1;
    sqlite3_close(db);
    return ok;
  }
  bool markDistributed(qint64 run, int worldSize, const char* backend) const {
    return setColumns(run, QStringLiteral("world_size = %1, backend = '%2'").arg(worldSize).arg(QString::fromLatin1(backend)));
  }

  // A run of a few seconds per epoch on the synthetic data.
  rkd::RunConfig tinyConfig(int epochs) const { return rkdtest::tinyRunConfig(m_data, "followed", epochs, 1, 0); }

  QString writeConfig(const rkd::RunConfig& c, const QString& name) const {
    const QString path = m_dir + "/" + name;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(QByteArray::fromStdString(rkd::toJson(c).dump(2)));
    return path;
  }

  // `reviewkd --db <store> <args>` as a child process (another process writing the studio's store).
  std::unique_ptr<QProcess> startCli(const QStringList& args) const {
    auto p = std::make_unique<QProcess>();
    p->setProcessChannelMode(QProcess::MergedChannels);
    p->start(QStringLiteral(REVIEWKD_CLI_PATH), QStringList{QStringLiteral("--db"), m_store} + args);
    return p;
  }

  // The newest run with status running, 0 while none.
  qint64 runningRun() const {
    rkd::services::RunHistory h(m_store.toStdString());
    rkd::RunFilter f;
    f.status = rkd::RunStatus::Running;
    const auto runs = h.list(f);
    return runs.empty() ? 0 : runs.front().id;
  }

  std::optional<rkd::RunRecord> record(qint64 id) const {
    rkd::services::RunHistory h(m_store.toStdString());
    return h.run(id);
  }

  void saveShot(const QString& name) {
    const QString keep = qEnvironmentVariable("REVIEWKD_FOLLOW_SHOTS");
    if (!keep.isEmpty()) m_window->grab().save(keep + "/" + name + ".png");
    rkdtest::saveScreenshot(m_window->liveView(), name);
  }

 private Q_SLOTS:
  void initTestCase() {
    m_data = rkdtest::syntheticMnistDir(40, 10);
    m_dir = rkdtest::guiTempDir(QStringLiteral("follow"));
    m_store = m_dir + "/runs.sqlite";
    m_settings = std::make_unique<QSettings>(m_dir + "/studio.ini", QSettings::IniFormat);
    m_window = std::make_unique<MainWindow>(m_store, m_settings.get(), false);
    m_window->resize(1500, 920);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    m_window->followController()->setPollInterval(200);
  }

  void cleanupTestCase() { m_window.reset(); }

  // --- the device menu ------------------------------------------------------------------------------------

  void processOptionsFollowTheCores() {
    QVERIFY(rkd::services::cpuProcessOptions(1).empty());
    const auto two = rkd::services::cpuProcessOptions(2);
    QCOMPARE(two.size(), size_t(1));
    QCOMPARE(two[0].label, std::string("2 processes (CPU, Gloo)"));
    QCOMPARE(two[0].id, std::string("cpu"));
    QCOMPARE(two[0].processes, 2);
    QCOMPARE(two[0].backend, std::string("gloo"));
    const auto many = rkd::services::cpuProcessOptions(64);
    QCOMPARE(many.size(), size_t(7));  // 2 .. 8
    QCOMPARE(many.back().processes, 8);
    QCOMPARE(rkd::services::cpuProcessOptions(12).back().processes, 6);  // at least two threads each
    QVERIFY(!rkd::services::gpuProcessOption(1));
    const auto gpus = rkd::services::gpuProcessOption(4);
    QVERIFY(gpus);
    QCOMPARE(gpus->id, std::string("cuda"));
    QCOMPARE(gpus->processes, 4);
    QCOMPARE(gpus->backend, std::string("nccl"));
    QCOMPARE(gpus->label, std::string("4 processes, one per GPU (NCCL)"));
  }

  void deviceMenuOffersProcesses() {
    rkd::gui::ExperimentPanel* p = m_window->experimentPanel();
    p->setConfig(tinyConfig(1));
    QComboBox* device = p->deviceCombo();
    const int entry = device->findText(QStringLiteral("2 processes (CPU, Gloo)"));
    QVERIFY2(entry >= 0, "the device menu has no '2 processes (CPU, Gloo)' entry");
    device->setCurrentIndex(entry);
    QCOMPARE(p->processes(), 2);
    QCOMPARE(p->config().device, std::string("cpu"));  // the config keeps the device; the count stays in the studio
    // The global batch must divide among the processes.
    p->batchSpin()->setValue(41);
    QVERIFY2(p->validationError().contains(QStringLiteral("optim.batch_size")), qPrintable(p->validationError()));
    QVERIFY(p->validationError().contains(QStringLiteral("2 processes")));
    p->batchSpin()->setValue(40);
    // A preset or config keeps the studio's choice of processes; the settings keep it across sessions.
    p->setConfig(tinyConfig(2));
    QCOMPARE(p->processes(), 2);
    m_window->saveSettings();
    QCOMPARE(m_settings->value(QStringLiteral("experiment/processes")).toInt(), 2);
    QVERIFY(p->setProcesses(1));
    QCOMPARE(p->processes(), 1);
    QCOMPARE(p->deviceCombo()->currentData().toString(), QStringLiteral("cpu"));
  }

  void launchCommandLines() {
    QCOMPARE(rkd::services::launchTrainArguments(2, "/data/runs.sqlite", "/tmp/job/run-config.json"),
             strings({"launch", "--nproc-per-node", "2", "--", "--db", "/data/runs.sqlite", "train", "--config",
                      "/tmp/job/run-config.json"}));
    QCOMPARE(rkd::services::launchResumeArguments(4, "/data/runs.sqlite", 17),
             strings({"launch", "--nproc-per-node", "4", "--", "--db", "/data/runs.sqlite", "resume", "17"}));
    rkd::RunSummary run;
    run.device = "cpu";
    QCOMPARE(rkd::services::deviceText(run), std::string("cpu"));
    run.worldSize = 2;
    run.backend = "gloo";
    QCOMPARE(rkd::services::deviceText(run), std::string("cpu \u00d72 (gloo)"));
    QCOMPARE(rkd::services::threadsPerProcess(0, 2, 16), int64_t(8));
    QCOMPARE(rkd::services::threadsPerProcess(0, 4, 2), int64_t(1));
    QCOMPARE(rkd::services::threadsPerProcess(3, 4, 16), int64_t(3));
    QCOMPARE(rkd::services::threadsPerProcess(0, 1, 16), int64_t(0));
  }

  // --- History > Follow live on another process's run -------------------------------------------------------

  void nothingToFollowSaysSo() {
    QVERIFY(!m_window->followLive(0));
    QVERIFY(!m_window->followController()->isFollowing());
    QVERIFY2(m_window->experimentPanel()->messageLabel()->text().contains(QStringLiteral("No run is in progress")),
             qPrintable(m_window->experimentPanel()->messageLabel()->text()));
  }

  void followsACliRunToItsEnd() {
    // A finished teacher first (synchronously), then a student trained by a `reviewkd train` child process.
    rkd::RunConfig teacher = tinyConfig(1);
    teacher.kind = "teacher";
    teacher.method = "ce";
    teacher.name = "follow-teacher";
    const QString teacherFile = writeConfig(teacher, QStringLiteral("teacher.json"));
    auto t = startCli({QStringLiteral("teacher"), QStringLiteral("--config"), teacherFile});
    QVERIFY(t->waitForFinished(300000));
    QVERIFY2(t->exitCode() == 0, t->readAll().constData());
    {
      rkd::services::RunHistory h(m_store.toStdString());
      m_teacherRun = h.list().front().id;
    }
    rkd::RunConfig student = tinyConfig(5);
    student.snapshotEvery = 10;  // rank 0 keeps the latest feature snapshot beside the checkpoints
    const QString studentFile = writeConfig(student, QStringLiteral("student.json"));
    auto cli = startCli({QStringLiteral("train"), QStringLiteral("--config"), studentFile, QStringLiteral("--teacher-run"),
                         QString::number(m_teacherRun)});
    QTRY_VERIFY_WITH_TIMEOUT(runningRun() > 0 || cli->state() == QProcess::NotRunning, 120000);
    const qint64 run = runningRun();
    QVERIFY2(run > 0, cli->readAll().constData());

    QSignalSpy ended(m_window->followController(), &rkd::gui::RunFollowController::followEnded);
    QSignalSpy epochs(m_window->followController(), &rkd::gui::RunFollowController::epochReady);
    QSignalSpy snapshots(m_window->followController(), &rkd::gui::RunFollowController::snapshotReady);
    m_window->historyPanel()->refresh();
    m_window->historyPanel()->selectRuns({run});
    QVERIFY(m_window->historyPanel()->followAction()->isEnabled());
    m_window->followLiveAction()->trigger();  // History > Follow live: the selected running run
    QVERIFY(m_window->followController()->isFollowing());
    QCOMPARE(m_window->followController()->currentRunId(), 0);  // set by the first poll
    QVERIFY(!m_window->experimentPanel()->startButton()->isEnabled());
    QCOMPARE(m_window->tabs()->currentWidget(), static_cast<QWidget*>(m_window->liveView()));

    rkd::gui::LiveView* live = m_window->liveView();
    // Curves and progress while it runs.
    QTRY_VERIFY_WITH_TIMEOUT(pointCount(live->lossPlot()) > 0 || !ended.isEmpty(), 60000);
    QCOMPARE(live->runId(), run);
    QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 240000);
    QVERIFY(exited(*cli, 60000));
    QCOMPARE(cli->exitCode(), 0);

    const auto outcome = qvariant_cast<rkd::RunOutcome>(ended.first().at(0));
    QCOMPARE(outcome.runId, run);
    QCOMPARE(rkd::toString(outcome.status), rkd::toString(rkd::RunStatus::Finished));
    QCOMPARE(outcome.epochsDone, 5);
    // Everything the run logged reached the view: 5 epochs of 10 steps, every epoch's evaluation.
    QCOMPARE(epochs.size(), 5);
    const auto last = qvariant_cast<rkd::EpochProgress>(epochs.last().at(0));
    QCOMPARE(last.epoch, 4);
    QCOMPARE(last.epochs, 5);
    const auto stored = record(run);
    QVERIFY(stored);
    QCOMPARE(last.testTop1, *stored->lastTop1);
    QCOMPARE(last.bestTop1, *stored->bestTop1);
    QCPGraph* total = rkd::gui::LiveView::graphNamed(live->lossPlot(), QStringLiteral("total"));
    QVERIFY(total);
    QCOMPARE(total->dataCount(), 50);
    QVERIFY(rkd::gui::LiveView::graphNamed(live->lossPlot(), QStringLiteral("review")));
    QVERIFY(rkd::gui::LiveView::graphNamed(live->accuracyPlot(), QStringLiteral("test top-1")));
    QCOMPARE(rkd::gui::LiveView::graphNamed(live->accuracyPlot(), QStringLiteral("test top-1"))->dataCount(), 5);
    QCOMPARE(pointCount(live->lrPlot()), 50);
    // The stage features of the run, from the snapshot file its writer keeps (a poll sees the newest one).
    QVERIFY(!snapshots.isEmpty());
    const auto snap = qvariant_cast<rkd::FeatureSnapshot>(snapshots.last().at(0));
    QCOMPARE(snap.runId, run);
    QVERIFY(!snap.levels.empty());
    QVERIFY(!snap.levels.front().teacher.empty());
    QVERIFY(snap.step > 0 && snap.step % 10 == 0);
    QVERIFY2(live->progressLabel()->text().startsWith(QStringLiteral("finished")), qPrintable(live->progressLabel()->text()));
    QCOMPARE(live->progressBar()->value(), live->progressBar()->maximum());
    QVERIFY(!m_window->followController()->isFollowing());
    QVERIFY(m_window->experimentPanel()->startButton()->isEnabled());
    saveShot(QStringLiteral("follow-live"));
  }

  // Stop on a followed run of this host sends SIGINT to its process: it stops after the step in flight, writes
  // a checkpoint and marks the run stopped; the live view says so.
  void stopSendsSigintToAProcessOfThisHost() {
    QVERIFY(m_teacherRun > 0);
    const QString file = writeConfig(tinyConfig(500), QStringLiteral("long.json"));
    auto cli = startCli({QStringLiteral("train"), QStringLiteral("--config"), file, QStringLiteral("--teacher-run"),
                         QString::number(m_teacherRun)});
    QTRY_VERIFY_WITH_TIMEOUT(runningRun() > 0 || cli->state() == QProcess::NotRunning, 120000);
    const qint64 run = runningRun();
    QVERIFY2(run > 0, cli->readAll().constData());
    {
      // A job's run is one its launcher (here: this test process, the CLI's parent) or a child of it writes; a run
      // of another job is passed over while its writer lives.
      rkd::services::RunHistory h(m_store.toStdString());
      const auto mine = rkd::services::newestRunOfJob(h, run - 1, QCoreApplication::applicationPid());
      QVERIFY(mine);
      QCOMPARE(mine->id, run);
      QVERIFY(!rkd::services::newestRunOfJob(h, run - 1, 1));
      QCOMPARE(rkd::services::newestRunOfJob(h, run - 1)->id, run);
    }
    QSignalSpy ended(m_window->followController(), &rkd::gui::RunFollowController::followEnded);
    QSignalSpy messages(m_window->followController(), &rkd::gui::RunFollowController::message);
    QVERIFY(m_window->followLive(run));
    QTRY_VERIFY_WITH_TIMEOUT(pointCount(m_window->liveView()->lossPlot()) > 0, 120000);
    // Progress from the metrics: epoch and step, and the writer's throughput measured between polls.
    QTRY_VERIFY_WITH_TIMEOUT(m_window->liveView()->progressLabel()->text().contains(QStringLiteral("img/s")), 60000);
    QVERIFY2(m_window->liveView()->progressLabel()->text().contains(QStringLiteral("/500")),
             qPrintable(m_window->liveView()->progressLabel()->text()));
    saveShot(QStringLiteral("follow-live-running"));
    QVERIFY(m_window->experimentPanel()->stopButton()->isEnabled());
    QTest::mouseClick(m_window->experimentPanel()->stopButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
    QVERIFY2(messages.first().at(0).toString().contains(QStringLiteral("SIGINT")), qPrintable(messages.first().at(0).toString()));
    QCOMPARE(messages.first().at(1).toBool(), false);
    QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 120000);
    QVERIFY(exited(*cli, 60000));
    QCOMPARE(cli->exitCode(), 1);  // a stopped run
    const auto outcome = qvariant_cast<rkd::RunOutcome>(ended.first().at(0));
    QCOMPARE(rkd::toString(outcome.status), rkd::toString(rkd::RunStatus::Stopped));
    QCOMPARE(rkd::toString(record(run)->status), rkd::toString(rkd::RunStatus::Stopped));
    QVERIFY2(m_window->liveView()->progressLabel()->text().startsWith(QStringLiteral("stopped")),
             qPrintable(m_window->liveView()->progressLabel()->text()));
    rkd::services::RunHistory h(m_store.toStdString());
    QVERIFY(!h.checkpointPath(run, rkd::CheckpointKind::Last).empty());
    m_stoppedRun = run;
  }

  // A process killed outright leaves its run "running": the follower has the store mark it interrupted.
  void aKilledWriterEndsAsInterrupted() {
    QVERIFY(m_teacherRun > 0);
    const QString file = writeConfig(tinyConfig(500), QStringLiteral("killed.json"));
    auto cli = startCli({QStringLiteral("train"), QStringLiteral("--config"), file, QStringLiteral("--teacher-run"),
                         QString::number(m_teacherRun)});
    QTRY_VERIFY_WITH_TIMEOUT(runningRun() > 0 || cli->state() == QProcess::NotRunning, 120000);
    const qint64 run = runningRun();
    QVERIFY(run > 0);
    QSignalSpy ended(m_window->followController(), &rkd::gui::RunFollowController::followEnded);
    QVERIFY(m_window->followLive(run));
    QTRY_VERIFY_WITH_TIMEOUT(pointCount(m_window->liveView()->lossPlot()) > 0, 120000);
    cli->kill();
    QVERIFY(exited(*cli, 30000));
    QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 30000);
    QCOMPARE(rkd::toString(qvariant_cast<rkd::RunOutcome>(ended.first().at(0)).status), rkd::toString(rkd::RunStatus::Interrupted));
    QVERIFY2(m_window->liveView()->progressLabel()->text().startsWith(QStringLiteral("interrupted")),
             qPrintable(m_window->liveView()->progressLabel()->text()));
  }

  // --- jobs the studio starts -------------------------------------------------------------------------------

  // Start with "2 processes" writes the config, starts `reviewkd launch --nproc-per-node 2 -- --db <store> train
  // --config <file>` (a stand-in that runs the worker command once) and follows the job's runs: the teacher it
  // trains first, then the student, to the end.
  void startLaunchesAJobAndFollowsItsRuns() {
    const QString launcherDir = rkdtest::guiTempDir(QStringLiteral("launcher"));
    m_window->distributedJob()->setExecutable(writeFakeLauncher(launcherDir));
    rkd::gui::ExperimentPanel* p = m_window->experimentPanel();
    rkd::RunConfig c = tinyConfig(2);
    c.name = "job";
    c.teacher.arch = "resnet14";  // no finished teacher of this recipe yet: the job trains one first
    c.threads = 0;                // every core: shared among the processes
    p->setConfig(c);
    QVERIFY(p->setProcesses(2));
    QTRY_VERIFY_WITH_TIMEOUT(!p->isChecking(), 60000);
    QCOMPARE(p->validationError(), QString());
    QSignalSpy started(m_window->followController(), &rkd::gui::RunFollowController::runStarted);
    QSignalSpy finished(m_window->distributedJob(), &rkd::gui::DistributedJob::jobFinished);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QVERIFY2(m_window->distributedJob()->isRunning(), qPrintable(p->messageLabel()->text()));
    QVERIFY(!m_window->controller()->isBusy());  // nothing trains in the studio's process
    QVERIFY(!p->startButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 400000);

    QFile args(launcherDir + "/args.txt");
    QVERIFY(args.open(QIODevice::ReadOnly));
    const QStringList got = QString::fromUtf8(args.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    const QString configFile = m_window->distributedJob()->configPath();
    QCOMPARE(got, (QStringList{QStringLiteral("launch"), QStringLiteral("--nproc-per-node"), QStringLiteral("2"),
                               QStringLiteral("--"), QStringLiteral("--db"), m_store, QStringLiteral("train"),
                               QStringLiteral("--config"), configFile}));
    QVERIFY2(!QFile::exists(configFile), "the job's temporary config outlived the job");
    QFile sent(launcherDir + "/config.json");
    QVERIFY(sent.open(QIODevice::ReadOnly));
    const rkd::RunConfig read = rkd::runConfigFromJson(nlohmann::json::parse(sent.readAll().toStdString()), "sent");
    rkd::RunConfig expected = p->config();
    QCOMPARE(expected.threads, int64_t(0));
    expected.threads = std::max(1, rkd::services::hardwareThreads() / 2);
    QCOMPARE(rkd::toJson(read).dump(), rkd::toJson(expected).dump());

    const auto outcome = qvariant_cast<rkd::RunOutcome>(finished.first().at(0));
    QVERIFY2(outcome.status == rkd::RunStatus::Finished, outcome.message.c_str());
    QCOMPARE(started.size(), 2);  // the teacher's run, then the student's
    const qint64 teacherRun = started.at(0).at(0).toLongLong();
    const qint64 studentRun = started.at(1).at(0).toLongLong();
    QCOMPARE(outcome.runId, studentRun);
    QCOMPARE(rkd::toString(record(teacherRun)->kind), rkd::toString(rkd::RunKind::Teacher));
    QCOMPARE(rkd::toString(record(studentRun)->status), rkd::toString(rkd::RunStatus::Finished));
    QCOMPARE(m_window->liveView()->runId(), studentRun);
    QCOMPARE(rkd::gui::LiveView::graphNamed(m_window->liveView()->accuracyPlot(), QStringLiteral("test top-1"))->dataCount(), 2);
    QVERIFY(m_window->liveView()->progressLabel()->text().startsWith(QStringLiteral("finished")));
    QVERIFY(m_window->liveView()->logPane()->toPlainText().contains(QStringLiteral("launch --nproc-per-node 2")));
    QVERIFY(!m_window->distributedJob()->isRunning());
    QVERIFY(!m_window->followController()->isFollowing());
    QVERIFY(p->startButton()->isEnabled());
    p->setProcesses(1);
  }

  void aFailingLauncherIsReportedWithItsErrors() {
    m_window->distributedJob()->setExecutable(writeFailingLauncher(rkdtest::guiTempDir(QStringLiteral("failing"))));
    rkd::gui::ExperimentPanel* p = m_window->experimentPanel();
    p->setConfig(tinyConfig(1));
    QVERIFY(p->setProcesses(2));
    QSignalSpy finished(m_window->distributedJob(), &rkd::gui::DistributedJob::jobFinished);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 60000);
    const auto outcome = qvariant_cast<rkd::RunOutcome>(finished.first().at(0));
    QCOMPARE(rkd::toString(outcome.status), rkd::toString(rkd::RunStatus::Failed));
    QVERIFY(outcome.badInput);
    const QString message = QString::fromStdString(outcome.message);
    QVERIFY2(message.contains(QStringLiteral("exited with code 2")), qPrintable(message));
    QVERIFY2(message.contains(QStringLiteral("MASTER_PORT 29500 is in use")), qPrintable(message));
    QVERIFY(!message.contains(QStringLiteral("starting 2 workers")));  // standard output is log, not the error
    QVERIFY(m_window->liveView()->logPane()->toPlainText().contains(QStringLiteral("starting 2 workers")));
    QVERIFY(p->messageLabel()->text().contains(QStringLiteral("MASTER_PORT")));
    // A missing executable is refused before anything starts, naming the path and what to do.
    m_window->distributedJob()->setExecutable(m_dir + "/no-such-reviewkd");
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QVERIFY(!m_window->distributedJob()->isRunning());
    QVERIFY2(p->messageLabel()->text().contains(QStringLiteral("no-such-reviewkd")), qPrintable(p->messageLabel()->text()));
    QVERIFY(p->messageLabel()->text().contains(QStringLiteral("--target reviewkd")));
    p->setProcesses(1);
  }

  // A run trained by several processes resumes as a job of as many processes (History shows its world size), and
  // Stop on such a job sends SIGINT to the launcher: the run stops after the step in flight.
  void aDistributedRunResumesAsAJobAndStops() {
    QVERIFY(m_stoppedRun > 0);
    const qint64 run = m_stoppedRun;
    const QString launcherDir = rkdtest::guiTempDir(QStringLiteral("resume"));
    m_window->distributedJob()->setExecutable(writeFakeLauncher(launcherDir));
    // The stand-in resumes in one process a run the store says three processes trained (as rank 0 records it).
    QVERIFY(markDistributed(run, 3, "gloo"));
    m_window->historyPanel()->refresh();
    const int row = m_window->historyPanel()->model()->rowOfRun(run);
    QVERIFY(row >= 0);
    QCOMPARE(m_window->historyPanel()->model()
                 ->data(m_window->historyPanel()->model()->index(row, rkd::gui::HistoryModel::Device))
                 .toString(),
             QStringLiteral("cpu \u00d73 (gloo)"));
    QSignalSpy finished(m_window->distributedJob(), &rkd::gui::DistributedJob::jobFinished);
    QSignalSpy started(m_window->followController(), &rkd::gui::RunFollowController::runStarted);
    Q_EMIT m_window->historyPanel()->resumeRequested(run);
    QVERIFY(m_window->distributedJob()->isRunning());
    QVERIFY(!m_window->controller()->isBusy());
    QCOMPARE(m_window->distributedJob()->arguments(),
             (QStringList{QStringLiteral("launch"), QStringLiteral("--nproc-per-node"), QStringLiteral("3"),
                          QStringLiteral("--"), QStringLiteral("--db"), m_store, QStringLiteral("resume"),
                          QString::number(run)}));
    // Followed once it runs again; its history comes first, then new steps.
    QTRY_VERIFY_WITH_TIMEOUT(!started.isEmpty() || !finished.isEmpty(), 120000);
    QVERIFY2(finished.isEmpty(), qPrintable(m_window->liveView()->logPane()->toPlainText()));
    QCOMPARE(started.first().at(0).toLongLong(), run);
    const int before = pointCount(m_window->liveView()->lossPlot());
    QTRY_VERIFY_WITH_TIMEOUT(pointCount(m_window->liveView()->lossPlot()) > before + 5, 120000);
    m_window->stopActive();
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 120000);
    const auto outcome = qvariant_cast<rkd::RunOutcome>(finished.first().at(0));
    QCOMPARE(outcome.runId, run);
    QVERIFY2(outcome.status == rkd::RunStatus::Stopped, outcome.message.c_str());
    QVERIFY(m_window->liveView()->progressLabel()->text().startsWith(QStringLiteral("stopped")));
    QVERIFY(m_window->liveView()->logPane()->toPlainText().contains(QStringLiteral("SIGINT")));
  }

  // The real thing, once `reviewkd launch` exists: 2 CPU processes over Gloo, started from the studio, followed
  // to the end.
  void twoGlooProcessesFromTheStudio() {
    if (!cliHasLaunch()) QSKIP("this build's reviewkd has no 'launch' command yet (issue 12, items 1-6)");
    m_window->distributedJob()->setExecutable(QStringLiteral(REVIEWKD_CLI_PATH));
    rkd::gui::ExperimentPanel* p = m_window->experimentPanel();
    rkd::RunConfig c = tinyConfig(1);
    c.name = "gloo-job";
    c.teacher.run = m_teacherRun;
    p->setConfig(c);
    QVERIFY(p->setProcesses(2));
    QTRY_VERIFY_WITH_TIMEOUT(!p->isChecking(), 60000);
    QCOMPARE(p->validationError(), QString());
    QSignalSpy finished(m_window->distributedJob(), &rkd::gui::DistributedJob::jobFinished);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QVERIFY2(m_window->distributedJob()->isRunning(), qPrintable(p->messageLabel()->text()));
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 400000);
    const auto outcome = qvariant_cast<rkd::RunOutcome>(finished.first().at(0));
    QVERIFY2(outcome.status == rkd::RunStatus::Finished, outcome.message.c_str());
    const auto stored = record(outcome.runId);
    QVERIFY(stored);
    QCOMPARE(stored->worldSize, 2);
    QCOMPARE(stored->backend, std::string("gloo"));
    QVERIFY(pointCount(m_window->liveView()->lossPlot()) > 0);
    QVERIFY(m_window->liveView()->progressLabel()->text().startsWith(QStringLiteral("finished")));
    saveShot(QStringLiteral("follow-gloo-job"));
    m_window->historyPanel()->refresh();
    const int row = m_window->historyPanel()->model()->rowOfRun(outcome.runId);
    QVERIFY(row >= 0);
    QCOMPARE(m_window->historyPanel()->model()
                 ->data(m_window->historyPanel()->model()->index(row, rkd::gui::HistoryModel::Device))
                 .toString(),
             QStringLiteral("cpu \u00d72 (gloo)"));
    p->setProcesses(1);
  }

  // A distributed job started outside the studio (`reviewkd launch` in a terminal) is followed like any run, and
  // Stop goes to its launcher, which forwards SIGINT to every worker: the run ends stopped, the job exits.
  void stopOfAFollowedDistributedJobGoesToItsLauncher() {
    if (!cliHasLaunch()) QSKIP("this build's reviewkd has no 'launch' command yet (issue 12, items 1-6)");
    QVERIFY(m_teacherRun > 0);
    const QString file = writeConfig(tinyConfig(500), QStringLiteral("long-job.json"));
    auto job = std::make_unique<QProcess>();
    job->setProcessChannelMode(QProcess::MergedChannels);
    job->start(QStringLiteral(REVIEWKD_CLI_PATH),
               {QStringLiteral("launch"), QStringLiteral("--nproc-per-node"), QStringLiteral("2"), QStringLiteral("--"),
                QStringLiteral("--db"), m_store, QStringLiteral("train"), QStringLiteral("--config"), file,
                QStringLiteral("--teacher-run"), QString::number(m_teacherRun)});
    QTRY_VERIFY_WITH_TIMEOUT(runningRun() > 0 || job->state() == QProcess::NotRunning, 120000);
    const qint64 run = runningRun();
    QVERIFY2(run > 0, job->readAll().constData());
    QSignalSpy ended(m_window->followController(), &rkd::gui::RunFollowController::followEnded);
    QSignalSpy messages(m_window->followController(), &rkd::gui::RunFollowController::message);
    QVERIFY(m_window->followLive(run));
    QTRY_VERIFY_WITH_TIMEOUT(pointCount(m_window->liveView()->lossPlot()) > 0, 120000);
    m_window->stopActive();
    QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
    const QString answer = messages.first().at(0).toString();
    QVERIFY2(answer.contains(QStringLiteral("launcher (pid %1)").arg(job->processId())), qPrintable(answer));
    QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 120000);
    QVERIFY(exited(*job, 60000));
    const auto outcome = qvariant_cast<rkd::RunOutcome>(ended.first().at(0));
    QVERIFY2(outcome.status == rkd::RunStatus::Stopped, (outcome.statusText() + ": " + outcome.message).c_str());
    QCOMPARE(record(run)->worldSize, 2);
  }

  // A run written on another host cannot be signalled from here: Stop says so and how to stop it there. Stop
  // following leaves any followed run alone. A followed run deleted from the store ends the follow.
  void aRunOnAnotherHostIsFollowedButNotStopped() {
    QVERIFY(m_teacherRun > 0);
    QVERIFY(setColumns(m_teacherRun, "status = 'running', hostname = 'gpu-node-7', pid = 4242, ended_at = NULL"));
    QVERIFY(m_window->followLive(m_teacherRun));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->followController()->currentRunId() == m_teacherRun, 30000);
    QSignalSpy messages(m_window->followController(), &rkd::gui::RunFollowController::message);
    m_window->stopActive();
    QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
    const QString answer = messages.first().at(0).toString();
    QVERIFY(messages.first().at(1).toBool());  // not sent
    QVERIFY2(answer.contains(QStringLiteral("cannot be stopped from here")), qPrintable(answer));
    QVERIFY(answer.contains(QStringLiteral("kill -INT 4242")));
    QVERIFY(answer.contains(QStringLiteral("gpu-node-7")));
    QVERIFY(m_window->followController()->isFollowing());
    QVERIFY(m_window->stopFollowingAction()->isEnabled());
    m_window->stopFollowingAction()->trigger();
    QVERIFY(!m_window->followController()->isFollowing());
    QVERIFY(m_window->experimentPanel()->startButton()->isEnabled());
    QCOMPARE(rkd::toString(record(m_teacherRun)->status), rkd::toString(rkd::RunStatus::Running));
    // A followed run that disappears from the store (deleted by hand) ends the follow, saying so.
    QVERIFY(m_window->followLive(m_teacherRun));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->followController()->currentRunId() == m_teacherRun, 30000);
    QSignalSpy ended(m_window->followController(), &rkd::gui::RunFollowController::followEnded);
    QVERIFY(execute(QStringLiteral("DELETE FROM runs WHERE id = %1").arg(m_teacherRun)));
    QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 30000);
    const QString text = m_window->liveView()->progressLabel()->text();
    QVERIFY2(text.contains(QStringLiteral("was deleted from the run store")), qPrintable(text));
    QVERIFY(!m_window->followController()->isFollowing());
  }
};

QTEST_MAIN(TestFollow)
#include "test_follow.moc"
