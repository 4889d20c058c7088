#include "widgets/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

#include "core/services/catalog.h"
#include "core/services/inspect.h"
#include "core/services/run_follower.h"
#include "core/services/run_history.h"
#include "core/services/version.h"
#include "widgets/ablation_panel.h"
#include "widgets/controllers/distributed_job.h"
#include "widgets/experiment_panel.h"
#include "widgets/feature_view.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/live_view.h"
#include "widgets/plot_style.h"
#include "widgets/controllers/run_follow_controller.h"
#include "widgets/studio_icon.h"
#include "widgets/controllers/training_controller.h"

namespace rkd::gui {

MainWindow::MainWindow(const QString& storePath, QSettings* settings, bool interactive, QWidget* parent)
    : QMainWindow(parent), m_storePath(storePath), m_settings(settings), m_interactive(interactive) {
  if (!m_settings) {
    m_ownSettings = std::make_unique<QSettings>(QStringLiteral("ReviewKD"), QStringLiteral("ReviewKD Studio"));
    m_settings = m_ownSettings.get();
  }
  setWindowIcon(studioIcon());
  m_controller = new TrainingController(this);
  m_controller->setStorePath(storePath);
  m_follow = new RunFollowController(this);
  m_follow->setStorePath(storePath);
  m_job = new DistributedJob(m_follow, this);
  m_job->setStorePath(storePath);

  auto* split = new QSplitter(Qt::Horizontal, this);
  m_experiment = new ExperimentPanel(split);
  m_experiment->setMinimumWidth(470);
  m_tabs = new QTabWidget(split);
  m_live = new LiveView(m_tabs);
  m_features = new FeatureView(m_tabs);
  // Views on tabs that are not shown keep their data but draw only when shown: drawing takes CPU from training.
  m_live->setDeferWhileHidden(true);
  m_features->setDeferWhileHidden(true);
  m_history = new HistoryPanel(m_tabs);
  m_history->setInteractive(interactive);
  m_ablation = new AblationPanel(m_controller, m_tabs);
  m_tabs->addTab(m_live, tr("Live training"));
  m_tabs->addTab(m_features, tr("Stage features"));
  m_tabs->addTab(m_history, tr("History"));
  m_tabs->addTab(m_ablation, tr("Ablation"));
  split->addWidget(m_experiment);
  split->addWidget(m_tabs);
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setSizes({500, 1000});
  setCentralWidget(split);

  m_storeLabel = new QLabel(this);
  m_runLabel = new QLabel(tr("idle"), this);
  // Long status lines (a launcher's output, a message) are cut at the window's edge, never widen the window.
  m_runLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  statusBar()->addWidget(m_runLabel, 1);
  statusBar()->addPermanentWidget(m_storeLabel);

  m_saveTimer = new QTimer(this);
  m_saveTimer->setSingleShot(true);
  m_saveTimer->setInterval(1000);
  connect(m_saveTimer, &QTimer::timeout, this, &MainWindow::saveSettings);

  buildMenus();
  connectParts();
  m_experiment->loadSettings(*m_settings);
  m_features->setSnapshotEvery(m_experiment->snapshotSpin()->value());
  openStore(storePath);
  restoreGeometry(m_settings->value(QStringLiteral("window/geometry")).toByteArray());
  m_tabs->setCurrentIndex(m_settings->value(QStringLiteral("window/tab"), 0).toInt());
  if (!m_settings->contains(QStringLiteral("window/geometry"))) resize(1500, 900);
  updateTitle();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open run store..."), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Open or create a run store"), m_storePath,
                                                      tr("Run stores (*.sqlite *.db);;All files (*)"), nullptr,
                                                      QFileDialog::DontConfirmOverwrite);
    if (!path.isEmpty()) openStore(path);
  });
  file->addAction(tr("Export selected runs' metrics as &CSV..."), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export metrics"), QStringLiteral("runs.csv"), tr("CSV (*.csv)"));
    if (!path.isEmpty()) m_history->exportSelectionCsv(path);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* presets = menuBar()->addMenu(tr("&Presets"));
  for (const auto& p : rkd::presets()) {
    const QString name = QString::fromStdString(p.name);
    QAction* a = presets->addAction(QStringLiteral("%1  -  %2").arg(name, QString::fromStdString(p.description)));
    connect(a, &QAction::triggered, this, [this, name] { m_experiment->applyPreset(name); });
  }

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  QAction* start = run->addAction(tr("&Start"), this, [this] { m_experiment->startButton()->click(); });
  start->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  run->addAction(tr("S&top (keeps the checkpoint)"), this, [this] { stopActive(); });
  run->addAction(tr("&Resume selected run"), this, [this] { m_experiment->resumeButton()->click(); });
  run->addSeparator();
  run->addAction(tr("Run the &ablation of this pair"), this, [this] {
    m_tabs->setCurrentWidget(m_ablation);
    Q_EMIT m_ablation->runAblationRequested();  // the same validated path as the panel's own button
  });

  QMenu* history = menuBar()->addMenu(tr("H&istory"));
  m_followLiveAction = history->addAction(tr("&Follow live"), this, [this] { followLive(0); });
  m_followLiveAction->setStatusTip(tr("Show a run that another process is training (reviewkd train, torchrun) live: "
                                      "the selected running run of History, else the newest running run"));
  m_stopFollowingAction = history->addAction(tr("Stop f&ollowing"), this, [this] { m_follow->stopFollowing(); });
  m_stopFollowingAction->setStatusTip(tr("Stop following the run in the live view; the run goes on"));
  m_stopFollowingAction->setEnabled(false);
  history->addSeparator();
  history->addAction(tr("Show &History"), this, [this] { m_tabs->setCurrentWidget(m_history); });

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About ReviewKD Studio"), this, [this] {
    QMessageBox::about(this, tr("About ReviewKD Studio"),
                       tr("<h3>ReviewKD Studio %1</h3><p>Knowledge distillation via knowledge review (Chen et al., "
                          "CVPR 2021): pick a teacher and a student, switch review, residual, ABF and HCL on and off, "
                          "watch training live and compare every run.</p><p>Run store: %2</p><p>Headless: the "
                          "<tt>reviewkd</tt> command runs everything this window can start.</p>")
                           .arg(QString::fromStdString(rkd::buildVersion()), m_storePath.toHtmlEscaped()));
  });
}

