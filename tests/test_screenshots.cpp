// Screenshots of every panel for README, from a real session on the embedded Fashion-MNIST: the quick preset
// (shortened), its teacher, an ablation of the pair, the history with runs compared and a run's detail. Written
// to docs/screenshots when REVIEWKD_SCREENSHOTS is set (scripts/screenshots), else to a temporary folder.
// Skipped when Fashion-MNIST is not installed.
#include <QDir>
#include <QFileInfo>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QtTest/QtTest>

#include "gui_support.h"
#include "widgets/ablation_panel.h"
#include "widgets/experiment_panel.h"
#include "widgets/feature_view.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/main_window.h"
#include "widgets/run_detail_dialog.h"
#include "widgets/controllers/training_controller.h"

class TestScreenshots : public QObject {
  Q_OBJECT

  std::unique_ptr<QSettings> m_settings;
  std::unique_ptr<rkd::gui::MainWindow> m_window;

  rkd::RunOutcome waitForJob() {
    QSignalSpy done(m_window->controller(), &rkd::gui::TrainingController::jobFinished);
    if (!done.wait(900000)) return {};
    return qvariant_cast<rkd::RunOutcome>(done.takeFirst().at(0));
  }

  QString shot(const QString& name) {
    QTest::qWait(150);
    const QString path = rkdtest::saveScreenshot(m_window.get(), name);
    qInfo("screenshot: %s", qPrintable(path));
    return path;
  }

 public:
  // Called by QTEST_MAIN before the application exists: the session trains a teacher and ten students, longer
  // than Qt Test's default 5-minute limit per test function on a busy 2-core machine.
  static void initMain() { qputenv("QTEST_FUNCTION_TIMEOUT", "1800000"); }

 private Q_SLOTS:
  void initTestCase() {
    if (!QFileInfo::exists(QStringLiteral("/usr/share/datasets/fashion-mnist")))
      QSKIP("Fashion-MNIST is not installed (apt install dataset-fashion-mnist); no screenshots");
    const QString dir = rkdtest::guiTempDir(QStringLiteral("shots"));
    m_settings = std::make_unique<QSettings>(dir + "/studio.ini", QSettings::IniFormat);
    m_window = std::make_unique<rkd::gui::MainWindow>(dir + "/runs.sqlite", m_settings.get(), false);
    m_window->resize(1600, 960);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  }

  void liveAndFeatures() {
    rkd::gui::ExperimentPanel* p = m_window->experimentPanel();
    // The quick preset, shortened so the whole session takes about two minutes on 2 cores.
    p->applyPreset(QStringLiteral("quick"));
    rkd::RunConfig c = p->config();
    c.optim.epochs = 5;
    c.data.testPerClass = 200;
    c.snapshotEvery = 10;
    p->setConfig(c);
    QElapsedTimer t;
    t.start();
    while (p->isChecking() && t.elapsed() < 60000) QTest::qWait(20);
    QTest::mouseClick(p->startButton(), Qt::LeftButton);
    QCOMPARE(waitForJob().statusText(), std::string("finished"));
    m_window->tabs()->setCurrentWidget(m_window->liveView());
    shot(QStringLiteral("studio-live"));
    m_window->tabs()->setCurrentWidget(m_window->featureView());
    shot(QStringLiteral("studio-features"));
  }

  void ablation() {
    // The ablation of the pair, two epochs per row.
    rkd::RunConfig base = m_window->experimentPanel()->config();
    base.optim.epochs = 2;
    base.snapshotEvery = 0;
    m_window->tabs()->setCurrentWidget(m_window->ablationPanel());
    QSignalSpy queue(m_window->ablationPanel(), &rkd::gui::AblationPanel::queueFinished);
    QVERIFY(m_window->ablationPanel()->runAblation(base));
    QVERIFY(queue.wait(1800000));
    shot(QStringLiteral("studio-ablation"));
  }

  void historyAndDetail() {
    rkd::gui::HistoryPanel* h = m_window->historyPanel();
    m_window->tabs()->setCurrentWidget(h);
    h->refresh();
    // Compare the full method with the student alone and Hinton KD.
    std::vector<int64_t> compare;
    for (int r = 0; r < h->model()->rowCount(); ++r) {
      const auto& row = h->model()->row(r);
      if (row.run.name.find("-alone") != std::string::npos || row.run.name.find("-kd") != std::string::npos ||
          row.run.name.find("-RSAH") != std::string::npos)
        compare.push_back(row.run.id);
    }
    h->selectRuns(compare);
    shot(QStringLiteral("studio-history"));
    QVERIFY(!compare.empty());
    h->openDetail(compare.back());
    QTest::qWait(300);
    const auto dialogs = h->openDetailDialogs();
    QVERIFY(!dialogs.isEmpty());
    dialogs.front()->resize(1000, 700);
    QTest::qWait(150);
    rkdtest::saveScreenshot(dialogs.front(), QStringLiteral("studio-run-detail"));
  }

  void cleanupTestCase() { m_window.reset(); }
};

QTEST_MAIN(TestScreenshots)
#include "test_screenshots.moc"
