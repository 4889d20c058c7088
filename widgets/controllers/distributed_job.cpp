#include "widgets/controllers/distributed_job.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSaveFile>
#include <exception>

#include <signal.h>

#include "core/services/run_follower.h"
#include "core/services/run_history.h"
#include "widgets/controllers/run_follow_controller.h"

namespace rkd::gui {

namespace {

constexpr int kErrorTailLines = 12;
/// How long closing the studio waits for a job it asked to stop.
constexpr int kStopWaitMs = 60000;

QStringList toQStringList(const std::vector<std::string>& args) {
  QStringList out;
  for (const auto& a : args) out << QString::fromStdString(a);
  return out;
}

void setError(QString* error, const QString& text) {
  if (error) *error = text;
}

}  // namespace

DistributedJob::DistributedJob(RunFollowController* follower, QObject* parent) : QObject(parent), m_follower(follower) {
  qRegisterMetaType<rkd::RunOutcome>();
  connect(m_follower, &RunFollowController::followEnded, this, &DistributedJob::onFollowEnded);
}

DistributedJob::~DistributedJob() {
  if (!m_process) return;
  m_process->disconnect(this);
  if (m_process->state() != QProcess::NotRunning) {
    ::kill(static_cast<pid_t>(m_process->processId()), SIGINT);
    m_process->waitForFinished(kStopWaitMs);  // else QProcess ends it when it is destroyed
  }
}

QString DistributedJob::executable() const {
  if (!m_executable.isEmpty()) return m_executable;
  return QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("reviewkd"));
}

qint64 DistributedJob::processId() const { return m_process ? m_process->processId() : 0; }

qint64 DistributedJob::highestRunId(QString* error) {
  try {
    if (m_history) return rkd::services::highestRunId(*m_history);
    rkd::services::RunHistory history(m_storePath.toStdString());
    return rkd::services::highestRunId(history);
  } catch (const std::exception& e) {
    setError(error, tr("Run store %1 cannot be read: %2").arg(m_storePath, QString::fromUtf8(e.what())));
    return -1;
  }
}

bool DistributedJob::start(const rkd::RunConfig& config, int nproc, QString* error) {
  if (m_process) {
    setError(error, tr("A distributed job is already running; stop it first."));
    return false;
  }
  m_tempDir = std::make_unique<QTemporaryDir>(QDir(QDir::tempPath()).filePath(QStringLiteral("reviewkd-job-XXXXXX")));
  if (!m_tempDir->isValid()) {
    setError(error, tr("Cannot create a temporary folder for the job's config in %1: %2; free space there or set "
                       "TMPDIR to a writable folder")
                        .arg(QDir::tempPath(), m_tempDir->errorString()));
    m_tempDir.reset();
    return false;
  }
  m_configPath = m_tempDir->filePath(QStringLiteral("run-config.json"));
  QSaveFile file(m_configPath);
  const std::string text = rkd::toJson(config).dump(2) + "\n";
  if (!file.open(QIODevice::WriteOnly) || file.write(text.data(), static_cast<qint64>(text.size())) < 0 || !file.commit()) {
    setError(error, tr("Cannot write the job's config to %1: %2").arg(m_configPath, file.errorString()));
    m_tempDir.reset();
    return false;
  }
  const QStringList args = toQStringList(
      rkd::services::launchTrainArguments(nproc, m_storePath.toStdString(), m_configPath.toStdString()));
  QString why;
  const qint64 after = highestRunId(&why);
  if (after < 0) {
    setError(error, why);
    m_tempDir.reset();
    return false;
  }
  if (!launch(args, after, 0, error)) {
    m_tempDir.reset();
    return false;
  }
  return true;
}

bool DistributedJob::resume(qint64 runId, int nproc, QString* error) {
  if (m_process) {
    setError(error, tr("A distributed job is already running; stop it first."));
    return false;
  }
  m_configPath.clear();
  const QStringList args = toQStringList(rkd::services::launchResumeArguments(nproc, m_storePath.toStdString(), runId));
  return launch(args, 0, runId, error);
}

bool DistributedJob::launch(const QStringList& arguments, qint64 afterRunId, qint64 resumeRunId, QString* error) {
  const QString exe = executable();
  const QFileInfo info(exe);
  if (!info.exists() || !info.isExecutable()) {
    setError(error, tr("The reviewkd command line, which starts the worker processes, was not found at %1: build it "
                       "(cmake --build build --target reviewkd) or install it beside reviewkd-studio")
                        .arg(exe));
    return false;
  }
  m_arguments = arguments;
  m_errorTail.clear();
  m_partial[0].clear();
  m_partial[1].clear();
  m_processDone = m_followDone = m_stopRequested = m_followedAny = false;
  m_exitCode = 0;
  m_exitStatus = QProcess::NormalExit;
  m_startError.clear();
  m_followOutcome = {};

  m_process = new QProcess(this);
  m_process->setProgram(exe);
  m_process->setArguments(arguments);
  connect(m_process, &QProcess::readyReadStandardOutput, this, [this] { readOutput(QProcess::StandardOutput); });
  connect(m_process, &QProcess::readyReadStandardError, this, [this] { readOutput(QProcess::StandardError); });
  connect(m_process, &QProcess::finished, this, &DistributedJob::onProcessFinished);
  connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e != QProcess::FailedToStart || !m_process) return;
    m_startError = m_process->errorString();
    onProcessFinished(-1, QProcess::CrashExit);
  });
  Q_EMIT busyChanged(true);
  Q_EMIT logLine(QStringLiteral("info"), QStringLiteral("$ %1 %2").arg(exe, arguments.join(QLatin1Char(' '))));
  m_process->start();
  m_follower->setStorePath(m_storePath);
  if (m_process)  // (a start that failed at once has already ended the job)
    m_follower->followJob(afterRunId, resumeRunId, m_process->processId());
  return true;
}

