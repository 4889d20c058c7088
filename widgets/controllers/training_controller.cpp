#include "widgets/controllers/training_controller.h"

#include <QMetaObject>

namespace rkd::gui {

TrainingController::TrainingController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<rkd::RunOutcome>();
  qRegisterMetaType<rkd::EpochProgress>();
  qRegisterMetaType<rkd::FeatureSnapshot>();
  m_timer.setSingleShot(true);
  m_timer.setInterval(40);
  connect(&m_timer, &QTimer::timeout, this, &TrainingController::deliver);
  m_thread.setObjectName(QStringLiteral("reviewkd-training"));
  m_worker = new QObject;  // the context of jobs on m_thread; no parent: it is moved there and deleted there
  m_worker->moveToThread(&m_thread);
  connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
  m_thread.start();
  // Engine log messages (any thread) reach the log pane through the same coalesced delivery.
  m_logSubscription = rkd::services::subscribeLog([this](const rkd::services::LogLine& line) {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_pending.logs.emplace_back(QString::fromStdString(line.level),
                                  QStringLiteral("[%1] %2").arg(QString::fromStdString(line.logger),
                                                                QString::fromStdString(line.text)));
    }
    post();
  });
}

TrainingController::~TrainingController() {
  if (m_session) m_session->requestStop();
  m_thread.quit();
  m_thread.wait();
  // Last: the engine's log sinks are behind a locked distributing sink, so this returns only once no thread is
  // inside our callback, and no message reaches it afterwards.
  m_logSubscription.reset();
}

void TrainingController::setStorePath(const QString& path) { m_storePath = path; }
void TrainingController::setCoalesceInterval(int ms) { m_timer.setInterval(ms); }

void TrainingController::post() {
  if (!m_scheduled.exchange(true))
    QMetaObject::invokeMethod(this, [this] { m_timer.start(); }, Qt::QueuedConnection);
}

void TrainingController::deliver() {
  m_scheduled.store(false);
  Pending batch;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    std::swap(batch, m_pending);
  }
  ++m_deliveries;
  for (const auto& [level, text] : batch.logs) Q_EMIT logLine(level, text);
  // Replay in arrival order; consecutive steps go out as one batch (one replot).
  size_t step = 0, epoch = 0, run = 0, status = 0;
  std::vector<rkd::StepProgress> steps;
  const auto flushSteps = [&] {
    if (steps.empty()) return;
    Q_EMIT stepsReady(steps);
    steps.clear();
  };
  for (unsigned char kind : batch.order) {
    if (kind == 0) {
      steps.push_back(std::move(batch.steps[step++]));
    } else if (kind == 1) {
      flushSteps();
      Q_EMIT epochReady(batch.epochs[epoch++]);
    } else if (kind == 3) {
      flushSteps();
      Q_EMIT statusChanged(batch.statuses[status++]);
    } else {
      flushSteps();
      const rkd::RunCreated& created = batch.newRuns[run++];
      m_currentRun = created.runId;
      Q_EMIT runStarted(m_currentRun, tr("run %1: %2").arg(created.runId).arg(QString::fromStdString(created.name)));
    }
  }
  flushSteps();
  if (batch.snapshot) Q_EMIT snapshotReady(*batch.snapshot);
}

bool TrainingController::launch(Job job) {
  if (m_busy) return false;
  m_session = std::make_shared<rkd::services::TrainingService>(m_storePath.toStdString());
  m_busy = true;
  m_currentRun = 0;
  Q_EMIT busyChanged(true);
  m_session->setProbeIndex(m_probe);
  auto session = m_session;
  rkd::TrainerCallbacks callbacks;
  // Called on the worker thread: a push under the lock, nothing else.
  const auto report = [this](const std::function<void(Pending&)>& add) {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      add(m_pending);
    }
    post();
  };
  // The trainer says which run it trains (the teacher's, then the student's) before that run's first step.
  callbacks.onRunCreated = [report](const rkd::RunCreated& created) {
    report([&](Pending& pending) {
      pending.newRuns.push_back(created);
      pending.order.push_back(2);
    });
  };
  callbacks.onStep = [report](const rkd::StepProgress& p) {
    report([&](Pending& pending) {
      pending.steps.push_back(p);
      pending.order.push_back(0);
    });
  };
  callbacks.onEpoch = [report](const rkd::EpochProgress& e) {
    report([&](Pending& pending) {
      pending.epochs.push_back(e);
      pending.order.push_back(1);
    });
  };
  callbacks.onSnapshot = [report](const rkd::FeatureSnapshot& s) { report([&](Pending& pending) { pending.snapshot = s; }); };
  callbacks.onStatus = [report](const std::string& text) {
    report([&](Pending& pending) {
      pending.statuses.push_back(QString::fromStdString(text));
      pending.order.push_back(3);
    });
  };
  QMetaObject::invokeMethod(
      m_worker,
      [this, session, job = std::move(job), callbacks] {
        const rkd::RunOutcome outcome = job(*session, callbacks);
        QMetaObject::invokeMethod(this, [this, outcome] { onJobDone(outcome); }, Qt::QueuedConnection);
      },
      Qt::QueuedConnection);
  return true;
}

void TrainingController::onJobDone(const rkd::RunOutcome& outcome) {
  m_timer.stop();
  deliver();  // everything reported before the end, in order, before jobFinished
  m_busy = false;
  m_session.reset();
  Q_EMIT busyChanged(false);
  Q_EMIT jobFinished(outcome);
}

bool TrainingController::start(const rkd::RunConfig& config) {
  return launch([config](rkd::services::TrainingService& s, const rkd::TrainerCallbacks& c) { return s.start(config, c); });
}

bool TrainingController::resume(qint64 runId, qint64 epochs) {
  return launch([runId, epochs](rkd::services::TrainingService& s, const rkd::TrainerCallbacks& c) {
    return s.resume(runId, epochs, c);
  });
}

void TrainingController::stop() {
  if (m_session) m_session->requestStop();
}

void TrainingController::setProbeIndex(qint64 index) {
  if (m_session) m_session->setProbeIndex(index);
  m_probe = index;
}

}  // namespace rkd::gui
