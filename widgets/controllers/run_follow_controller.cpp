#include "widgets/controllers/run_follow_controller.h"

#include <QMetaObject>
#include <algorithm>
#include <exception>

#include "core/services/run_follower.h"
#include "core/services/run_history.h"

namespace rkd::gui {

// One follow's state on the worker thread. The GUI thread only passes it along; every member is used by the
// polls, which run one at a time on the worker thread.
struct RunFollowController::Work {
  std::string storePath;
  bool job = false;
  qint64 runId = 0;        // followRun
  qint64 afterRunId = 0;   // followJob
  qint64 resumeRunId = 0;  // followJob of a resume
  qint64 launcherPid = 0;  // followJob: the job's process
  std::unique_ptr<rkd::services::RunHistory> history;  // finds a job's runs
  std::unique_ptr<rkd::services::RunFollower> follower;
  bool followerEnded = false;
};

namespace {

// What one poll brought back to the GUI thread.
struct PollResult {
  qint64 newRunId = 0;
  QString newTitle;
  bool polled = false;
  rkd::services::FollowUpdate update;
  QString error;
  qint64 milliseconds = 0;  // how long the poll took
};

// Runs on the worker thread.
PollResult pollOnce(RunFollowController::Work& w) {
  PollResult r;
  QElapsedTimer clock;
  clock.start();
  try {
    if (w.job) {
      if (!w.history) w.history = std::make_unique<rkd::services::RunHistory>(w.storePath);
      if (!w.follower || w.followerEnded) {
        qint64 next = 0;
        if (w.resumeRunId > 0) {
          // A resumed run is followed once its workers marked it running again (it was stopped or interrupted).
          if (!w.follower)
            if (auto run = w.history->run(w.resumeRunId); run && run->status == rkd::RunStatus::Running) next = w.resumeRunId;
        } else if (auto newest = rkd::services::newestRunOfJob(*w.history, w.afterRunId, w.launcherPid);
                   newest && (!w.follower || newest->id != w.follower->runId())) {
          next = newest->id;
        }
        if (next > 0) {
          w.follower = std::make_unique<rkd::services::RunFollower>(w.storePath, next);
          w.followerEnded = false;
          r.newRunId = next;
          r.newTitle = QString::fromStdString(w.follower->title());
        }
      }
    } else if (!w.follower) {
      w.follower = std::make_unique<rkd::services::RunFollower>(w.storePath, w.runId);
      r.newRunId = w.runId;
      r.newTitle = QString::fromStdString(w.follower->title());
    }
    if (w.follower && !w.followerEnded) {
      r.update = w.follower->poll();
      r.polled = true;
      if (!w.follower->lastError().empty()) r.error = QString::fromStdString(w.follower->lastError());
      if (r.update.ended) w.followerEnded = true;
    }
  } catch (const std::exception& e) {
    r.error = QString::fromUtf8(e.what());
  }
  r.milliseconds = clock.elapsed();
  return r;
}

QString outcomeText(const rkd::RunOutcome& o) {
  QString text = QStringLiteral("run %1 %2").arg(o.runId).arg(QString::fromStdString(o.statusText()));
  if (!o.message.empty()) text += QStringLiteral(": ") + QString::fromStdString(o.message);
  return text;
}

}  // namespace

RunFollowController::RunFollowController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<rkd::RunOutcome>();
  qRegisterMetaType<rkd::EpochProgress>();
  qRegisterMetaType<std::vector<rkd::StepProgress>>();
  m_timer.setInterval(500);
  connect(&m_timer, &QTimer::timeout, this, &RunFollowController::schedulePoll);
  m_thread.setObjectName(QStringLiteral("reviewkd-follow"));
  m_worker = new QObject;  // no parent: moved to the thread and deleted there when it finishes
  m_worker->moveToThread(&m_thread);
  connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
  m_thread.start();
}

RunFollowController::~RunFollowController() {
  m_timer.stop();
  ++m_generation;
  m_thread.quit();
  m_thread.wait();
}

void RunFollowController::setStorePath(const QString& path) { m_storePath = path; }
void RunFollowController::setPollInterval(int ms) {
  m_pollInterval = std::max(1, ms);
  m_timer.setInterval(m_pollInterval);
}

void RunFollowController::followRun(qint64 runId) { begin(Mode::Run, runId, 0, 0, 0); }

void RunFollowController::followJob(qint64 afterRunId, qint64 resumeRunId, qint64 launcherPid) {
  begin(Mode::Job, 0, afterRunId, resumeRunId, launcherPid);
}

void RunFollowController::begin(Mode mode, qint64 runId, qint64 afterRunId, qint64 resumeRunId, qint64 launcherPid) {
  const bool was = isFollowing();
  ++m_generation;
  m_inFlight = false;
  m_mode = mode;
  m_runId = 0;
  m_runEnded = false;
  m_lastOutcome = {};
  m_followedAny = false;
  m_processesEnded = false;
  m_polls = 0;
  m_silentReported = false;
  m_lastError.clear();
  m_timer.setInterval(m_pollInterval);
  m_work = std::make_shared<Work>();
  m_work->storePath = m_storePath.toStdString();
  m_work->job = mode == Mode::Job;
  m_work->runId = runId;
  m_work->afterRunId = afterRunId;
  m_work->resumeRunId = resumeRunId;
  m_work->launcherPid = launcherPid;
  if (!was) Q_EMIT followingChanged(true);
  if (mode == Mode::Run) Q_EMIT statusChanged(tr("following run %1 from the run store").arg(runId));
  else Q_EMIT statusChanged(tr("waiting for the job's run to appear in the run store"));
  m_timer.start();
  schedulePoll();
}

