#pragma once
// The history panel's config diff: one row per field in which the selected runs' configs differ (vertical
// header = dotted field path), one column per run, values that differ from the first run highlighted.
#include <QWidget>
#include <cstdint>
#include <vector>

#include "core/services/run_history.h"

class QLabel;
class QTableWidget;

namespace rkd::gui {

class HistoryStatusLine;

class ConfigDiffView : public QWidget {
  Q_OBJECT

 public:
  /// Read errors go to `status` (never in a message box).
  ConfigDiffView(HistoryStatusLine* status, QWidget* parent);

  /// One column per run in the order given. The run name is left out (the column headers show it).
  QTableWidget* table() const { return m_table; }
  /// "3 runs differ in 4 fields" / "Select two or more runs to compare their configs".
  QLabel* summaryLabel() const { return m_label; }

  /// Compares the configs of `runs` read from `store` (null: no store is open).
  void showRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs);

 private:
  HistoryStatusLine* m_status;
  QLabel* m_label = nullptr;
  QTableWidget* m_table = nullptr;
};

}  // namespace rkd::gui
