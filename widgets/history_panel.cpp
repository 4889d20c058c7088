#include "widgets/history_panel.h"

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QSplitter>
#include <QStyle>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <algorithm>
#include <functional>
#include <set>

#include "core/services/run_history.h"
#include "widgets/config_diff_view.h"
#include "widgets/history_model.h"
#include "widgets/history_status_line.h"
#include "widgets/history_text.h"
#include "widgets/run_actions.h"
#include "widgets/run_detail_dialog.h"
#include "widgets/run_overlay_view.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

constexpr int kPollMs = 2000;

}  // namespace

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
  m_model = new HistoryModel(this);
  m_proxy = new HistoryFilterModel(this);
  m_proxy->setSourceModel(m_model);
  m_status = new HistoryStatusLine(this);  // every part reports here; laid out last, under the comparison
  createActions();
  buildUi();

  m_pollTimer = new QTimer(this);
  m_pollTimer->setInterval(kPollMs);
  connect(m_pollTimer, &QTimer::timeout, this, [this] {
    if (isVisible()) refreshIfChanged();
  });
  m_pollTimer->start();

  updateActions();
  updateComparison();
  updateCountLabel();
}

HistoryPanel::~HistoryPanel() {
  m_pollTimer->stop();
  m_actions->closeDetailDialogs();  // they hold a reference to m_store
}

// --- construction -------------------------------------------------------------------------------------------

void HistoryPanel::createActions() {
  m_refreshAction = addPanelAction(this, QStringLiteral("Refresh"), QStringLiteral("Re-read the run store (F5)"),
                                   QStyle::SP_BrowserReload);
  m_refreshAction->setShortcut(QKeySequence::Refresh);
  m_compareAction = addPanelAction(this, QStringLiteral("Compare"),
                                   QStringLiteral("Overlay the curves and diff the configs of the selected runs"),
                                   QStyle::SP_FileDialogContentsView);
  m_actions = new RunActions(this, m_status);
  connect(m_actions, &RunActions::useAsTeacherRequested, this, &HistoryPanel::useAsTeacherRequested);
  connect(m_actions, &RunActions::resumeRequested, this, &HistoryPanel::resumeRequested);
  connect(m_actions, &RunActions::followRequested, this, &HistoryPanel::followRequested);

  auto* find = new QAction(this);
  find->setShortcut(QKeySequence::Find);
  find->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  addAction(find);
  connect(find, &QAction::triggered, this, [this] {
    m_filterEdit->setFocus();
    m_filterEdit->selectAll();
  });

  connect(m_refreshAction, &QAction::triggered, this, [this] { refresh(); });
  connect(m_compareAction, &QAction::triggered, this, [this] { showComparison(); });
}

