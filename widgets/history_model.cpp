#include "widgets/history_model.h"

#include <QColor>
#include <QDateTime>
#include <QFont>
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/services/run_follower.h"
#include "widgets/plot_style.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QString tagsText(const RunSummary& run) {
  QStringList tags;
  for (const auto& t : run.tags) tags << qs(t);
  return tags.join(QStringLiteral(", "));
}

QString top1Text(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return QStringLiteral("–");
  return QString::number(*v, 'f', 2);
}

// Missing numbers sort below every real value (a run not evaluated yet is not "better" than anything).
constexpr double kMissing = -std::numeric_limits<double>::infinity();

}  // namespace

HistoryModel::HistoryModel(QObject* parent) : QAbstractTableModel(parent) {}

void HistoryModel::setRows(std::vector<services::HistoryRow> rows) {
  const bool sameRuns =
      rows.size() == m_rows.size() &&
      std::equal(rows.begin(), rows.end(), m_rows.begin(),
                 [](const services::HistoryRow& a, const services::HistoryRow& b) { return a.run.id == b.run.id; });
  if (sameRuns) {
    m_rows = std::move(rows);
    if (!m_rows.empty()) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    return;
  }
  beginResetModel();
  m_rows = std::move(rows);
  endResetModel();
}

const services::HistoryRow& HistoryModel::row(int i) const { return m_rows.at(static_cast<size_t>(i)); }

int64_t HistoryModel::runId(int row) const {
  if (row < 0 || row >= rowCount()) return 0;
  return m_rows[static_cast<size_t>(row)].run.id;
}

int HistoryModel::rowOfRun(int64_t runId) const {
  for (size_t i = 0; i < m_rows.size(); ++i)
    if (m_rows[i].run.id == runId) return static_cast<int>(i);
  return -1;
}

const services::HistoryRow* HistoryModel::findRun(int64_t runId) const {
  const int row = rowOfRun(runId);
  return row < 0 ? nullptr : &m_rows[static_cast<size_t>(row)];
}

void HistoryModel::tickRunning() {
  for (size_t i = 0; i < m_rows.size(); ++i) {
    if (m_rows[i].run.status != RunStatus::Running) continue;
    const QModelIndex ix = index(static_cast<int>(i), Duration);
    Q_EMIT dataChanged(ix, ix, {Qt::DisplayRole, Qt::UserRole});
  }
}

int HistoryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int HistoryModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

double HistoryModel::secondsOf(const services::HistoryRow& r) const {
  // A running run's duration grows with the clock; the stored value is from the last refresh.
  if (r.run.status == RunStatus::Running && !r.run.endedAt)
    return std::max<double>(0, static_cast<double>(nowUnixMs() - r.run.startedAt) / 1000.0);
  return r.seconds;
}

QString HistoryModel::statusText(RunStatus status) {
  QString s = qs(toString(status));
  if (!s.isEmpty()) s[0] = s[0].toUpper();
  return s;
}

QColor HistoryModel::statusColor(RunStatus status) {
  switch (status) {
    case RunStatus::Running: return QColor(31, 119, 180);
    case RunStatus::Finished: return QColor(35, 134, 54);
    case RunStatus::Stopped: return QColor(191, 110, 0);
    case RunStatus::Failed: return QColor(200, 30, 30);
    case RunStatus::Diverged: return QColor(160, 40, 160);
    case RunStatus::Interrupted: return QColor(120, 100, 80);
  }
  return QColor(Qt::black);
}