void MainWindow::connectParts() {
  connect(m_experiment, &ExperimentPanel::startRequested, this, [this](const rkd::RunConfig& config) {
    saveSettings();
    if (isBusy() && !m_controller->isBusy()) {
      m_experiment->messageLabel()->setText(m_follow->isFollowing() && !m_job->isRunning()
                                                ? tr("A run is followed live; use History > Stop following first.")
                                                : tr("A job is running; stop it first."));
      return;
    }
    if (m_experiment->processes() > 1) {
      startDistributed(config, m_experiment->processes());
      return;
    }
    if (!m_controller->start(config)) {
      m_experiment->messageLabel()->setText(tr("A run is already training; stop it first."));
      return;
    }
    m_live->setStatus(tr("starting %1").arg(QString::fromStdString(config.summary())));
    m_features->clear();
    m_tabs->setCurrentWidget(m_live);
  });
  connect(m_experiment, &ExperimentPanel::stopRequested, this, &MainWindow::stopActive);
  connect(m_experiment, &ExperimentPanel::resumeRequested, this, &MainWindow::resumeRun);
  connect(m_history, &HistoryPanel::resumeRequested, this, &MainWindow::resumeRun);
  connect(m_history, &HistoryPanel::followRequested, this, [this](qint64 runId) { followLive(runId); });
  connect(m_history, &HistoryPanel::useAsTeacherRequested, this, [this](qint64 runId) {
    m_experiment->useTeacherRun(runId);
  });
  connect(m_experiment, &ExperimentPanel::configEdited, m_saveTimer, qOverload<>(&QTimer::start));
  connect(m_experiment, &ExperimentPanel::datasetChecked, this, [this](const rkd::services::DatasetReport& r) {
    if (!r.ok) return;
    m_features->setTestSetSize(r.testImages);
    QStringList names;
    for (const auto& n : r.classNames) names << QString::fromStdString(n);
    m_features->setClassNames(names);
  });
  connect(m_experiment->snapshotSpin(), &QSpinBox::valueChanged, m_features, &FeatureView::setSnapshotEvery);
  connect(m_features, &FeatureView::probeIndexChanged, m_controller, &TrainingController::setProbeIndex);
  connect(m_ablation, &AblationPanel::runAblationRequested, this, [this] {
    const QString error = m_experiment->validationError();
    if (!error.isEmpty()) {
      m_ablation->messageLabel()->setText(tr("The experiment panel's settings are not valid: %1").arg(error));
      return;
    }
    if (m_job->isRunning() || m_follow->isFollowing()) {
      m_ablation->messageLabel()->setText(m_job->isRunning()
                                              ? tr("A job of several processes is running; stop it first.")
                                              : tr("A run is followed live; use History > Stop following first."));
      return;
    }
    // The ablation's rows train one after another in the studio's process, whatever the process count.
    m_ablation->runAblation(m_experiment->config());
  });

  connect(m_controller, &TrainingController::busyChanged, this, [this](bool busy) {
    updateBusy();
    m_runLabel->setText(busy ? tr("training...") : tr("idle"));
  });
  connect(m_controller, &TrainingController::runStarted, this, &MainWindow::onRunStarted);
  connect(m_controller, &TrainingController::stepsReady, m_live, &LiveView::addSteps);
  connect(m_controller, &TrainingController::epochReady, m_live, &LiveView::addEpoch);
  connect(m_controller, &TrainingController::epochReady, m_history, [this] {
    if (m_history->isVisible()) m_history->refreshIfChanged();  // when hidden, it refreshes itself when shown
  });
  connect(m_controller, &TrainingController::snapshotReady, m_features, &FeatureView::showSnapshot);
  connect(m_controller, &TrainingController::statusChanged, m_live, &LiveView::setStatus);
  connect(m_controller, &TrainingController::statusChanged, this, [this](const QString& text) {
    m_runLabel->setText(text.section(QLatin1Char('\n'), 0, 0));
  });
  connect(m_controller, &TrainingController::logLine, m_live, &LiveView::appendLog);
  // The log pane also keeps the trainer's status changes and one line per epoch, so it reads as the run's story.
  connect(m_controller, &TrainingController::statusChanged, m_live, [this](const QString& text) {
    m_live->appendLog(QStringLiteral("info"), text);
  });
  const auto logEpoch = [this](const rkd::EpochProgress& e) {
    QString line = tr("epoch %1/%2: train loss %3, train top-1 %4 %, test top-1 %5 % (best %6 %), lr %7, %8")
                       .arg(e.epoch + 1)
                       .arg(e.epochs)
                       .arg(e.trainLoss, 0, 'f', 4)
                       .arg(e.trainTop1, 0, 'f', 2)
                       .arg(e.testTop1, 0, 'f', 2)
                       .arg(e.bestTop1, 0, 'f', 2)
                       .arg(e.lr, 0, 'g', 3)
                       .arg(formatDuration(e.seconds));
    if (e.valTop1 >= 0) line += tr(", validation top-1 %1 %").arg(e.valTop1, 0, 'f', 2);
    m_live->appendLog(QStringLiteral("info"), line);
  };
  connect(m_controller, &TrainingController::epochReady, m_live, logEpoch);
  connect(m_controller, &TrainingController::jobFinished, this, &MainWindow::onJobFinished);

  // Runs other processes write to the store (History > Follow live) and the studio's distributed jobs: the same
  // live view, fed from the store by the follow controller.
  connect(m_follow, &RunFollowController::followingChanged, this, [this](bool following) {
    m_stopFollowingAction->setEnabled(following && !m_follow->isFollowingJob());
    updateBusy();
  });
  connect(m_follow, &RunFollowController::runStarted, this, &MainWindow::beginLiveRun);
  connect(m_follow, &RunFollowController::stepsReady, m_live, &LiveView::addSteps);
  connect(m_follow, &RunFollowController::epochReady, m_live, &LiveView::addEpoch);
  connect(m_follow, &RunFollowController::snapshotReady, m_features, &FeatureView::showSnapshot);
  connect(m_follow, &RunFollowController::epochReady, m_live, logEpoch);
  connect(m_follow, &RunFollowController::epochReady, m_history, [this] {
    if (m_history->isVisible()) m_history->refreshIfChanged();
  });
  connect(m_follow, &RunFollowController::statusChanged, m_live, &LiveView::setStatus);
  connect(m_follow, &RunFollowController::statusChanged, this, [this](const QString& text) {
    m_runLabel->setText(text.section(QLatin1Char('\n'), 0, 0));
    m_live->appendLog(QStringLiteral("info"), text);
  });
  connect(m_follow, &RunFollowController::message, this, &MainWindow::showMessage);
  connect(m_follow, &RunFollowController::runEnded, this, [this] { m_history->refresh(); });
  connect(m_follow, &RunFollowController::followEnded, this, [this](const rkd::RunOutcome& outcome, bool followedAny, bool job) {
    if (job || !followedAny) return;  // a job's end is reported by the job (jobFinished)
    m_live->endRun(outcome);
    m_history->refresh();
    m_experiment->refreshRuns();
    QString text = tr("followed run %1 %2").arg(outcome.runId).arg(QString::fromStdString(outcome.statusText()));
    if (!outcome.message.empty()) text += QStringLiteral(" (%1)").arg(QString::fromStdString(outcome.message));
    m_runLabel->setText(text);
  });
  connect(m_job, &DistributedJob::busyChanged, this, [this] { updateBusy(); });
  connect(m_job, &DistributedJob::logLine, m_live, &LiveView::appendLog);
  connect(m_job, &DistributedJob::statusChanged, this, [this](const QString& text) { m_runLabel->setText(text); });
  connect(m_job, &DistributedJob::jobFinished, this, &MainWindow::onJobFinished);
}

