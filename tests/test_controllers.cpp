// The studio's QtCore controllers without a widget, a QApplication or a display (QTEST_GUILESS_MAIN): the
// training controller on a real tiny job, whose runs are announced by the trainer before their first step.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <vector>

#include "gui_support.h"
#include "widgets/controllers/training_controller.h"

using rkd::gui::TrainingController;

class TestControllers : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { m_data = rkdtest::syntheticMnistDir(20, 10); }

  // A student whose teacher is a recipe: the job trains the teacher's run, then the student's. Each run is
  // announced (id and "run <id>: <name>") before any of its steps or epochs arrive, and every step and epoch
  // delivered belongs to the run announced last.
  void eachRunIsAnnouncedBeforeItsSteps() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    TrainingController controller;
    controller.setStorePath(dir.filePath(QStringLiteral("runs.sqlite")));
    controller.setCoalesceInterval(5);

    struct Announced {
      qint64 id;
      QString title;
    };
    std::vector<Announced> announced;
    int stepsBeforeAnnouncement = 0, foreignSteps = 0, foreignEpochs = 0, steps = 0, epochs = 0;
    connect(&controller, &TrainingController::runStarted, this,
            [&](qint64 id, const QString& title) { announced.push_back({id, title}); });
    connect(&controller, &TrainingController::stepsReady, this, [&](const std::vector<rkd::StepProgress>& batch) {
      for (const auto& s : batch) {
        ++steps;
        if (announced.empty()) ++stepsBeforeAnnouncement;
        else if (s.runId != announced.back().id) ++foreignSteps;
      }
    });
    connect(&controller, &TrainingController::epochReady, this, [&](const rkd::EpochProgress& e) {
      ++epochs;
      if (announced.empty() || e.runId != announced.back().id) ++foreignEpochs;
    });
    QSignalSpy done(&controller, &TrainingController::jobFinished);
    QSignalSpy busy(&controller, &TrainingController::busyChanged);

    QVERIFY(controller.start(rkdtest::tinyRunConfig(m_data, "announced-student", 1, 1, 0)));
    QVERIFY(controller.isBusy());
    QVERIFY(!controller.start(rkdtest::tinyRunConfig(m_data, "second", 1, 1, 0)));  // one job at a time
    QVERIFY(done.wait(240000));
    const auto outcome = done.takeFirst().at(0).value<rkd::RunOutcome>();
    QVERIFY2(outcome.ok(), outcome.message.c_str());

    QCOMPARE(int(announced.size()), 2);  // the teacher's run, then the student's
    QVERIFY(announced[0].id > 0);
    QVERIFY(announced[1].id > announced[0].id);
    QCOMPARE(announced[1].id, qint64(outcome.runId));
    QCOMPARE(announced[1].title, QStringLiteral("run %1: announced-student").arg(outcome.runId));
    QVERIFY(announced[0].title.startsWith(QStringLiteral("run %1: ").arg(announced[0].id)));
    QVERIFY(announced[0].title.size() > QStringLiteral("run %1: ").arg(announced[0].id).size());
    QVERIFY(steps > 0);
    QVERIFY(epochs >= 2);  // the student's one epoch, and at least one of its teacher
    QCOMPARE(stepsBeforeAnnouncement, 0);
    QCOMPARE(foreignSteps, 0);
    QCOMPARE(foreignEpochs, 0);
    QCOMPARE(controller.currentRunId(), qint64(outcome.runId));
    QVERIFY(!controller.isBusy());
    QCOMPARE(busy.count(), 2);  // busy, then idle
  }

 private:
  QString m_data;
};

QTEST_GUILESS_MAIN(TestControllers)
#include "test_controllers.moc"