void HistoryPanel::buildUi() {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->setSpacing(6);

  auto* toolbar = new QToolBar(this);
  toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  toolbar->setIconSize(QSize(16, 16));
  toolbar->addAction(m_refreshAction);
  toolbar->addSeparator();
  toolbar->addAction(m_compareAction);
  toolbar->addAction(m_actions->detailsAction());
  toolbar->addSeparator();
  toolbar->addAction(m_actions->tagsAction());
  toolbar->addAction(m_actions->noteAction());
  toolbar->addAction(m_actions->exportAction());
  toolbar->addAction(m_actions->weightsAction());
  toolbar->addAction(m_actions->onnxAction());
  toolbar->addAction(m_actions->deleteAction());
  toolbar->addSeparator();
  toolbar->addAction(m_actions->useAsTeacherAction());
  toolbar->addAction(m_actions->resumeAction());
  toolbar->addAction(m_actions->followAction());
  layout->addWidget(toolbar);

  // Filters.
  auto* filters = new QHBoxLayout;
  m_filterEdit = new QLineEdit(this);
  m_filterEdit->setPlaceholderText(QStringLiteral("Filter: name, pair, switches, tags, device, #id (Ctrl+F)"));
  m_filterEdit->setClearButtonEnabled(true);
  m_filterEdit->setMinimumWidth(260);
  filters->addWidget(m_filterEdit, 2);

  m_statusFilter = new QComboBox(this);
  m_statusFilter->addItem(QStringLiteral("All statuses"), QString());
  for (RunStatus s : {RunStatus::Running, RunStatus::Finished, RunStatus::Stopped, RunStatus::Failed, RunStatus::Diverged,
                      RunStatus::Interrupted}) {
    m_statusFilter->addItem(HistoryModel::statusText(s), qs(toString(s)));
    m_statusFilter->setItemData(m_statusFilter->count() - 1, HistoryModel::statusColor(s), Qt::ForegroundRole);
  }
  m_statusFilter->setToolTip(QStringLiteral("Show only runs with this status"));
  filters->addWidget(m_statusFilter);

  m_pairFilter = new QComboBox(this);
  m_pairFilter->addItem(QStringLiteral("All pairs"), QString());
  m_pairFilter->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_pairFilter->setMinimumContentsLength(16);
  m_pairFilter->setToolTip(QStringLiteral("Show only runs of this teacher -> student pair"));
  filters->addWidget(m_pairFilter);

  m_tagFilter = new QComboBox(this);
  m_tagFilter->addItem(QStringLiteral("All tags"), QString());
  m_tagFilter->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_tagFilter->setMinimumContentsLength(10);
  m_tagFilter->setToolTip(QStringLiteral("Show only runs with this tag"));
  filters->addWidget(m_tagFilter);

  m_countLabel = new QLabel(this);
  m_countLabel->setMinimumWidth(m_countLabel->fontMetrics().horizontalAdvance(QStringLiteral("0000 of 0000 runs")));
  m_countLabel->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  filters->addWidget(m_countLabel);
  layout->addLayout(filters);

  const auto filterChanged = [this] {
    updateCountLabel();
    onSelectionChanged();  // rows filtered out leave the selection
  };
  connect(m_filterEdit, &QLineEdit::textChanged, this, [this, filterChanged](const QString& text) {
    m_proxy->setTextFilter(text);
    filterChanged();
  });
  connect(m_statusFilter, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, filterChanged] {
    m_proxy->setStatusFilter(m_statusFilter->currentData().toString());
    filterChanged();
  });
  connect(m_pairFilter, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, filterChanged] {
    m_proxy->setPairFilter(m_pairFilter->currentData().toString());
    filterChanged();
  });
  connect(m_tagFilter, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, filterChanged] {
    m_proxy->setTagFilter(m_tagFilter->currentData().toString());
    filterChanged();
  });

  // Table.
  m_splitter = new QSplitter(Qt::Vertical, this);
  m_splitter->setChildrenCollapsible(true);
  m_table = new QTableView(m_splitter);
  m_table->setModel(m_proxy);
  m_table->setSortingEnabled(true);
  m_table->sortByColumn(HistoryModel::Date, Qt::DescendingOrder);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setAlternatingRowColors(true);
  m_table->setWordWrap(false);
  m_table->setTextElideMode(Qt::ElideRight);
  m_table->setContextMenuPolicy(Qt::CustomContextMenu);
  m_table->verticalHeader()->setVisible(false);
  m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 8);
  m_table->horizontalHeader()->setHighlightSections(false);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->horizontalHeader()->setSectionsMovable(true);
  m_table->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  {
    // Widths that fit typical values before the first data arrives.
    const QFontMetrics fm = m_table->fontMetrics();
    const auto w = [&](const char* sample) { return fm.horizontalAdvance(QString::fromUtf8(sample)) + 24; };
    QHeaderView* h = m_table->horizontalHeader();
    h->resizeSection(HistoryModel::Id, w("000"));
    h->resizeSection(HistoryModel::Name, w("rkd resnet56 s1"));
    h->resizeSection(HistoryModel::Pair, w("resnet56 -> resnet20"));
    h->resizeSection(HistoryModel::Switches, w("review residual HCL"));
    h->resizeSection(HistoryModel::Status, w("Interrupted"));
    h->resizeSection(HistoryModel::Best, w("Best top-1"));
    h->resizeSection(HistoryModel::Last, w("Last top-1"));
    h->resizeSection(HistoryModel::Epochs, w("240 / 240"));
    h->resizeSection(HistoryModel::Duration, w("10 h 00 min"));
    h->resizeSection(HistoryModel::Device, w("cuda:0"));
    h->resizeSection(HistoryModel::Date, w("2024-12-31 23:59"));
  }
  m_splitter->addWidget(m_table);
  {
    // Keys that act on the selected rows only while the table has the focus (Delete in a text field edits it).
    auto* open = new QAction(m_table);
    open->setShortcuts({QKeySequence(Qt::Key_Return), QKeySequence(Qt::Key_Enter)});
    open->setShortcutContext(Qt::WidgetShortcut);
    m_table->addAction(open);
    connect(open, &QAction::triggered, this, [this] { m_actions->openDetailOfSelected(); });
    auto* remove = new QAction(m_table);
    remove->setShortcut(QKeySequence::Delete);
    remove->setShortcutContext(Qt::WidgetShortcut);
    m_table->addAction(remove);
    connect(remove, &QAction::triggered, this, [this] {
      if (m_actions->deleteAction()->isEnabled()) deleteSelected(true);
    });
  }

  connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { onSelectionChanged(); });
  connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
    const QModelIndex src = m_proxy->mapToSource(index);
    if (src.isValid()) openDetail(m_model->runId(src.row()));
  });
  connect(m_table, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) { showContextMenu(pos); });

  // Comparison: overlay plot and config diff side by side.
  auto* compare = new QSplitter(Qt::Horizontal, m_splitter);
  m_overlay = new RunOverlayView(m_model, m_status, compare);
  connect(m_overlay, &RunOverlayView::settingsChanged, this, [this] { m_overlay->plotRuns(m_store.get(), m_lastSelection); });
  m_diff = new ConfigDiffView(m_status, compare);
  // The diff's summary line as high as the overlay's metric bar: both start at the same height.
  m_diff->summaryLabel()->setMinimumHeight(m_overlay->metricCombo()->sizeHint().height());
  compare->addWidget(m_overlay);
  compare->addWidget(m_diff);
  compare->setStretchFactor(0, 3);
  compare->setStretchFactor(1, 2);
  m_splitter->addWidget(compare);
  m_splitter->setStretchFactor(0, 3);
  m_splitter->setStretchFactor(1, 2);
  layout->addWidget(m_splitter, 1);

  layout->addWidget(m_status);
}

