#pragma once
// The history table: one row per run of the store (services::HistoryRow), and the proxy that filters and sorts it.
#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>
#include <QStringList>
#include <cstdint>
#include <vector>

#include "core/services/run_history.h"

namespace rkd::gui {

/// Rows = services::HistoryRow, newest first as the store lists them. DisplayRole is formatted text; Qt::UserRole
/// is the sort key (numbers for numeric columns, so they sort numerically); RunIdRole is the run id on every
/// column; the status column is coloured (ForegroundRole).
class HistoryModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { Id, Name, Pair, Switches, Status, Best, Last, Epochs, Duration, Device, Date, Tags, ColumnCount };
  /// The run id of the row, on every column.
  static constexpr int RunIdRole = Qt::UserRole + 1;

  explicit HistoryModel(QObject* parent);

  /// Replaces the rows. When the runs are the same (same ids in the same order) only the values change
  /// (dataChanged), so views keep their selection, current index and scroll position; otherwise the model resets.
  void setRows(std::vector<services::HistoryRow> rows);
  const std::vector<services::HistoryRow>& rows() const { return m_rows; }
  const services::HistoryRow& row(int i) const;
  int64_t runId(int row) const;
  /// The row of a run, -1 when absent.
  int rowOfRun(int64_t runId) const;
  /// The run's row data, null when absent.
  const services::HistoryRow* findRun(int64_t runId) const;
  /// Announces a new value of the Duration column of running runs (it is computed from the clock).
  void tickRunning();

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  /// "Finished", "Running", ... (capitalised status name).
  static QString statusText(RunStatus status);
  /// The colour a status is drawn in.
  static QColor statusColor(RunStatus status);

 private:
  double secondsOf(const services::HistoryRow& r) const;

  std::vector<services::HistoryRow> m_rows;
};

/// Filters (free text, status, pair, tag) and sorts a HistoryModel: numeric columns by number, text columns
/// case-insensitively, missing values (a run not evaluated yet) below every number, ties by run id.
class HistoryFilterModel : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  explicit HistoryFilterModel(QObject* parent);

  /// Case-insensitive; every whitespace-separated word must occur in the name, pair, switches, a tag or the
  /// device (or equal the run id, with or without '#').
  void setTextFilter(const QString& text);
  /// A status name ("finished"); empty = all.
  void setStatusFilter(const QString& status);
  /// A pair exactly as HistoryRow::pair ("resnet56 -> resnet20"); empty = all.
  void setPairFilter(const QString& pair);
  /// A tag (exact); empty = all.
  void setTagFilter(const QString& tag);
  QString textFilter() const { return m_words.join(QLatin1Char(' ')); }

 protected:
  bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

 private:
  /// Sets one exact-match filter field, re-filtering only when it changes.
  void updateFilter(QString& field, const QString& value);

  QStringList m_words;
  QString m_status;
  QString m_pair;
  QString m_tag;
};

}  // namespace rkd::gui