void RunFollowController::jobProcessesEnded() {
  if (m_mode != Mode::Job || m_processesEnded) return;
  m_processesEnded = true;
  m_sinceProcessesEnded.start();
  schedulePoll();
}

void RunFollowController::stopFollowing() {
  if (!isFollowing()) return;
  const qint64 run = m_runId;
  ++m_generation;
  m_timer.stop();
  m_inFlight = false;
  m_mode = Mode::Idle;
  m_work.reset();
  Q_EMIT statusChanged(run > 0 ? tr("stopped following run %1 (it goes on)").arg(run) : tr("stopped following"));
  Q_EMIT followingChanged(false);
}

void RunFollowController::requestStop() {
  if (!isFollowing()) {
    Q_EMIT message(tr("No run is followed: nothing to stop."), true);
    return;
  }
  auto work = m_work;
  const int generation = m_generation;
  QMetaObject::invokeMethod(m_worker, [this, work, generation] {
    rkd::services::StopRequest answer;
    if (work->follower) {
      answer = work->follower->requestStop();
    } else {
      answer.message = "the job has not created its run yet; nothing to stop";
    }
    QMetaObject::invokeMethod(
        this,
        [this, answer, generation] {
          if (generation == m_generation) Q_EMIT message(QString::fromStdString(answer.message), !answer.sent);
        },
        Qt::QueuedConnection);
  });
}

void RunFollowController::schedulePoll() {
  if (m_inFlight || !m_work) return;
  m_inFlight = true;
  auto work = m_work;
  const int generation = m_generation;
  const bool afterProcessesEnded = m_processesEnded;
  QMetaObject::invokeMethod(m_worker, [this, work, generation, afterProcessesEnded] {
    PollResult result = pollOnce(*work);
    QMetaObject::invokeMethod(
        this,
        [this, result = std::move(result), generation, afterProcessesEnded] {
          if (generation != m_generation) return;  // an older follow's answer
          m_inFlight = false;
          ++m_polls;
          // A poll reads only the rows written since the last one; should it still take long (a slow disk), the
          // polls of this thread never take more than a fifth of one core.
          m_timer.setInterval(std::max<qint64>(m_pollInterval, 4 * result.milliseconds));
          // A store that stays unreadable (locked, gone) is said once, not at every poll.
          if (!result.error.isEmpty() && result.error != m_lastError) Q_EMIT message(result.error, true);
          m_lastError = result.error;
          if (result.newRunId > 0) {
            m_runId = result.newRunId;
            m_runEnded = false;
            m_followedAny = true;
            m_silentReported = false;
            Q_EMIT runStarted(m_runId, result.newTitle);
            Q_EMIT statusChanged(tr("following %1").arg(result.newTitle));
          }
          if (result.polled) {
            const auto& u = result.update;
            if (!u.steps.empty()) Q_EMIT stepsReady(u.steps);
            for (const auto& e : u.epochs) Q_EMIT epochReady(e);
            if (u.snapshot) Q_EMIT snapshotReady(*u.snapshot);
            if (u.silentSeconds > 0 && !m_silentReported) {
              m_silentReported = true;
              Q_EMIT message(tr("run %1's writer (on another host) has written nothing for %2 s; it may be gone")
                                 .arg(m_runId)
                                 .arg(static_cast<qint64>(u.silentSeconds)),
                             true);
            }
            if (u.ended) {
              m_runEnded = true;
              m_lastOutcome = u.outcome;
              Q_EMIT statusChanged(outcomeText(u.outcome));
              Q_EMIT runEnded(u.outcome);
              if (m_mode == Mode::Run) {
                finish(u.outcome, true);
                return;
              }
            }
          }
          if (m_mode == Mode::Job && afterProcessesEnded) {
            if (!m_followedAny) {
              finish({}, false);
            } else if (m_runEnded) {
              finish(m_lastOutcome, true);
            } else if (m_sinceProcessesEnded.elapsed() > m_endGraceMs) {
              rkd::RunOutcome o;
              o.runId = m_runId;
              o.status = rkd::RunStatus::Interrupted;
              o.message = "the job's processes ended but the run is still marked running in the store; it shows as "
                          "interrupted once its writer is known to be gone, and can then be resumed";
              finish(o, true);
            }
          }
        },
        Qt::QueuedConnection);
  });
}

void RunFollowController::finish(const rkd::RunOutcome& outcome, bool followedAny) {
  const bool job = m_mode == Mode::Job;
  ++m_generation;
  m_timer.stop();
  m_inFlight = false;
  m_mode = Mode::Idle;
  m_work.reset();
  Q_EMIT followingChanged(false);
  Q_EMIT followEnded(outcome, followedAny, job);
}

}  // namespace rkd::gui