// --- parts --------------------------------------------------------------------------------------------------

QCustomPlot* HistoryPanel::overlayPlot() const { return m_overlay->plot(); }
QComboBox* HistoryPanel::overlayMetric() const { return m_overlay->metricCombo(); }
QDoubleSpinBox* HistoryPanel::overlaySmoothing() const { return m_overlay->smoothingSpin(); }
QTableWidget* HistoryPanel::diffTable() const { return m_diff->table(); }
QLabel* HistoryPanel::diffLabel() const { return m_diff->summaryLabel(); }
QLabel* HistoryPanel::statusLabel() const { return m_status; }

QAction* HistoryPanel::tagsAction() const { return m_actions->tagsAction(); }
QAction* HistoryPanel::noteAction() const { return m_actions->noteAction(); }
QAction* HistoryPanel::deleteAction() const { return m_actions->deleteAction(); }
QAction* HistoryPanel::exportAction() const { return m_actions->exportAction(); }
QAction* HistoryPanel::weightsAction() const { return m_actions->weightsAction(); }
QAction* HistoryPanel::onnxAction() const { return m_actions->onnxAction(); }
QAction* HistoryPanel::detailsAction() const { return m_actions->detailsAction(); }
QAction* HistoryPanel::useAsTeacherAction() const { return m_actions->useAsTeacherAction(); }
QAction* HistoryPanel::resumeAction() const { return m_actions->resumeAction(); }
QAction* HistoryPanel::followAction() const { return m_actions->followAction(); }

bool HistoryPanel::exportSelectionCsv(const QString& path) { return m_actions->exportSelectionCsv(path); }
bool HistoryPanel::deleteSelected(bool askConfirmation) { return m_actions->deleteSelected(askConfirmation); }
void HistoryPanel::addTagToSelected(const QString& tag) { m_actions->addTagToSelected(tag); }
void HistoryPanel::removeTagFromSelected(const QString& tag) { m_actions->removeTagFromSelected(tag); }
void HistoryPanel::addNoteToSelected(const QString& text) { m_actions->addNoteToSelected(text); }
bool HistoryPanel::exportWeights(int64_t runId, const QString& path, bool best) {
  return m_actions->exportWeights(runId, path, best);
}
bool HistoryPanel::exportOnnx(int64_t runId, const QString& path, bool best) { return m_actions->exportOnnx(runId, path, best); }
void HistoryPanel::openDetail(int64_t runId) { m_actions->openDetail(runId); }
QList<RunDetailDialog*> HistoryPanel::openDetailDialogs() const { return m_actions->openDetailDialogs(); }

// --- store --------------------------------------------------------------------------------------------------

