#pragma once
// The studio's main window: the experiment panel on the left; Live, Features, History and Ablation tabs; menus
// for the store, presets and runs. Owns the training controller.
#include <QMainWindow>
#include <memory>

#include "core/services/inspect.h"
#include "core/services/progress.h"

class QLabel;
class QSettings;
class QTabWidget;
class QTimer;

namespace rkd::gui {

class AblationPanel;
class ExperimentPanel;
class FeatureView;
class HistoryPanel;
class LiveView;
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
  QTabWidget* tabs() const { return m_tabs; }
  QString storePath() const { return m_storePath; }

  /// Switches to another run store (File > Open run store).
  void openStore(const QString& path);
  void saveSettings();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void connectParts();
  void onRunStarted(qint64 runId);
  void onJobFinished(const rkd::RunOutcome& outcome);
  void updateTitle();

  QString m_storePath;
  QSettings* m_settings = nullptr;
  std::unique_ptr<QSettings> m_ownSettings;
  bool m_interactive = true;
  TrainingController* m_controller = nullptr;
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
