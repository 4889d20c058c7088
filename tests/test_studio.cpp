// The studio as a user drives it: the experiment panel's config for every switch combination, a tiny run
// started by clicking Start that updates the curves and lands in History, Stop + Resume, an ablation queue,
// a dataset that fails to load, settings that come back, and the import report (screenshots: test_screenshots).
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QAction>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QtTest/QtTest>
#include <qcustomplot.h>

#include "core/services/catalog.h"
#include "core/services/run_history.h"
#include "gui_support.h"
#include "synthetic_data.h"
#include "widgets/ablation_panel.h"
#include "widgets/experiment_panel.h"
#include "widgets/feature_view.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/main_window.h"
#include "widgets/controllers/training_controller.h"

using rkd::gui::ExperimentPanel;
using rkd::gui::MainWindow;

namespace {

// Waits (processing events) until the panel's background checks (dataset, levels) are done.
bool settle(ExperimentPanel* panel, int timeoutMs = 60000) {
  QElapsedTimer t;
  t.start();
  while (panel->isChecking() && t.elapsed() < timeoutMs) QTest::qWait(20);
  return !panel->isChecking();
}

// Sets a checkbox the way a user does: a click when its state differs.
void clickTo(QCheckBox* box, bool on) {
  if (box->isEnabled() && box->isChecked() != on) QTest::mouseClick(box, Qt::LeftButton, {}, QPoint(8, box->height() / 2));
}

int pointCount(QCustomPlot* plot) {
  int n = 0;
  for (int i = 0; i < plot->graphCount(); ++i) n += plot->graph(i)->dataCount();
  return n;
}

}  // namespace

class TestStudio : public QObject {
  Q_OBJECT

 private:
  QString m_data;
  QString m_store;
  QString m_settingsFile;
  std::unique_ptr<QSettings> m_settings;
  std::unique_ptr<MainWindow> m_window;

  // A run that finishes in seconds on the synthetic data.
  rkd::RunConfig tinyConfig(int epochs = 2) const { return rkdtest::tinyRunConfig(m_data, "tiny", epochs, 2, 2); }

  ExperimentPanel* panel() const { return m_window->experimentPanel(); }

  rkd::RunOutcome waitForJob(int timeoutMs = 240000) {
    QSignalSpy done(m_window->controller(), &rkd::gui::TrainingController::jobFinished);
    if (!m_window->controller()->isBusy()) return {};
    if (!done.wait(timeoutMs)) return {};
    return qvariant_cast<rkd::RunOutcome>(done.takeFirst().at(0));
  }

 private Q_SLOTS:
  void initTestCase() {
    m_data = rkdtest::syntheticMnistDir(20, 10);
    m_store = rkdtest::guiTempDir(QStringLiteral("store")) + "/runs.sqlite";
    m_settingsFile = rkdtest::guiTempDir(QStringLiteral("settings")) + "/studio.ini";
    m_settings = std::make_unique<QSettings>(m_settingsFile, QSettings::IniFormat);
    m_window = std::make_unique<MainWindow>(m_store, m_settings.get(), false);
    m_window->resize(1500, 920);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  }

  void cleanupTestCase() {
    m_window.reset();
  }