QVariant HistoryModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() < 0 || index.row() >= rowCount()) return {};
  const services::HistoryRow& r = m_rows[static_cast<size_t>(index.row())];
  const RunSummary& run = r.run;
  const int column = index.column();

  if (role == RunIdRole) return QVariant::fromValue<qint64>(run.id);

  if (role == Qt::DisplayRole) {
    switch (column) {
      case Id: return QString::number(run.id);
      case Name: return qs(run.name);
      case Pair: return qs(r.pair);
      case Switches: return qs(r.switches);
      case Status: return statusText(run.status);
      case Best: return top1Text(run.bestTop1);
      case Last: return top1Text(run.lastTop1);
      case Epochs:
        return r.epochs > 0 ? QStringLiteral("%1 / %2").arg(run.epochsDone).arg(r.epochs) : QString::number(run.epochsDone);
      case Duration: return formatDuration(secondsOf(r));
      case Device: return qs(rkd::services::deviceText(run));
      case Date: return QDateTime::fromMSecsSinceEpoch(run.startedAt).toString(QStringLiteral("yyyy-MM-dd HH:mm"));
      case Tags: return tagsText(run);
      default: return {};
    }
  }

  if (role == Qt::UserRole) {
    switch (column) {
      case Id: return QVariant::fromValue<qint64>(run.id);
      case Best: return run.bestTop1 && std::isfinite(*run.bestTop1) ? *run.bestTop1 : kMissing;
      case Last: return run.lastTop1 && std::isfinite(*run.lastTop1) ? *run.lastTop1 : kMissing;
      case Epochs: return run.epochsDone;
      case Duration: return secondsOf(r);
      case Date: return QVariant::fromValue<qint64>(run.startedAt);
      case Status: return qs(toString(run.status));
      default: return data(index, Qt::DisplayRole);
    }
  }

  if (role == Qt::ForegroundRole) {
    if (column == Status) return statusColor(run.status);
    if ((column == Best || column == Last) && !(column == Best ? run.bestTop1 : run.lastTop1))
      return QColor(150, 150, 150);
    return {};
  }

  if (role == Qt::FontRole && column == Status) {
    QFont f;
    f.setBold(true);
    return f;
  }

  if (role == Qt::TextAlignmentRole) {
    switch (column) {
      case Id:
      case Best:
      case Last:
      case Epochs:
      case Duration: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      default: return QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    }
  }

  if (role == Qt::ToolTipRole) {
    switch (column) {
      case Name: {
        QString tip = QStringLiteral("<b>#%1 %2</b> (%3, %4)").arg(run.id).arg(qs(run.name).toHtmlEscaped(),
                                                                             qs(toString(run.kind)), qs(run.dataset));
        if (!r.configText.empty()) tip += QStringLiteral("<br>") + qs(r.configText).toHtmlEscaped();
        if (!run.message.empty()) tip += QStringLiteral("<br><i>") + qs(run.message).toHtmlEscaped() + QStringLiteral("</i>");
        return tip;
      }
      case Status:
        return run.message.empty() ? statusText(run.status) : statusText(run.status) + QStringLiteral(": ") + qs(run.message);
      case Switches: return qs(r.configText);
      case Tags: return tagsText(run);
      case Date: {
        QString tip = QStringLiteral("Started ") + QDateTime::fromMSecsSinceEpoch(run.startedAt).toString(Qt::ISODate);
        if (run.endedAt)
          tip += QStringLiteral("\nEnded ") + QDateTime::fromMSecsSinceEpoch(*run.endedAt).toString(Qt::ISODate);
        return tip;
      }
      default: return {};
    }
  }
  return {};
}

