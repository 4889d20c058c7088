#include "widgets/config_diff_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "widgets/history_status_line.h"
#include "widgets/history_text.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

ConfigDiffView::ConfigDiffView(HistoryStatusLine* status, QWidget* parent) : QWidget(parent), m_status(status) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  m_label = new QLabel(this);
  m_label->setWordWrap(true);
  layout->addWidget(m_label);
  m_table = new QTableWidget(this);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setAlternatingRowColors(true);
  m_table->setWordWrap(false);
  m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 8);
  m_table->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  m_table->verticalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  layout->addWidget(m_table, 1);
}

void ConfigDiffView::showRuns(rkd::services::RunHistory* store, const std::vector<int64_t>& runs) {
  m_table->clear();
  m_table->setRowCount(0);
  m_table->setColumnCount(0);
  if (runs.size() < 2 || !store) {
    m_label->setText(QStringLiteral("Select two or more runs to compare their configs"));
    return;
  }
  std::vector<nlohmann::json> configs;
  QStringList headers;
  const bool ok = m_status->attempt(
      QStringLiteral("Reading configs"),
      [&] {
        for (int64_t id : runs) {
          const auto run = store->run(id);
          nlohmann::json config = run ? run->config : nlohmann::json::object();
          // The name always differs and the column header already shows it.
          if (config.is_object()) config.erase("name");
          configs.push_back(std::move(config));
          headers << runLabel(id, run ? run->name : std::string());
        }
      },
      false);
  if (!ok) {
    m_label->setText(QStringLiteral("Could not read the configs of the selected runs"));
    return;
  }
  const std::vector<services::DiffRow> diff = services::configDiff(configs);

  const int columns = static_cast<int>(runs.size());
  m_table->setColumnCount(columns);
  m_table->setRowCount(static_cast<int>(diff.size()));
  m_table->setHorizontalHeaderLabels(headers);
  const QColor changed(255, 236, 179);
  for (size_t r = 0; r < diff.size(); ++r) {
    const int row = static_cast<int>(r);
    auto* field = new QTableWidgetItem(qs(diff[r].field));
    m_table->setVerticalHeaderItem(row, field);
    for (int c = 0; c < columns && c < static_cast<int>(diff[r].values.size()); ++c) {
      const std::string& value = diff[r].values[static_cast<size_t>(c)];
      auto* item = new QTableWidgetItem(value.empty() ? QStringLiteral("–") : qs(value));
      item->setToolTip(value.empty() ? QStringLiteral("%1: empty or absent in this config").arg(qs(diff[r].field))
                                     : QStringLiteral("%1 = %2").arg(qs(diff[r].field), qs(value)));
      if (value.empty()) item->setForeground(QColor(150, 150, 150));
      if (c > 0 && value != diff[r].values.front()) item->setBackground(changed);
      m_table->setItem(row, c, item);
    }
  }
  for (int c = 0; c < columns; ++c) {
    m_table->resizeColumnToContents(c);
    m_table->setColumnWidth(c, std::clamp(m_table->columnWidth(c), 80, 240));
  }
  m_label->setText(diff.empty()
                       ? QStringLiteral("The %1 selected runs have the same config (names aside)").arg(columns)
                       : QStringLiteral("%1 differ in %2 (highlighted: differs from the first run)")
                             .arg(runCount(columns),
                                  plural(static_cast<int>(diff.size()), QStringLiteral("field"), QStringLiteral("fields"))));
}

}  // namespace rkd::gui