void HistoryPanel::setInteractive(bool interactive) {
  m_interactive = interactive;
  m_status->setPopups(interactive);
}

void HistoryPanel::setStorePath(const QString& path) {
  m_actions->closeDetailDialogs();
  m_store.reset();
  m_storePath = path;
  m_signature = 0;
  m_openError.clear();
  if (!path.isEmpty()) {
    try {
      m_store = std::make_shared<services::RunHistory>(path.toStdString());
    } catch (...) {
      m_openError = QString::fromStdString(describeCurrentError().full());
    }
    if (!m_openError.isEmpty())
      m_status->showMessage(QStringLiteral("Opening the run store %1: %2").arg(path, m_openError), true);
  }
  refresh();
  if (m_store) m_status->showMessage(QStringLiteral("Store: %1").arg(path));
}

QString HistoryPanel::storePath() const { return m_storePath; }

size_t HistoryPanel::signatureOf(const std::vector<RunSummary>& runs) {
  size_t h = std::hash<size_t>()(runs.size());
  const auto mix = [&h](size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  for (const RunSummary& r : runs) {
    mix(std::hash<int64_t>()(r.id));
    mix(static_cast<size_t>(r.status));
    mix(std::hash<int>()(r.epochsDone));
    mix(std::hash<double>()(r.bestTop1.value_or(-1)));
    mix(std::hash<double>()(r.lastTop1.value_or(-1)));
    mix(std::hash<int64_t>()(r.endedAt.value_or(-1)));
    mix(std::hash<std::string>()(r.name));
    mix(std::hash<std::string>()(r.message));
    for (const auto& t : r.tags) mix(std::hash<std::string>()(t));
  }
  return h;
}

void HistoryPanel::refresh() {
  const std::vector<int64_t> keep = m_lastSelection;
  std::vector<services::HistoryRow> rows;
  QStringList tags;
  if (m_store) {
    const bool ok = m_status->attempt(QStringLiteral("Reading the run history"), [&] {
      rows = m_store->rows();
      for (const auto& t : m_store->allTags()) tags << qs(t);
    });
    if (!ok) return;
  }
  std::vector<RunSummary> summaries;
  summaries.reserve(rows.size());
  for (const auto& r : rows) summaries.push_back(r.run);
  m_signature = signatureOf(summaries);
  m_allTags = tags;

  m_restoring = true;
  m_model->setRows(std::move(rows));
  updateFilterCombos();
  if (selectedRunIds() != keep) selectRuns(keep);
  m_restoring = false;

  if (!m_columnsSized && m_model->rowCount() > 0) {
    m_columnsSized = true;
    QHeaderView* h = m_table->horizontalHeader();
    for (int c = 0; c < HistoryModel::ColumnCount - 1; ++c) {
      const int before = h->sectionSize(c);
      m_table->resizeColumnToContents(c);
      // Never narrower than the defaults, never so wide that one long name hides the other columns.
      h->resizeSection(c, std::clamp(h->sectionSize(c), before, std::max(before, 260)));
    }
  }

  updateCountLabel();
  const std::vector<int64_t> ids = selectedRunIds();
  m_lastSelection = ids;
  updateActions();
  updateComparison();
  if (ids != keep) Q_EMIT selectionChanged();
}

bool HistoryPanel::refreshIfChanged() {
  if (!m_store) return false;
  std::vector<RunSummary> runs;
  if (!m_status->attempt(QStringLiteral("Reading the run list"), [&] { runs = m_store->list(); }, false)) return false;
  if (signatureOf(runs) != m_signature) {
    refresh();
    return true;
  }
  m_model->tickRunning();
  // A selected run that is still training: its overlaid curve grows between epochs.
  for (int64_t id : m_lastSelection) {
    const services::HistoryRow* r = m_model->findRun(id);
    if (r && r->run.status == RunStatus::Running) {
      m_overlay->plotRuns(m_store.get(), m_lastSelection);
      break;
    }
  }
  return false;
}

void HistoryPanel::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  refreshIfChanged();
}

