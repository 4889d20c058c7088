#pragma once
// A training job of several worker processes that the studio starts: `reviewkd launch --nproc-per-node N --
// --db <store> train --config <file>` (or `... resume <id>`) as a child process, whose run the studio follows
// live from the store through a RunFollowController. Stop sends SIGINT to the launcher, which forwards it to the
// workers (they stop after the step in flight, write a checkpoint and mark the run stopped). The launcher's
// output goes to the log; a non-zero exit is reported with the last lines of its error output.
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>

#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_config.h"
#include "widgets/controllers/metatypes.h"

namespace rkd::services {
class RunHistory;
}

namespace rkd::gui {

class RunFollowController;

class DistributedJob : public QObject {
  Q_OBJECT
 public:
  /// `follower` follows the job's runs (the main window's, shared with History > Follow live).
  DistributedJob(RunFollowController* follower, QObject* parent = nullptr);
  /// A job still running is asked to stop (SIGINT) and left to finish on its own.
  ~DistributedJob() override;

  /// The `reviewkd` executable (default: the one beside the studio executable).
  void setExecutable(const QString& path) { m_executable = path; }
  QString executable() const;
  void setStorePath(const QString& path) { m_storePath = path; }
  /// The open store's connection, to read the highest run id before a job starts (may be null: then the store
  /// is opened for that).
  void setHistory(std::shared_ptr<rkd::services::RunHistory> history) { m_history = std::move(history); }

  bool isRunning() const { return m_process != nullptr; }
  /// The launcher's process id (0 when none runs).
  qint64 processId() const;
  /// The arguments of the last start (after the executable).
  QStringList arguments() const { return m_arguments; }
  /// The config file the last start wrote.
  QString configPath() const { return m_configPath; }

  /// Writes `config` to a temporary JSON file and starts `nproc` workers training it. False (with `error`) when
  /// a job already runs, the executable is missing, or the file cannot be written.
  bool start(const rkd::RunConfig& config, int nproc, QString* error = nullptr);
  /// Starts `nproc` workers resuming a stopped or interrupted run.
  bool resume(qint64 runId, int nproc, QString* error = nullptr);
  /// SIGINT to the launcher: the workers stop after the step in flight and keep their checkpoint.
  void stop();

 Q_SIGNALS:
  void busyChanged(bool busy);
  void logLine(const QString& level, const QString& text);
  /// The launcher's latest output line (for the status bar).
  void statusChanged(const QString& text);
  /// The processes exited and the followed run left "running": the run's outcome, or, when the launcher failed
  /// (no run, or a non-zero exit with a run that did not end as stopped/failed by itself), a Failed outcome whose
  /// message names the exit code and the launcher's last error lines.
  void jobFinished(const rkd::RunOutcome& outcome);

 private:
  bool launch(const QStringList& arguments, qint64 afterRunId, qint64 resumeRunId, QString* error);
  void readOutput(QProcess::ProcessChannel channel);
  void onProcessFinished(int exitCode, QProcess::ExitStatus status);
  void onFollowEnded(const rkd::RunOutcome& outcome, bool followedAny, bool job);
  qint64 highestRunId(QString* error);

  RunFollowController* m_follower;
  std::shared_ptr<rkd::services::RunHistory> m_history;
  QString m_executable;
  QString m_storePath;
  QProcess* m_process = nullptr;
  std::unique_ptr<QTemporaryDir> m_tempDir;
  QStringList m_arguments;
  QString m_configPath;
  QStringList m_errorTail;   // the launcher's last error lines
  QString m_partial[2];      // an unfinished output line per channel
  bool m_processDone = false;
  bool m_followDone = false;
  int m_exitCode = 0;
  QProcess::ExitStatus m_exitStatus = QProcess::NormalExit;
  QString m_startError;
  bool m_stopRequested = false;
  rkd::RunOutcome m_followOutcome;
  bool m_followedAny = false;
};

}  // namespace rkd::gui