QVariant HistoryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return QAbstractTableModel::headerData(section, orientation, role);
  if (role == Qt::DisplayRole) {
    switch (section) {
      case Id: return QStringLiteral("#");
      case Name: return QStringLiteral("Name");
      case Pair: return QStringLiteral("Teacher → student");
      case Switches: return QStringLiteral("Switches");
      case Status: return QStringLiteral("Status");
      case Best: return QStringLiteral("Best top-1");
      case Last: return QStringLiteral("Last top-1");
      case Epochs: return QStringLiteral("Epochs");
      case Duration: return QStringLiteral("Duration");
      case Device: return QStringLiteral("Device");
      case Date: return QStringLiteral("Started");
      case Tags: return QStringLiteral("Tags");
      default: return {};
    }
  }
  if (role == Qt::ToolTipRole) {
    switch (section) {
      case Id: return QStringLiteral("Run id in the store");
      case Pair: return QStringLiteral("Teacher -> student (the network alone for a teacher run)");
      case Switches: return QStringLiteral("Method and ReviewKD switches (review, residual, ABF, HCL)");
      case Best: return QStringLiteral("Best test top-1 (%) over the epochs evaluated");
      case Last: return QStringLiteral("Test top-1 (%) of the last evaluated epoch");
      case Epochs: return QStringLiteral("Epochs done / configured");
      case Duration: return QStringLiteral("Wall time from start to end (to now while running)");
      case Date: return QStringLiteral("Start time (local)");
      default: return {};
    }
  }
  if (role == Qt::TextAlignmentRole) {
    switch (section) {
      case Id:
      case Best:
      case Last:
      case Epochs:
      case Duration: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      default: return QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    }
  }
  return {};
}

// --- filter and sort ----------------------------------------------------------------------------------------

HistoryFilterModel::HistoryFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(Qt::UserRole);
  setSortCaseSensitivity(Qt::CaseInsensitive);
  setDynamicSortFilter(true);
}

void HistoryFilterModel::setTextFilter(const QString& text) {
  const QStringList words = text.toLower().split(QLatin1Char(' '), Qt::SkipEmptyParts);
  if (words == m_words) return;
  m_words = words;
  invalidateFilter();
}

void HistoryFilterModel::updateFilter(QString& field, const QString& value) {
  if (value == field) return;
  field = value;
  invalidateFilter();
}

void HistoryFilterModel::setStatusFilter(const QString& status) { updateFilter(m_status, status); }

void HistoryFilterModel::setPairFilter(const QString& pair) { updateFilter(m_pair, pair); }

void HistoryFilterModel::setTagFilter(const QString& tag) { updateFilter(m_tag, tag); }

bool HistoryFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
  const auto* model = qobject_cast<const HistoryModel*>(sourceModel());
  if (!model || sourceParent.isValid() || sourceRow < 0 || sourceRow >= model->rowCount()) return false;
  const services::HistoryRow& r = model->row(sourceRow);
  if (!m_status.isEmpty() && qs(toString(r.run.status)) != m_status) return false;
  if (!m_pair.isEmpty() && qs(r.pair) != m_pair) return false;
  if (!m_tag.isEmpty() &&
      std::find(r.run.tags.begin(), r.run.tags.end(), m_tag.toStdString()) == r.run.tags.end())
    return false;
  if (m_words.isEmpty()) return true;

  QString haystack = qs(r.run.name) + QLatin1Char('\n') + qs(r.pair) + QLatin1Char('\n') + qs(r.switches) +
                     QLatin1Char('\n') + qs(rkd::services::deviceText(r.run));
  for (const auto& t : r.run.tags) haystack += QLatin1Char('\n') + qs(t);
  haystack = haystack.toLower();
  const QString id = QString::number(r.run.id);
  for (const QString& w : m_words) {
    if (haystack.contains(w)) continue;
    if (w == id || w == QLatin1Char('#') + id) continue;
    return false;
  }
  return true;
}

bool HistoryFilterModel::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  const QVariant a = left.data(Qt::UserRole);
  const QVariant b = right.data(Qt::UserRole);
  const auto numeric = [](const QVariant& v) {
    switch (v.metaType().id()) {
      case QMetaType::Int:
      case QMetaType::LongLong:
      case QMetaType::Double: return true;
      default: return false;
    }
  };
  if (numeric(a) && numeric(b)) {
    const double x = a.toDouble(), y = b.toDouble();
    if (x != y) return x < y;
  } else {
    const int c = QString::compare(a.toString(), b.toString(), Qt::CaseInsensitive);
    if (c != 0) return c < 0;
  }
  // Ties: by run id, so the order is stable across refreshes.
  return left.data(HistoryModel::RunIdRole).toLongLong() < right.data(HistoryModel::RunIdRole).toLongLong();
}

}  // namespace rkd::gui