void DistributedJob::stop() {
  if (!m_process || m_process->state() == QProcess::NotRunning) return;
  m_stopRequested = true;
  const qint64 pid = m_process->processId();
  if (::kill(static_cast<pid_t>(pid), SIGINT) == 0)
    Q_EMIT logLine(QStringLiteral("info"), tr("asked the job's launcher (pid %1) to stop its workers after the step in "
                                              "flight (SIGINT); they keep their checkpoint")
                                               .arg(pid));
  else
    Q_EMIT logLine(QStringLiteral("error"), tr("could not send SIGINT to the job's launcher (pid %1)").arg(pid));
}

void DistributedJob::readOutput(QProcess::ProcessChannel channel) {
  if (!m_process) return;
  const bool isError = channel == QProcess::StandardError;
  QString& partial = m_partial[isError ? 1 : 0];
  partial += QString::fromUtf8(isError ? m_process->readAllStandardError() : m_process->readAllStandardOutput());
  partial.replace(QLatin1Char('\r'), QLatin1Char('\n'));  // a progress bar redraws its line
  const int end = partial.lastIndexOf(QLatin1Char('\n'));
  if (end < 0) return;
  const QStringList lines = partial.left(end).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  partial = partial.mid(end + 1);
  for (const QString& raw : lines) {
    const QString line = raw.trimmed();
    if (line.isEmpty()) continue;
    QString level = QStringLiteral("info");
    if (isError) {
      m_errorTail << line;
      while (m_errorTail.size() > kErrorTailLines) m_errorTail.removeFirst();
      const QString lower = line.toLower();
      if (lower.contains(QLatin1String("error")) || lower.contains(QLatin1String("fail"))) level = QStringLiteral("error");
      else if (lower.contains(QLatin1String("warn"))) level = QStringLiteral("warn");
    }
    Q_EMIT logLine(level, line);
    Q_EMIT statusChanged(line);
  }
}

void DistributedJob::onProcessFinished(int exitCode, QProcess::ExitStatus status) {
  if (!m_process || m_processDone) return;
  // What is still buffered, and a last line without its newline.
  readOutput(QProcess::StandardOutput);
  readOutput(QProcess::StandardError);
  for (QString& partial : m_partial) {
    if (!partial.trimmed().isEmpty()) {
      if (&partial == &m_partial[1]) m_errorTail << partial.trimmed();
      Q_EMIT logLine(QStringLiteral("info"), partial.trimmed());
    }
    partial.clear();
  }
  m_processDone = true;
  m_exitCode = exitCode;
  m_exitStatus = status;
  Q_EMIT logLine(exitCode == 0 && status == QProcess::NormalExit ? QStringLiteral("info") : QStringLiteral("warn"),
                 status == QProcess::NormalExit ? tr("the job's launcher exited with code %1").arg(exitCode)
                                                : tr("the job's launcher crashed"));
  if (m_follower->isFollowingJob()) {
    m_follower->jobProcessesEnded();  // its last polls read the last rows; then followEnded
  } else {
    onFollowEnded({}, m_followedAny, true);
  }
}

void DistributedJob::onFollowEnded(const rkd::RunOutcome& outcome, bool followedAny, bool job) {
  if (!job || !m_process || m_followDone) return;
  m_followDone = true;
  m_followOutcome = outcome;
  m_followedAny = followedAny;
  if (!m_processDone) return;  // a follow ends only after jobProcessesEnded; kept for safety

  QString failure;
  if (!m_startError.isEmpty()) {
    failure = tr("%1 could not be started: %2").arg(executable(), m_startError);
  } else if (m_exitStatus != QProcess::NormalExit) {
    failure = tr("reviewkd launch crashed");
  } else if (m_exitCode != 0) {
    failure = tr("reviewkd launch exited with code %1").arg(m_exitCode);
  }
  if (!failure.isEmpty() && !m_errorTail.isEmpty()) failure += QStringLiteral(":\n") + m_errorTail.join(QLatin1Char('\n'));

  rkd::RunOutcome o;
  if (!followedAny) {
    o.status = rkd::RunStatus::Failed;
    o.message = (failure.isEmpty() ? tr("the job ended without creating a run in the run store %1").arg(m_storePath)
                                   : failure)
                    .toStdString();
    o.badInput = m_exitCode == 2;
  } else {
    o = outcome;
    // A run that finished while the job failed afterwards (a teacher, then a student that never started): the job
    // failed. A run that failed or was stopped says so itself; the launcher's lines are added when it has none.
    if (!failure.isEmpty() && o.status == rkd::RunStatus::Finished && !m_stopRequested) {
      o.status = rkd::RunStatus::Failed;
      o.message = failure.toStdString();
    } else if (!failure.isEmpty() && o.message.empty()) {
      o.message = failure.toStdString();
    }
  }
  m_process->deleteLater();
  m_process = nullptr;
  m_tempDir.reset();
  Q_EMIT busyChanged(false);
  Q_EMIT jobFinished(o);
}

}  // namespace rkd::gui
