#pragma once
// The stage feature view: for one probe image of the test set, per distilled level, the teacher's feature, the
// review head's output, their difference and the two ABF attention maps as heatmaps, plus the level's HCL.
#include <QStringList>
#include <QWidget>
#include <array>
#include <vector>

#include "core/vocabulary/progress.h"

class QComboBox;
class QGridLayout;
class QLabel;
class QPushButton;
class QScrollArea;
class QSpinBox;

namespace rkd::gui {

class HeatmapWidget;

class FeatureView : public QWidget {
  Q_OBJECT
 public:
  /// Heatmap columns of a level row.
  enum Column { TeacherColumn = 0, ReviewColumn = 1, DifferenceColumn = 2, AttentionCurrentColumn = 3,
                AttentionResidualColumn = 4, ColumnCount = 5 };

  explicit FeatureView(QWidget* parent = nullptr);

  QSpinBox* probeSpin() const;        ///< test-set index of the probe image
  /// "Channel mean", then "Channel 0".."Channel C-1" (C = most channels over the levels of the snapshot).
  QComboBox* channelCombo() const;
  QPushButton* randomButton() const;  ///< "Pick random"
  int levelCount() const;             ///< level rows currently shown
  /// Columns: 0 teacher, 1 review output, 2 difference (review - teacher, diverging), 3 ABF attention a0,
  /// 4 ABF attention a1; nullptr outside the shown rows.
  HeatmapWidget* heatmap(int level, int column) const;
  QLabel* levelLossLabel(int level) const;   ///< "HCL 0.0123"
  QLabel* levelNameLabel(int level) const;   ///< LevelSnapshot::label
  QLabel* probeImageLabel() const;           ///< the probe thumbnail
  QLabel* probeInfoLabel() const;            ///< "#12 · Sneaker (7) · epoch 3 · step 1200"
  QLabel* snapshotEveryLabel() const;        ///< "updated every N steps"
  bool hasSnapshot() const;
  /// The channel shown: -1 for the channel mean.
  int selectedChannel() const;

  void setTestSetSize(qint64 n);      ///< probe spin range 0..n-1
  /// When on (the studio's main window), snapshots that arrive while the view is hidden (another tab is shown)
  /// are kept and drawn when it is shown: twenty heatmaps nobody sees would take CPU time from training.
  void setDeferWhileHidden(bool on) { m_deferWhileHidden = on; }
  void setSnapshotEvery(int steps);   ///< shown as "updated every N steps"
  void setClassNames(const QStringList& names);  ///< names the probe's label (optional)

 public Q_SLOTS:
  /// Keeps a copy, so a channel change redraws without a new snapshot.
  void showSnapshot(const rkd::FeatureSnapshot& snapshot);
  void clear();

 Q_SIGNALS:
  void probeIndexChanged(qint64 index);

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  struct Row {
    QWidget* header = nullptr;
    QLabel* name = nullptr;
    QLabel* loss = nullptr;
    std::array<HeatmapWidget*, ColumnCount> maps{};
  };

  void ensureRows(int count);
  void rebuildChannelCombo();
  void redraw();
  void drawLevel(Row& row, const rkd::LevelSnapshot& level, int channel);
  void showProbe();
  void updateProbeInfo();

  QLabel* m_thumb = nullptr;
  QLabel* m_probeInfo = nullptr;
  QSpinBox* m_probeSpin = nullptr;
  QPushButton* m_random = nullptr;
  QComboBox* m_channelCombo = nullptr;
  QLabel* m_every = nullptr;
  QLabel* m_placeholder = nullptr;
  QScrollArea* m_scroll = nullptr;
  QWidget* m_gridHost = nullptr;
  QGridLayout* m_grid = nullptr;
  std::vector<Row> m_rows;
  int m_shown = 0;

  rkd::FeatureSnapshot m_snapshot;
  bool m_hasSnapshot = false;
  qint64 m_requestedProbe = -1;  ///< asked for by the user, not yet seen in a snapshot
  QStringList m_classNames;
  bool m_deferWhileHidden = false;
  bool m_drawPending = false;  // a snapshot arrived while hidden
};

}  // namespace rkd::gui