  // Every combination a user can click, and the config the panel produces for it. Residual needs review and
  // ABF needs residual: clicking a disabled box does nothing, so those combinations come out without it.
  void switchesMakeTheConfig_data() {
    QTest::addColumn<bool>("review");
    QTest::addColumn<bool>("residual");
    QTest::addColumn<bool>("abf");
    QTest::addColumn<bool>("hcl");
    QTest::addColumn<bool>("wantResidual");
    QTest::addColumn<bool>("wantAbf");
    for (int bits = 0; bits < 16; ++bits) {
      const bool review = bits & 1, residual = bits & 2, abf = bits & 4, hcl = bits & 8;
      const bool wantResidual = review && residual;
      const bool wantAbf = wantResidual && abf;
      QTest::addRow("review=%d residual=%d abf=%d hcl=%d", review, residual, abf, hcl)
          << review << residual << abf << hcl << wantResidual << wantAbf;
    }
  }
  void switchesMakeTheConfig() {
    QFETCH(bool, review);
    QFETCH(bool, residual);
    QFETCH(bool, abf);
    QFETCH(bool, hcl);
    QFETCH(bool, wantResidual);
    QFETCH(bool, wantAbf);
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig());
    // A user sets the boxes top-down: review, residual, ABF, HCL.
    clickTo(p->reviewCheck(), review);
    clickTo(p->residualCheck(), residual);
    clickTo(p->abfCheck(), abf);
    clickTo(p->hclCheck(), hcl);
    const rkd::RunConfig c = p->config();
    QCOMPARE(c.method, std::string("reviewkd"));
    QCOMPARE(c.review.review, review);
    QCOMPARE(c.review.residual, wantResidual);
    QCOMPARE(c.review.abf, wantAbf);
    QCOMPARE(c.review.hcl, hcl);
    QVERIFY2(settle(p), "dataset and level checks did not finish");
    QCOMPARE(p->validationError(), QString());  // every clickable combination is a valid config
    QCOMPARE(p->abfCheck()->isEnabled(), wantResidual);
    QCOMPARE(p->residualCheck()->isEnabled(), review);
  }

  void abfIsDisabledWhileResidualIsOff() {
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig());
    QVERIFY(p->abfCheck()->isEnabled());
    QVERIFY(p->abfCheck()->isChecked());
    clickTo(p->residualCheck(), false);
    QVERIFY(!p->residualCheck()->isChecked());
    QVERIFY(!p->abfCheck()->isEnabled());
    QVERIFY(!p->abfCheck()->isChecked());
    QVERIFY2(p->abfCheck()->toolTip().contains(QStringLiteral("residual")), qPrintable(p->abfCheck()->toolTip()));
    clickTo(p->residualCheck(), true);
    QVERIFY(p->abfCheck()->isEnabled());
    // Other methods have no switches at all.
    p->methodCombo()->setCurrentIndex(p->methodCombo()->findData(QStringLiteral("kd")));
    QVERIFY(!p->reviewCheck()->isEnabled());
    QCOMPARE(p->config().method, std::string("kd"));
    QVERIFY(p->config().kdWeight > 0);
  }

  // The form must fit the panel: nothing cut at the right edge at the default window size.
  void experimentFormFitsThePanel() {
    auto* scroll = panel()->findChild<QScrollArea*>();
    QVERIFY(scroll);
    QTest::qWait(50);
    const int needed = scroll->widget()->minimumSizeHint().width();
    QVERIFY2(needed <= scroll->viewport()->width(),
             qPrintable(QStringLiteral("form needs %1 px, panel shows %2 px").arg(needed).arg(scroll->viewport()->width())));
  }

  void levelTableIsDerivedForThePair() {
    ExperimentPanel* p = panel();
    rkd::RunConfig c = tinyConfig();
    c.teacher.arch = "resnet20";
    c.student = "resnet8";
    p->setConfig(c);
    QVERIFY(settle(p));
    QTableWidget* t = p->levelTableWidget();
    QCOMPARE(t->rowCount(), 4);  // three stages and the pooled embedding
    QCOMPARE(t->item(0, 1)->text(), QStringLiteral("16 @ 28x28"));
    QVERIFY(t->item(3, 3)->text().contains(QStringLiteral("pooled")));
    // A pair with different level counts says how it aligned them.
    p->studentArchCombo()->setCurrentIndex(p->studentArchCombo()->findData(QStringLiteral("mobilenetv2")));
    QVERIFY(settle(p));
    QVERIFY2(p->levelNoteLabel()->text().contains(QStringLiteral("aligned")) || t->rowCount() == 4,
             qPrintable(p->levelNoteLabel()->text()));
  }

  void presetsFillTheForm() {
    ExperimentPanel* p = panel();
    p->applyPreset(QStringLiteral("resnet56-resnet20"));
    const rkd::RunConfig c = p->config();
    QCOMPARE(c.teacher.arch, std::string("resnet56"));
    QCOMPARE(c.student, std::string("resnet20"));
    QCOMPARE(c.data.kind, std::string("cifar100"));
    QCOMPARE(c.optim.epochs, int64_t(240));
    QCOMPARE(p->reviewWeightSpin()->value(), rkd::referenceReviewWeight("resnet56", "resnet20"));
    QVERIFY(p->teacherSourceButton(ExperimentPanel::TeacherSource::TrainNew)->isChecked());
  }

  void failingDatasetShowsTheReadersMessage() {
    ExperimentPanel* p = panel();
    rkd::RunConfig c = tinyConfig();
    c.data.path = "/nonexistent/reviewkd-data";
    p->setConfig(c);
    QVERIFY(settle(p));
    QVERIFY(!p->datasetReport().ok);
    const QString shown = p->datasetStatusLabel()->text();
    QVERIFY2(shown.contains(QStringLiteral("/nonexistent/reviewkd-data")), qPrintable(shown));
    QSignalSpy started(m_window->controller(), &rkd::gui::TrainingController::busyChanged);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QTest::qWait(50);
    QCOMPARE(started.count(), 0);  // nothing starts
    QVERIFY2(p->messageLabel()->text().startsWith(QStringLiteral("Dataset:")), qPrintable(p->messageLabel()->text()));
    QVERIFY(m_window->isVisible());
  }

  void tinyRunByClicksUpdatesCurvesAndLandsInHistory() {
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig(2));
    QVERIFY(settle(p));
    QVERIFY(p->datasetReport().ok);
    QSignalSpy steps(m_window->controller(), &rkd::gui::TrainingController::stepsReady);
    QSignalSpy snapshots(m_window->controller(), &rkd::gui::TrainingController::snapshotReady);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QVERIFY(m_window->controller()->isBusy());
    QVERIFY(!p->startButton()->isEnabled());
    QVERIFY(p->stopButton()->isEnabled());
    const rkd::RunOutcome o = waitForJob();
    QCOMPARE(o.statusText(), std::string("finished"));
    QVERIFY(o.runId > 0);
    QVERIFY(steps.count() > 0);
    QVERIFY(snapshots.count() > 0);
    // Curves: loss per step and accuracy per epoch for the student.
    QVERIFY(pointCount(m_window->liveView()->lossPlot()) > 0);
    QVERIFY(pointCount(m_window->liveView()->accuracyPlot()) >= 2);
    // The feature tab was hidden while the run trained: it draws the last snapshot when shown.
    m_window->tabs()->setCurrentWidget(m_window->featureView());
    QVERIFY(m_window->featureView()->levelCount() > 0);
    m_window->tabs()->setCurrentWidget(m_window->liveView());
    // History: the teacher it trained first, and the student.
    rkd::gui::HistoryPanel* h = m_window->historyPanel();
    h->refresh();
    QCOMPARE(h->visibleRowCount(), 2);
    h->selectRuns({o.runId});
    QCOMPARE(h->selectedRunIds(), std::vector<int64_t>{o.runId});
    QVERIFY(p->startButton()->isEnabled());
  }

  void stopMidRunLeavesAResumableRun() {
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig(4));
    QVERIFY(settle(p));
    QSignalSpy steps(m_window->controller(), &rkd::gui::TrainingController::stepsReady);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QVERIFY(steps.wait(120000));
    QTest::mouseClick(p->stopButton(), Qt::LeftButton);
    const rkd::RunOutcome o = waitForJob();
    QCOMPARE(o.statusText(), std::string("stopped"));
    rkd::services::RunHistory store(m_store.toStdString());
    QVERIFY(store.run(o.runId)->status == rkd::RunStatus::Stopped);
    // The run is offered for resuming, and Resume finishes it.
    p->refreshRuns();
    const int index = p->resumeCombo()->findData(QString::number(o.runId));
    QVERIFY(index >= 0);
    p->resumeCombo()->setCurrentIndex(index);
    QVERIFY(p->resumeButton()->isEnabled());
    QTest::mouseClick(p->resumeButton(), Qt::LeftButton);
    const rkd::RunOutcome resumed = waitForJob();
    QCOMPARE(resumed.statusText(), std::string("finished"));
    QCOMPARE(resumed.runId, o.runId);
    QCOMPARE(resumed.epochsDone, 4);
  }

  void importReportIsShownBeforeAccepting() {
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig());
    QVERIFY(settle(p));
    // The teacher the first run trained: its best checkpoint nests the weights under 'model'.
    rkd::services::RunHistory store(m_store.toStdString());
    rkd::RunFilter teachers;
    teachers.kind = rkd::RunKind::Teacher;
    const auto runs = store.list(teachers);
    QVERIFY(!runs.empty());
    const std::string checkpoint = store.checkpointPath(runs.front().id, rkd::CheckpointKind::Best);
    QVERIFY(!checkpoint.empty());
    QTest::mouseClick(p->teacherSourceButton(ExperimentPanel::TeacherSource::Import), Qt::LeftButton, {}, QPoint(8, 8));
    QVERIFY(p->importPathEdit()->isEnabled());
    // Wrong network first: the report names the mismatched keys and Accept stays off.
    p->teacherArchCombo()->setCurrentIndex(p->teacherArchCombo()->findData(QStringLiteral("resnet14")));
    p->importPathEdit()->setText(QString::fromStdString(checkpoint));
    QSignalSpy inspected(p, &ExperimentPanel::checkpointInspected);
    QTest::mouseClick(p->importInspectButton(), Qt::LeftButton);
    QVERIFY(inspected.wait(60000));
    QVERIFY(!p->importAcceptButton()->isEnabled());
    QVERIFY2(p->importReportView()->toPlainText().contains(QStringLiteral("missing")),
             qPrintable(p->importReportView()->toPlainText()));
    // ... and says which network the file does fit.
    QVERIFY2(p->importReportView()->toPlainText().contains(QStringLiteral("The file fits resnet8 (10 classes")),
             qPrintable(p->importReportView()->toPlainText()));
    QVERIFY(p->validationError().contains(QStringLiteral("accept")));
    // The right network: every entry matches; accepting makes the config valid.
    p->teacherArchCombo()->setCurrentIndex(p->teacherArchCombo()->findData(QStringLiteral("resnet8")));
    p->importPathEdit()->setText(QString::fromStdString(checkpoint));
    QTest::mouseClick(p->importInspectButton(), Qt::LeftButton);
    QVERIFY(inspected.wait(60000));
    QVERIFY2(p->importAcceptButton()->isEnabled(), qPrintable(p->importReportView()->toPlainText()));
    QTest::mouseClick(p->importAcceptButton(), Qt::LeftButton);
    QCOMPARE(p->validationError(), QString());
    QCOMPARE(p->config().teacher.checkpoint, checkpoint);
  }

  // A trained student leaves the studio as a plain PyTorch state dict of its network (no head, no optimizer):
  // the exported file imports completely into the same network.
  void historyExportsTheTrainedWeights() {
    rkd::gui::HistoryPanel* h = m_window->historyPanel();
    h->refresh();
    rkd::services::RunHistory store(m_store.toStdString());
    rkd::RunFilter students;
    students.kind = rkd::RunKind::Student;
    students.status = rkd::RunStatus::Finished;
    const int64_t run = store.list(students).front().id;
    h->selectRuns({run});
    QVERIFY(h->weightsAction()->isEnabled());
    const QString path = rkdtest::guiTempDir(QStringLiteral("weights")) + "/student.pt";
    QVERIFY2(h->exportWeights(run, path), qPrintable(h->statusLabel()->text()));
    const auto shape = rkd::services::knownShape(tinyConfig().data);
    QVERIFY(shape.has_value());
    const rkd::services::ImportReport r = rkd::services::inspectCheckpoint(path.toStdString(), "resnet8", *shape);
    QVERIFY2(r.complete(), r.describe().c_str());
    QCOMPARE(r.file.layout, std::string("flat"));
    QVERIFY(r.loaded > 10);
    // A run that has no checkpoint says so.
    QVERIFY(!h->exportWeights(987654, path));
    QVERIFY(h->statusLabel()->text().contains(QStringLiteral("987654")));
  }

  void historyUseAsTeacherFillsThePanel() {
    rkd::services::RunHistory store(m_store.toStdString());
    rkd::RunFilter teachers;
    teachers.kind = rkd::RunKind::Teacher;
    const int64_t teacher = store.list(teachers).front().id;
    Q_EMIT m_window->historyPanel()->useAsTeacherRequested(teacher);
    ExperimentPanel* p = panel();
    QVERIFY(p->teacherSourceButton(ExperimentPanel::TeacherSource::FromRun)->isChecked());
    QCOMPARE(p->config().teacher.run, teacher);
    QCOMPARE(p->config().teacher.arch, std::string("resnet8"));
  }

  void ablationQueueOfTwoRunsFillsTheTable() {
    rkd::gui::AblationPanel* a = m_window->ablationPanel();
    rkd::RunConfig base = tinyConfig(1);
    a->buildGrid(base);
    QCOMPARE(a->rowCount(), 8);
    QSignalSpy finished(a, &rkd::gui::AblationPanel::queueFinished);
    QVERIFY(a->queueRows({0, 1}));  // student alone, Hinton KD
    QVERIFY(a->queueList()->count() >= 2);
    QVERIFY(a->cancelButton()->isEnabled());
    QVERIFY(finished.wait(240000));
    QTableWidget* t = a->table();
    for (int r = 0; r < 2; ++r) {
      QCOMPARE(t->item(r, rkd::gui::AblationPanel::Status)->text(), QStringLiteral("finished"));
      bool ok = false;
      const double best = t->item(r, rkd::gui::AblationPanel::Best)->text().toDouble(&ok);
      QVERIFY(ok);
      QVERIFY(best >= 0 && best <= 100);
    }
    QVERIFY(!t->item(1, rkd::gui::AblationPanel::DeltaAlone)->text().isEmpty());
    QCOMPARE(t->item(2, rkd::gui::AblationPanel::Status)->text(), QStringLiteral("not run"));
    const QString md = a->markdown();
    QVERIFY(md.contains(QStringLiteral("| student alone |")));
    const QString csvPath = rkdtest::guiTempDir(QStringLiteral("ablation")) + "/ablation.csv";
    QVERIFY(a->exportCsv(csvPath));
    QFile f(csvPath);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll().count('\n'), 9);  // header + 8 rows
    // A device or a folder is never replaced by the table (QSaveFile would rename its temporary file over it).
    QVERIFY(!a->exportMarkdown(QStringLiteral("/dev/full")));
    QVERIFY(QFileInfo(QStringLiteral("/dev/full")).exists() && !QFileInfo(QStringLiteral("/dev/full")).isFile());
    QVERIFY(!a->exportCsv(rkdtest::guiTempDir(QStringLiteral("ablation"))));
  }

  // A run that cannot start on the worker thread (here: a CUDA device this machine lacks) ends as a failed job
  // whose message reaches the panel; nothing crashes and the next run can start.
  void aRunThatCannotStartShowsWhy() {
    ExperimentPanel* p = panel();
    rkd::RunConfig c = tinyConfig(1);
    c.device = "cuda:7";
    p->setConfig(c);
    QVERIFY(settle(p));
    QCOMPARE(p->config().device, std::string("cuda:7"));
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    const rkd::RunOutcome o = waitForJob();
    QCOMPARE(o.statusText(), std::string("failed"));
    QVERIFY2(QString::fromStdString(o.message).contains(QStringLiteral("cuda:7")), o.message.c_str());
    QVERIFY2(p->messageLabel()->text().contains(QStringLiteral("cuda:7")), qPrintable(p->messageLabel()->text()));
    QVERIFY(p->startButton()->isEnabled());
  }

  // Closing the window while a run trains stops it after the step in flight: the run is "stopped" (resumable),
  // never left "running" or lost.
  void closingTheWindowWhileTrainingStopsTheRun() {
    const QString store = rkdtest::guiTempDir(QStringLiteral("close")) + "/runs.sqlite";
    QSettings settings(rkdtest::guiTempDir(QStringLiteral("close-settings")) + "/s.ini", QSettings::IniFormat);
    auto window = std::make_unique<MainWindow>(store, &settings, false);
    window->show();
    rkd::RunConfig c = tinyConfig(50);
    c.method = "student-alone";
    window->experimentPanel()->setConfig(c);
    QVERIFY(settle(window->experimentPanel()));
    QSignalSpy steps(window->controller(), &rkd::gui::TrainingController::stepsReady);
    QTest::mouseClick(window->experimentPanel()->startButton(), Qt::LeftButton);
    QVERIFY(steps.wait(60000));
    QVERIFY(window->close());
    window.reset();  // the controller waits for the worker
    rkd::services::RunHistory check(store.toStdString());
    const auto runs = check.list();
    QCOMPARE(runs.size(), size_t(1));
    QVERIFY2(runs.front().status == rkd::RunStatus::Stopped, rkd::toString(runs.front().status).c_str());
    QVERIFY(!check.checkpointPath(runs.front().id, rkd::CheckpointKind::Last).empty());
  }

  // A store that cannot be opened (here a file that is no SQLite database) is said where a run starts: Start and
  // Resume are disabled with the reason in their tool tips and the message line, the live view and the status bar
  // say it too, not only History. Opening a good store clears it.
  void aStoreThatCannotBeOpenedIsSaidWhereRunsStart() {
    const QString dir = rkdtest::guiTempDir(QStringLiteral("malformed"));
    const QString bad = dir + "/runs.sqlite";
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(QByteArray("not a database: a text file saved where the run store should be\n").repeated(20));
    }
    QSettings settings(dir + "/s.ini", QSettings::IniFormat);
    MainWindow window(bad, &settings, false);
    ExperimentPanel* p = window.experimentPanel();
    QVERIFY(!p->startButton()->isEnabled());
    QVERIFY2(p->startButton()->toolTip().contains(QStringLiteral("cannot be opened")), qPrintable(p->startButton()->toolTip()));
    QVERIFY2(p->messageLabel()->text().contains(bad), qPrintable(p->messageLabel()->text()));
    QVERIFY2(window.liveView()->statusLabel()->text().contains(QStringLiteral("cannot be opened")),
             qPrintable(window.liveView()->statusLabel()->text()));
    window.openStore(dir + "/good.sqlite");
    QVERIFY(p->startButton()->isEnabled());
    QVERIFY(p->startButton()->toolTip().isEmpty());
    QVERIFY(p->storeProblem().isEmpty());
  }

  void settingsComeBackAtTheNextStart() {
    ExperimentPanel* p = panel();
    p->setConfig(tinyConfig(7));
    p->seedSpin()->setValue(42);
    m_window->saveSettings();
    MainWindow second(m_store, m_settings.get(), false);
    const rkd::RunConfig c = second.experimentPanel()->config();
    QCOMPARE(c.optim.epochs, int64_t(7));
    QCOMPARE(c.seed, int64_t(42));
    QCOMPARE(c.data.path, m_data.toStdString());
    // A corrupt saved config is reported, not silently replaced.
    QSettings broken(rkdtest::guiTempDir(QStringLiteral("broken")) + "/b.ini", QSettings::IniFormat);
    broken.setValue(QStringLiteral("experiment/config"), QStringLiteral("{\"optim\": {\"lr\": \"fast\"}}"));
    MainWindow third(m_store, &broken, false);
    QVERIFY2(third.experimentPanel()->messageLabel()->text().contains(QStringLiteral("optim.lr")),
             qPrintable(third.experimentPanel()->messageLabel()->text()));
  }

  // A teacher saved in Python the usual training-script way, {'model': state_dict, 'epoch', 'accuracy',
  // 'optimizer'}: Inspect shows what the file holds, Accept takes it, Start distils a student from it.
  void pytorchTeacherImportedThroughInspectTrainsAStudent() {
    const QString data = rkdtest::guiTempDir(QStringLiteral("cifar100"));
    rkdtest::writeSyntheticCifar100(data.toStdString(), 2, 1);
    const std::string file = std::string(REVIEWKD_SOURCE_DIR) + "/tests/data/checkpoints/resnet8_model_epoch.pt";
    rkd::RunConfig c = tinyConfig(1);
    c.name = "from-pytorch";
    c.data.kind = "cifar100";
    c.data.path = data.toStdString();
    c.optim.batchSize = 50;
    ExperimentPanel* p = panel();
    p->setConfig(c);
    QVERIFY(settle(p));
    QVERIFY2(p->datasetReport().ok, qPrintable(p->datasetStatusLabel()->text()));
    QTest::mouseClick(p->teacherSourceButton(ExperimentPanel::TeacherSource::Import), Qt::LeftButton, {}, QPoint(8, 8));
    p->teacherArchCombo()->setCurrentIndex(p->teacherArchCombo()->findData(QStringLiteral("resnet8")));
    p->importPathEdit()->setText(QString::fromStdString(file));
    QSignalSpy inspected(p, &ExperimentPanel::checkpointInspected);
    QTest::mouseClick(p->importInspectButton(), Qt::LeftButton);
    QVERIFY(inspected.wait(60000));
    const QString report = p->importReportView()->toPlainText();
    QVERIFY2(p->importAcceptButton()->isEnabled(), qPrintable(report));
    QVERIFY2(report.contains(QStringLiteral("nested under 'model'")) && report.contains(QStringLiteral("epoch (int 240)")),
             qPrintable(report));
    qInfo("import report shown: %s", qPrintable(rkdtest::saveScreenshot(m_window.get(), QStringLiteral("studio-import"))));
    QTest::mouseClick(p->importAcceptButton(), Qt::LeftButton);
    QCOMPARE(p->validationError(), QString());
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    const rkd::RunOutcome o = waitForJob();
    QVERIFY2(o.status == rkd::RunStatus::Finished, o.message.c_str());
    rkd::services::RunHistory store(m_store.toStdString());
    const auto run = store.run(o.runId);
    QVERIFY(run.has_value());
    QCOMPARE(run->teacherArch, std::string("resnet8"));
    QCOMPARE(run->config["teacher"]["checkpoint"].get<std::string>(), file);
  }

  // The Run menu's ablation goes through the same validation as the panel's own button: an invalid form
  // (here a dataset folder that does not exist) starts nothing and says why.
  void runMenuAblationValidatesTheForm() {
    rkd::RunConfig c = tinyConfig(1);
    c.data.path = "/nonexistent/reviewkd-ablation";
    ExperimentPanel* p = panel();
    p->setConfig(c);
    QVERIFY(settle(p));
    QVERIFY(!p->validationError().isEmpty());
    QAction* action = nullptr;
    for (QAction* a : m_window->findChildren<QAction*>())
      if (a->text().contains(QStringLiteral("blation"))) action = a;
    QVERIFY(action);
    QSignalSpy busy(m_window->controller(), &rkd::gui::TrainingController::busyChanged);
    action->trigger();
    QTest::qWait(50);
    QCOMPARE(busy.count(), 0);
    QVERIFY2(m_window->ablationPanel()->messageLabel()->text().contains(QStringLiteral("not valid")),
             qPrintable(m_window->ablationPanel()->messageLabel()->text()));
  }
};

QTEST_MAIN(TestStudio)
#include "test_studio.moc"