void MainWindow::onRunStarted(qint64 runId, const QString& title) {
  // The title comes with the trainer's announcement; the history panel shows the new row on its own connection.
  m_history->refresh();
  m_live->beginRun(runId, title);
  m_features->clear();
  m_runLabel->setText(tr("training %1").arg(title));
}

void MainWindow::beginLiveRun(qint64 runId, const QString& title) {
  m_history->refresh();
  const bool job = m_job->isRunning();
  m_live->beginRun(runId, job ? title : tr("%1 (followed)").arg(title));
  m_features->clear();  // stage features are not in the store: the features tab stays empty for a followed run
  m_runLabel->setText(job ? tr("training %1").arg(title) : tr("following %1").arg(title));
}

bool MainWindow::isBusy() const { return m_controller->isBusy() || m_job->isRunning() || m_follow->isFollowing(); }

void MainWindow::updateBusy() { m_experiment->setRunning(isBusy()); }

void MainWindow::showMessage(const QString& text, bool error) {
  m_runLabel->setText(text.section(QLatin1Char('\n'), 0, 0));
  m_live->appendLog(error ? QStringLiteral("error") : QStringLiteral("info"), text);
  m_experiment->messageLabel()->setText(text);
  m_experiment->messageLabel()->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

bool MainWindow::followLive(qint64 runId) {
  if (m_controller->isBusy() || m_job->isRunning()) {
    showMessage(tr("The live view shows the studio's own job; stop it before following another run."), true);
    return false;
  }
  const auto store = m_history->history();
  if (!store) {
    showMessage(tr("No run store is open: open one with File > Open run store."), true);
    return false;
  }
  try {
    if (runId == 0) {
      const std::vector<int64_t> selected = m_history->selectedRunIds();
      if (selected.size() == 1)
        if (const auto* r = m_history->model()->findRun(selected.front()); r && r->run.status == rkd::RunStatus::Running)
          runId = r->run.id;
    }
    if (runId == 0) {
      rkd::RunFilter running;
      running.status = rkd::RunStatus::Running;
      running.limit = 1;
      const auto runs = store->list(running);
      if (runs.empty()) {
        showMessage(tr("No run is in progress in the run store %1: a run shows as running in History while a process "
                       "(reviewkd train, a torchrun job) trains it.")
                        .arg(m_storePath),
                    true);
        return false;
      }
      runId = runs.front().id;
    }
    const auto run = store->run(runId);
    if (!run) {
      showMessage(tr("Run %1 is not in the run store %2.").arg(runId).arg(m_storePath), true);
      return false;
    }
    if (run->status != rkd::RunStatus::Running) {
      showMessage(tr("Run %1 is %2, not running: there is nothing to follow. Its curves are in History (Details).")
                      .arg(runId)
                      .arg(QString::fromStdString(rkd::toString(run->status))),
                  true);
      return false;
    }
  } catch (const std::exception& e) {
    showMessage(tr("Run store %1: %2").arg(m_storePath, QString::fromUtf8(e.what())), true);
    return false;
  }
  m_experiment->messageLabel()->clear();
  m_follow->setStorePath(m_storePath);
  m_follow->followRun(runId);
  m_tabs->setCurrentWidget(m_live);
  return true;
}

void MainWindow::stopActive() {
  if (m_controller->isBusy()) {
    m_controller->stop();
  } else if (m_job->isRunning()) {
    m_job->stop();
  } else if (m_follow->isFollowing()) {
    m_follow->requestStop();
  }
}

void MainWindow::startDistributed(const rkd::RunConfig& form, int processes) {
  rkd::RunConfig config = form;
  config.threads = rkd::services::threadsPerProcess(form.threads, processes, rkd::services::hardwareThreads());
  QString error;
  m_job->setStorePath(m_storePath);
  m_job->setHistory(m_history->history());
  if (!m_job->start(config, processes, &error)) {
    showMessage(error, true);
    return;
  }
  if (config.threads != form.threads)
    m_live->appendLog(QStringLiteral("info"), tr("each of the %1 processes uses %2 CPU thread(s): threads 0 shares the "
                                                 "%3 cores among them")
                                                  .arg(processes)
                                                  .arg(config.threads)
                                                  .arg(rkd::services::hardwareThreads()));
  m_live->setStatus(tr("starting %1 processes: %2").arg(processes).arg(QString::fromStdString(config.summary())));
  m_features->clear();
  m_tabs->setCurrentWidget(m_live);
}

void MainWindow::resumeRun(qint64 runId) {
  if (isBusy()) {
    m_experiment->messageLabel()->setText(m_follow->isFollowing() && !m_job->isRunning() && !m_controller->isBusy()
                                              ? tr("A run is followed live; use History > Stop following first.")
                                              : tr("A run is already training; stop it first."));
    return;
  }
  // A run trained by several processes resumes as such a job (the same world size: exact).
  int worldSize = 1;
  if (const auto* r = m_history->model()->findRun(runId)) worldSize = r->run.worldSize;
  else if (const auto store = m_history->history()) {
    try {
      if (const auto run = store->run(runId)) worldSize = run->worldSize;
    } catch (const std::exception&) {
      // the resume itself reports an unreadable store
    }
  }
  if (worldSize > 1) {
    QString error;
    m_job->setStorePath(m_storePath);
    m_job->setHistory(m_history->history());
    if (!m_job->resume(runId, worldSize, &error)) {
      showMessage(error, true);
      return;
    }
    m_live->setStatus(tr("resuming run %1 with %2 processes").arg(runId).arg(worldSize));
  } else {
    if (!m_controller->resume(runId)) {
      m_experiment->messageLabel()->setText(tr("A run is already training; stop it first."));
      return;
    }
    m_live->setStatus(tr("resuming run %1").arg(runId));
  }
  m_features->clear();
  m_tabs->setCurrentWidget(m_live);
}

void MainWindow::onJobFinished(const rkd::RunOutcome& outcome) {
  m_live->endRun(outcome);
  m_history->refresh();
  m_experiment->refreshRuns();
  QString text = tr("run %1 %2").arg(outcome.runId).arg(QString::fromStdString(outcome.statusText()));
  if (outcome.epochsDone > 0) text += tr(": best top-1 %1 %").arg(outcome.bestTop1, 0, 'f', 2);
  if (!outcome.message.empty()) text += QStringLiteral(" (%1)").arg(QString::fromStdString(outcome.message));
  m_runLabel->setText(text);
  if (!outcome.ok()) {
    m_experiment->messageLabel()->setText(QString::fromStdString(outcome.message));
    m_experiment->messageLabel()->setStyleSheet(QStringLiteral("color: #b00020;"));
  }
}

void MainWindow::openStore(const QString& path) {
  if (m_controller->isBusy() || m_job->isRunning()) {
    m_experiment->messageLabel()->setText(tr("Stop the running job before switching run stores."));
    return;
  }
  m_follow->stopFollowing();  // a followed run belongs to the store being closed
  m_storePath = path;
  m_controller->setStorePath(path);
  m_follow->setStorePath(path);
  m_job->setStorePath(path);
  m_history->setStorePath(path);
  m_experiment->setHistory(m_history->history());
  m_job->setHistory(m_history->history());
  m_storeLabel->setText(tr("Run store: %1").arg(path));
  // A store that cannot be opened, or only for reading, is said where a run starts (the experiment panel, beside
  // Start), in the live view and in the status bar, not only in History.
  QString problem;
  if (const auto store = m_history->history(); !store)
    problem = tr("The run store %1 cannot be opened, so no run can be recorded: %2 Open another store with File > "
                 "Open run store.")
                  .arg(path, m_history->openError());
  else if (store->readOnly())
    problem = tr("The run store %1 is open for reading only (this user may not write it, or the disk is full), so no "
                 "run can be recorded in it. Open another store with File > Open run store.")
                  .arg(path);
  m_experiment->setStoreProblem(problem);
  m_storeLabel->setStyleSheet(problem.isEmpty() ? QString() : QStringLiteral("color: #b00020;"));
  m_storeLabel->setToolTip(problem);
  if (!problem.isEmpty()) {
    m_live->setStatus(problem);
    showMessage(problem, true);
  }
  m_settings->setValue(QStringLiteral("store/path"), path);
  updateTitle();
}

void MainWindow::updateTitle() {
  setWindowTitle(tr("ReviewKD Studio - %1").arg(QFileInfo(m_storePath).fileName()));
}

void MainWindow::saveSettings() {
  m_experiment->saveSettings(*m_settings);
  m_settings->setValue(QStringLiteral("window/geometry"), saveGeometry());
  m_settings->setValue(QStringLiteral("window/tab"), m_tabs->currentIndex());
  m_settings->sync();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if ((m_controller->isBusy() || m_job->isRunning()) && m_interactive) {
    const auto answer = QMessageBox::question(
        this, tr("A run is training"),
        tr("Stop the running job and quit? It stops after the current step, keeps its checkpoint and can be "
           "resumed later from History."));
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
  }
  saveSettings();
  m_controller->stop();
  m_job->stop();  // its workers stop after the step in flight; the job object waits for them when destroyed
  event->accept();
}

}  // namespace rkd::gui
