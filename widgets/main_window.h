#pragma once
// The studio's main window: the experiment panel on the left; Live, Features, History and Ablation tabs; menus
// for the store, presets and runs. Owns the training controller.
#include <QMainWindow>
#include <memory>

#include "core/services/inspect.h"
#include "core/vocabulary/progress.h"

class QAction;
class QLabel;
class QSettings;
class QTabWidget;
class QTimer;

namespace rkd::gui {

class AblationPanel;
class DistributedJob;
class ExperimentPanel;
class FeatureView;
class HistoryPanel;
class LiveView;
class RunFollowController;
class TrainingController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  /// `storePath`: the run store file; `settings`: where the last settings live (nullptr = the user's default
  /// QSettings of ReviewKD Studio). `interactive` false (tests, benchmarks): no modal dialogs.
  explicit MainWindow(const QString& storePath, QSettings* settings = nullptr, bool interactive = true,
                      QWidget* parent = nullptr);
  ~MainWindow() override;

  ExperimentPanel* experimentPanel() const { return m_experiment; }
  LiveView* liveView() const { return m_live; }
  FeatureView* featureView() const { return m_features; }
  HistoryPanel* historyPanel() const { return m_history; }
  AblationPanel* ablationPanel() const { return m_ablation; }
  TrainingController* controller() const { return m_controller; }
  /// Follows runs other processes write (History > Follow live) and the studio's distributed jobs.
  RunFollowController* followController() const { return m_follow; }
  /// The studio's job of several worker processes (device "N processes").
  DistributedJob* distributedJob() const { return m_job; }
  QAction* followLiveAction() const { return m_followLiveAction; }
  QAction* stopFollowingAction() const { return m_stopFollowingAction; }
  QTabWidget* tabs() const { return m_tabs; }
  QString storePath() const { return m_storePath; }

  /// Switches to another run store (File > Open run store).
  void openStore(const QString& path);
  void saveSettings();
  /// History > Follow live: follows `runId`, or (0) the selected running run, else the newest running run of the
  /// store. False (and a message in the status bar) when there is none or the studio's own job is running.
  bool followLive(qint64 runId = 0);
  /// Stop of the experiment panel and the Run menu: the in-process run, the distributed job (SIGINT to its
  /// launcher), or the followed run (SIGINT to its process when it runs on this host).
  void stopActive();
  /// Whether a run is trained or followed (the experiment form is locked meanwhile).
  bool isBusy() const;

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void connectParts();
  void onRunStarted(qint64 runId, const QString& title);
  void onJobFinished(const rkd::RunOutcome& outcome);
  void beginLiveRun(qint64 runId, const QString& title);
  void startDistributed(const rkd::RunConfig& config, int processes);
  void resumeRun(qint64 runId);
  void updateBusy();
  void showMessage(const QString& text, bool error);
  void updateTitle();

  QString m_storePath;
  QSettings* m_settings = nullptr;
  std::unique_ptr<QSettings> m_ownSettings;
  bool m_interactive = true;
  TrainingController* m_controller = nullptr;
  RunFollowController* m_follow = nullptr;
  DistributedJob* m_job = nullptr;
  QAction* m_followLiveAction = nullptr;
  QAction* m_stopFollowingAction = nullptr;
  ExperimentPanel* m_experiment = nullptr;
  LiveView* m_live = nullptr;
  FeatureView* m_features = nullptr;
  HistoryPanel* m_history = nullptr;
  AblationPanel* m_ablation = nullptr;
  QTabWidget* m_tabs = nullptr;
  QLabel* m_storeLabel = nullptr;
  QLabel* m_runLabel = nullptr;
  QTimer* m_saveTimer = nullptr;
};

}  // namespace rkd::gui