void HistoryPanel::updateFilterCombos() {
  const auto rebuild = [](QComboBox* combo, const QStringList& values) {
    const QString current = combo->currentData().toString();
    QSignalBlocker block(combo);
    while (combo->count() > 1) combo->removeItem(1);
    for (const QString& v : values) combo->addItem(v, v);
    // Keep an active filter even when no run has its value any more (it then shows no rows, visibly).
    if (!current.isEmpty() && !values.contains(current)) combo->addItem(current, current);
    combo->setCurrentIndex(std::max(0, combo->findData(current)));
  };
  std::set<QString> pairs;
  for (const auto& r : m_model->rows()) pairs.insert(qs(r.pair));
  rebuild(m_pairFilter, QStringList(pairs.begin(), pairs.end()));
  rebuild(m_tagFilter, m_allTags);
}

void HistoryPanel::updateCountLabel() {
  const int shown = m_proxy->rowCount();
  const int total = m_model->rowCount();
  m_countLabel->setText(shown == total ? runCount(total) : QStringLiteral("%1 of %2 runs").arg(shown).arg(total));
}

// --- selection ----------------------------------------------------------------------------------------------

std::vector<int64_t> HistoryPanel::selectedRunIds() const {
  QModelIndexList rows = m_table->selectionModel()->selectedRows(0);
  std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
  std::vector<int64_t> ids;
  for (const QModelIndex& index : rows) {
    const QModelIndex src = m_proxy->mapToSource(index);
    if (src.isValid()) ids.push_back(m_model->runId(src.row()));
  }
  return ids;
}

void HistoryPanel::selectRuns(const std::vector<int64_t>& ids) {
  QItemSelection selection;
  QModelIndex first;
  for (int64_t id : ids) {
    const int row = m_model->rowOfRun(id);
    if (row < 0) continue;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid()) continue;
    selection.select(index, index.siblingAtColumn(HistoryModel::ColumnCount - 1));
    if (!first.isValid() || index.row() < first.row()) first = index;
  }
  QItemSelectionModel* sm = m_table->selectionModel();
  sm->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  const QModelIndex current = sm->currentIndex();
  if (first.isValid() && (!current.isValid() || !sm->isRowSelected(current.row(), QModelIndex())))
    sm->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
}

int HistoryPanel::visibleRowCount() const { return m_proxy->rowCount(); }

void HistoryPanel::onSelectionChanged() {
  if (m_restoring) return;
  const std::vector<int64_t> ids = selectedRunIds();
  updateActions();
  if (ids == m_lastSelection) return;
  m_lastSelection = ids;
  updateComparison();
  Q_EMIT selectionChanged();
}

void HistoryPanel::updateActions() {
  const bool store = m_store != nullptr;
  m_refreshAction->setEnabled(store);
  m_compareAction->setEnabled(store && selectedRunIds().size() >= 2);
  m_actions->updateEnabled();
}

// --- comparison ---------------------------------------------------------------------------------------------

void HistoryPanel::updateComparison() {
  m_overlay->showRuns(m_store.get(), m_lastSelection);
  m_diff->showRuns(m_store.get(), m_lastSelection);
}

void HistoryPanel::showComparison() {
  const QList<int> sizes = m_splitter->sizes();
  if (sizes.size() == 2 && sizes[1] < 120) {
    const int total = sizes[0] + sizes[1];
    m_splitter->setSizes({total * 3 / 5, total * 2 / 5});
  }
  updateComparison();
}

// --- context menu -------------------------------------------------------------------------------------------

void HistoryPanel::showContextMenu(const QPoint& pos) {
  const QModelIndex index = m_table->indexAt(pos);
  if (index.isValid() && !m_table->selectionModel()->isRowSelected(index.row(), QModelIndex())) {
    const QModelIndex src = m_proxy->mapToSource(index);
    selectRuns({m_model->runId(src.row())});
  }
  QMenu menu(this);
  menu.addAction(m_actions->detailsAction());
  menu.addAction(m_compareAction);
  menu.addSeparator();
  menu.addAction(m_actions->useAsTeacherAction());
  menu.addAction(m_actions->resumeAction());
  menu.addAction(m_actions->followAction());
  menu.addSeparator();
  menu.addAction(m_actions->tagsAction());
  menu.addAction(m_actions->noteAction());
  menu.addAction(m_actions->copyConfigAction());
  menu.addAction(m_actions->exportAction());
  menu.addAction(m_actions->weightsAction());
  menu.addAction(m_actions->onnxAction());
  menu.addSeparator();
  menu.addAction(m_actions->deleteAction());
  menu.addSeparator();
  menu.addAction(m_refreshAction);
  menu.exec(m_table->viewport()->mapToGlobal(pos));
}

}  // namespace rkd::gui
