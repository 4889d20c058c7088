#include "widgets/history_panel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QStyle>
#include <QTableView>
#include <QTableWidget>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <qcustomplot.h>

#include "core/studio/studio.h"
#include "widgets/history_model.h"
#include "widgets/plot_style.h"
#include "widgets/run_detail_dialog.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QString runLabel(int64_t id, const std::string& name) { return QStringLiteral("#%1 %2").arg(id).arg(qs(name)); }

QString plural(int n, const QString& one, const QString& many) {
  return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
}

/// Metrics offered in the overlay even before a run is selected, in this order; keys the selected runs logged
/// besides these follow, sorted.
const QStringList& preferredMetrics() {
  static const QStringList keys{QStringLiteral("test/top1"),        QStringLiteral("test/top5"),
                                QStringLiteral("test/loss"),        QStringLiteral("val/top1"),
                                QStringLiteral("epoch/train_top1"), QStringLiteral("epoch/train_loss"),
                                QStringLiteral("train/loss"),       QStringLiteral("train/ce"),
                                QStringLiteral("train/review"),     QStringLiteral("train/kd"),
                                QStringLiteral("lr")};
  return keys;
}

constexpr int kPollMs = 2000;

}  // namespace

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
  m_model = new HistoryModel(this);
  m_proxy = new HistoryFilterModel(this);
  m_proxy->setSourceModel(m_model);
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
  closeDetailDialogs();  // they hold a reference to m_store
}

// --- construction -------------------------------------------------------------------------------------------

void HistoryPanel::createActions() {
  const auto make = [this](const QString& text, const QString& tip, QStyle::StandardPixmap icon = QStyle::SP_CustomBase) {
    auto* a = new QAction(text, this);
    a->setToolTip(tip);
    a->setStatusTip(tip);
    if (icon != QStyle::SP_CustomBase) a->setIcon(style()->standardIcon(icon));
    a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(a);  // shortcuts work anywhere in the panel
    return a;
  };
  m_refreshAction = make(QStringLiteral("Refresh"), QStringLiteral("Re-read the run store (F5)"), QStyle::SP_BrowserReload);
  m_refreshAction->setShortcut(QKeySequence::Refresh);
  m_compareAction = make(QStringLiteral("Compare"), QStringLiteral("Overlay the curves and diff the configs of the selected runs"),
                         QStyle::SP_FileDialogContentsView);
  m_detailsAction = make(QStringLiteral("Details"), QStringLiteral("Config, curves, per-class accuracy, checkpoints, notes (Enter)"),
                         QStyle::SP_FileDialogDetailedView);
  m_tagsAction = make(QStringLiteral("Tags…"), QStringLiteral("Add or remove tags of the selected runs"));
  m_noteAction = make(QStringLiteral("Note…"), QStringLiteral("Add a note to the selected runs"));
  m_exportAction = make(QStringLiteral("Export CSV…"), QStringLiteral("Write the metrics of the selected runs as CSV"),
                        QStyle::SP_DialogSaveButton);
  m_weightsAction = make(QStringLiteral("Export weights…"),
                         QStringLiteral("Write the run's trained network (no review head) as a PyTorch state dict"));
  m_onnxAction = make(QStringLiteral("Export ONNX…"),
                      QStringLiteral("Write the run's trained network as an ONNX model for inference (BatchNorms folded)"));
  m_deleteAction = make(QStringLiteral("Delete"), QStringLiteral("Delete the selected runs from the store (Del)"),
                        QStyle::SP_TrashIcon);
  m_useAsTeacherAction = make(QStringLiteral("Use as teacher"), QStringLiteral("Start a new run that distils from this finished run"),
                              QStyle::SP_ArrowForward);
  m_resumeAction = make(QStringLiteral("Resume"), QStringLiteral("Continue this stopped or interrupted run"), QStyle::SP_MediaPlay);
  m_copyConfigAction = make(QStringLiteral("Copy config JSON"), QStringLiteral("Copy the run's full config to the clipboard"));

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
  connect(m_detailsAction, &QAction::triggered, this, [this] { openDetailOfSelected(); });
  connect(m_tagsAction, &QAction::triggered, this, [this] { editTagsOfSelected(); });
  connect(m_noteAction, &QAction::triggered, this, [this] { noteOnSelected(); });
  connect(m_exportAction, &QAction::triggered, this, [this] { exportWithDialog(); });
  connect(m_weightsAction, &QAction::triggered, this, [this] { exportWeightsWithDialog(); });
  connect(m_onnxAction, &QAction::triggered, this, [this] { exportOnnxWithDialog(); });
  connect(m_deleteAction, &QAction::triggered, this, [this] { deleteSelected(true); });
  connect(m_useAsTeacherAction, &QAction::triggered, this, [this] { requestUseAsTeacher(); });
  connect(m_resumeAction, &QAction::triggered, this, [this] { requestResume(); });
  connect(m_copyConfigAction, &QAction::triggered, this, [this] { copyConfigOfSelected(); });
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
  toolbar->addAction(m_detailsAction);
  toolbar->addSeparator();
  toolbar->addAction(m_tagsAction);
  toolbar->addAction(m_noteAction);
  toolbar->addAction(m_exportAction);
  toolbar->addAction(m_weightsAction);
  toolbar->addAction(m_onnxAction);
  toolbar->addAction(m_deleteAction);
  toolbar->addSeparator();
  toolbar->addAction(m_useAsTeacherAction);
  toolbar->addAction(m_resumeAction);
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
    connect(open, &QAction::triggered, this, [this] { openDetailOfSelected(); });
    auto* remove = new QAction(m_table);
    remove->setShortcut(QKeySequence::Delete);
    remove->setShortcutContext(Qt::WidgetShortcut);
    m_table->addAction(remove);
    connect(remove, &QAction::triggered, this, [this] {
      if (m_deleteAction->isEnabled()) deleteSelected(true);
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

  auto* overlayBox = new QWidget(compare);
  auto* overlayLayout = new QVBoxLayout(overlayBox);
  overlayLayout->setContentsMargins(0, 0, 0, 0);
  auto* overlayBar = new QHBoxLayout;
  auto* overlayTitle = new QLabel(QStringLiteral("<b>Curves</b>"), overlayBox);
  overlayBar->addWidget(overlayTitle);
  m_overlayMetric = new QComboBox(overlayBox);
  m_overlayMetric->addItems(preferredMetrics());
  m_overlayMetric->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_overlayMetric->setMinimumContentsLength(14);
  m_overlayMetric->setToolTip(QStringLiteral("Metric to overlay; epoch-level metrics are plotted per epoch, per-step ones per step"));
  overlayBar->addWidget(m_overlayMetric);
  auto* smoothingLabel = new QLabel(QStringLiteral("Smoothing"), overlayBox);
  overlayBar->addWidget(smoothingLabel);
  m_smoothing = new QDoubleSpinBox(overlayBox);
  m_smoothing->setRange(0, 0.99);
  m_smoothing->setSingleStep(0.1);
  m_smoothing->setDecimals(2);
  m_smoothing->setValue(0.6);
  m_smoothing->setToolTip(QStringLiteral("Exponential moving average of per-step metrics (0 = raw values)"));
  overlayBar->addWidget(m_smoothing);
  overlayBar->addStretch(1);
  overlayLayout->addLayout(overlayBar);
  m_overlayPlot = new QCustomPlot(overlayBox);
  stylePlot(m_overlayPlot, QStringLiteral("epoch"), QStringLiteral("test/top1"));
  {
    // The legend sits right of the axes, at the top: with many runs it never hides a curve.
    auto* side = new QCPLayoutGrid;
    m_overlayPlot->plotLayout()->addElement(0, 1, side);
    m_overlayPlot->plotLayout()->setColumnStretchFactor(1, 0.001);
    m_overlayPlot->axisRect()->insetLayout()->take(m_overlayPlot->legend);
    side->addElement(0, 0, m_overlayPlot->legend);
    side->addElement(1, 0, new QCPLayoutElement(m_overlayPlot));
    side->setRowStretchFactor(0, 0.001);
    side->setMargins(QMargins(0, 8, 6, 0));
    m_overlayPlot->legend->setBorderPen(Qt::NoPen);
    m_overlayPlot->legend->setBrush(Qt::NoBrush);
  }
  m_overlayHint = new QCPItemText(m_overlayPlot);
  m_overlayHint->position->setType(QCPItemPosition::ptAxisRectRatio);
  m_overlayHint->position->setCoords(0.5, 0.5);
  m_overlayHint->setColor(QColor(120, 120, 120));
  m_overlayHint->setClipToAxisRect(false);
  overlayLayout->addWidget(m_overlayPlot, 1);
  connect(m_overlayMetric, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { updateOverlay(); });
  connect(m_smoothing, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] { updateOverlay(); });

  auto* diffBox = new QWidget(compare);
  auto* diffLayout = new QVBoxLayout(diffBox);
  diffLayout->setContentsMargins(0, 0, 0, 0);
  m_diffLabel = new QLabel(diffBox);
  m_diffLabel->setWordWrap(true);
  m_diffLabel->setMinimumHeight(m_overlayMetric->sizeHint().height());
  diffLayout->addWidget(m_diffLabel);
  m_diffTable = new QTableWidget(diffBox);
  m_diffTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_diffTable->setAlternatingRowColors(true);
  m_diffTable->setWordWrap(false);
  m_diffTable->verticalHeader()->setDefaultSectionSize(m_diffTable->fontMetrics().height() + 8);
  m_diffTable->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  m_diffTable->verticalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  diffLayout->addWidget(m_diffTable, 1);

  compare->addWidget(overlayBox);
  compare->addWidget(diffBox);
  compare->setStretchFactor(0, 3);
  compare->setStretchFactor(1, 2);
  m_splitter->addWidget(compare);
  m_splitter->setStretchFactor(0, 3);
  m_splitter->setStretchFactor(1, 2);
  layout->addWidget(m_splitter, 1);

  m_statusLabel = new QLabel(this);
  m_statusLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_statusLabel->setWordWrap(true);
  layout->addWidget(m_statusLabel);
}

// --- store --------------------------------------------------------------------------------------------------

template <typename F>
bool HistoryPanel::guarded(const QString& what, F&& f, bool popup) {
  try {
    f();
    return true;
  } catch (const UserError& e) {
    showMessage(what + QStringLiteral(": ") + qs(e.full()), true, popup);
  } catch (const std::exception& e) {
    showMessage(what + QStringLiteral(": ") + QString::fromUtf8(e.what()), true, popup);
  }
  return false;
}

void HistoryPanel::showMessage(const QString& text, bool error, bool popup) {
  m_statusLabel->setText(text);
  m_statusLabel->setStyleSheet(error ? QStringLiteral("color: #c81e1e;") : QString());
  if (error && popup && m_interactive && isVisible()) QMessageBox::warning(this, QStringLiteral("Run history"), text);
}

void HistoryPanel::setInteractive(bool interactive) { m_interactive = interactive; }

void HistoryPanel::setStorePath(const QString& path) {
  closeDetailDialogs();
  m_store.reset();
  m_storePath = path;
  m_signature = 0;
  if (!path.isEmpty()) {
    guarded(QStringLiteral("Opening the run store %1").arg(path),
            [&] { m_store = std::make_unique<RunStore>(path.toStdString()); });
  }
  refresh();
  if (m_store) showMessage(QStringLiteral("Store: %1").arg(path));
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
  std::vector<studio::HistoryRow> rows;
  QStringList tags;
  if (m_store) {
    const bool ok = guarded(QStringLiteral("Reading the run history"), [&] {
      rows = studio::historyRows(*m_store);
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
  if (!guarded(QStringLiteral("Reading the run list"), [&] { runs = m_store->listRuns(); }, false)) return false;
  if (signatureOf(runs) != m_signature) {
    refresh();
    return true;
  }
  m_model->tickRunning();
  // A selected run that is still training: its overlaid curve grows between epochs.
  for (int64_t id : m_lastSelection) {
    const studio::HistoryRow* r = rowOfRun(id);
    if (r && r->run.status == RunStatus::Running) {
      updateOverlay();
      break;
    }
  }
  return false;
}

void HistoryPanel::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  refreshIfChanged();
}

const studio::HistoryRow* HistoryPanel::rowOfRun(int64_t id) const {
  const int row = m_model->rowOfRun(id);
  return row < 0 ? nullptr : &m_model->row(row);
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
  m_countLabel->setText(shown == total ? plural(total, QStringLiteral("run"), QStringLiteral("runs"))
                                       : QStringLiteral("%1 of %2 runs").arg(shown).arg(total));
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
  const std::vector<int64_t> ids = selectedRunIds();
  const int n = static_cast<int>(ids.size());
  const studio::HistoryRow* single = n == 1 ? rowOfRun(ids.front()) : nullptr;
  const bool store = m_store != nullptr;
  int running = 0;
  for (int64_t id : ids)
    if (const auto* r = rowOfRun(id); r && r->run.status == RunStatus::Running) ++running;

  m_refreshAction->setEnabled(store);
  m_compareAction->setEnabled(store && n >= 2);
  m_detailsAction->setEnabled(store && n == 1);
  m_tagsAction->setEnabled(store && n >= 1);
  m_noteAction->setEnabled(store && n >= 1);
  m_exportAction->setEnabled(store && n >= 1);
  m_weightsAction->setEnabled(store && single && single->run.epochsDone > 0);
  m_onnxAction->setEnabled(m_weightsAction->isEnabled());
  m_deleteAction->setEnabled(store && n >= 1 && running < n);
  m_copyConfigAction->setEnabled(store && n == 1);

  const bool canTeach = single && single->run.status == RunStatus::Finished;
  m_useAsTeacherAction->setEnabled(store && canTeach);
  m_useAsTeacherAction->setToolTip(canTeach ? QStringLiteral("Start a new run that distils from %1").arg(runLabel(single->run.id, single->run.name))
                                            : QStringLiteral("Select one finished run to use it as the teacher of a new run"));
  const bool canResume =
      single && (single->run.status == RunStatus::Stopped || single->run.status == RunStatus::Interrupted);
  m_resumeAction->setEnabled(store && canResume);
  m_resumeAction->setToolTip(canResume ? QStringLiteral("Continue %1 from its last checkpoint").arg(runLabel(single->run.id, single->run.name))
                                       : QStringLiteral("Select one stopped or interrupted run to resume it"));
  m_deleteAction->setToolTip(running > 0 ? QStringLiteral("Delete the selected runs (running runs are kept: stop them first)")
                                         : QStringLiteral("Delete the selected runs from the store (Del)"));
}

// --- comparison ---------------------------------------------------------------------------------------------

void HistoryPanel::updateComparison() {
  updateMetricChoices();
  updateOverlay();
  updateDiff();
}

void HistoryPanel::showComparison() {
  const QList<int> sizes = m_splitter->sizes();
  if (sizes.size() == 2 && sizes[1] < 120) {
    const int total = sizes[0] + sizes[1];
    m_splitter->setSizes({total * 3 / 5, total * 2 / 5});
  }
  updateComparison();
}

void HistoryPanel::updateMetricChoices() {
  QString current = m_overlayMetric->currentText();
  if (current.isEmpty()) current = QStringLiteral("test/top1");
  QStringList keys = preferredMetrics();
  QStringList extra;
  if (m_store) {
    guarded(
        QStringLiteral("Reading metric names"),
        [&] {
          for (int64_t id : m_lastSelection)
            for (const auto& k : m_store->metricKeys(id)) {
              const QString key = qs(k);
              if (!keys.contains(key) && !extra.contains(key)) extra << key;
            }
        },
        false);
  }
  extra.sort();
  keys << extra;
  if (!keys.contains(current)) keys << current;
  QSignalBlocker block(m_overlayMetric);
  m_overlayMetric->clear();
  m_overlayMetric->addItems(keys);
  m_overlayMetric->setCurrentIndex(std::max(0, static_cast<int>(keys.indexOf(current))));
}

void HistoryPanel::updateOverlay() {
  m_overlayPlot->clearGraphs();
  const QString key = m_overlayMetric->currentText();
  struct Curve {
    int64_t id;
    QString label;
    MetricSeries series;
  };
  std::vector<Curve> curves;
  if (m_store) {
    guarded(
        QStringLiteral("Reading %1").arg(key),
        [&] {
          for (int64_t id : m_lastSelection) {
            const studio::HistoryRow* r = rowOfRun(id);
            curves.push_back({id, runLabel(id, r ? r->run.name : std::string()), m_store->metrics(id, key.toStdString())});
          }
        },
        false);
  }
  // Per-step metrics are plotted against the step, epoch-level ones (step == kEpochStep) against the epoch.
  bool perStep = false;
  for (const Curve& c : curves)
    for (int64_t step : c.series.steps)
      if (step != kEpochStep) {
        perStep = true;
        break;
      }

  int withData = 0;
  for (size_t i = 0; i < curves.size(); ++i) {
    const MetricSeries& s = curves[i].series;
    QVector<double> x, y;
    for (size_t p = 0; p < s.size(); ++p) {
      if ((s.steps[p] != kEpochStep) != perStep) continue;
      x << static_cast<double>(perStep ? s.steps[p] : s.epochs[p] + 1);  // epochs counted from 1, as in the live view
      y << s.values[p];
    }
    QCPGraph* g = addSeries(m_overlayPlot, curves[i].label, static_cast<int>(i));
    if (x.isEmpty()) {
      g->setName(curves[i].label + QStringLiteral(" (no data)"));
      continue;
    }
    ++withData;
    if (perStep) {
      g->setData(x, smoothed(y, m_smoothing->value()), true);
    } else {
      g->setData(x, y, true);
      if (x.size() <= 200) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    }
  }
  m_smoothing->setEnabled(perStep || curves.empty());
  m_overlayPlot->xAxis->setLabel(perStep ? QStringLiteral("step") : QStringLiteral("epoch"));
  m_overlayPlot->yAxis->setLabel(key);

  if (curves.empty())
    m_overlayHint->setText(QStringLiteral("Select runs in the table to overlay their curves"));
  else if (withData == 0)
    m_overlayHint->setText(QStringLiteral("No selected run logged %1").arg(key));
  m_overlayHint->setVisible(withData == 0);
  if (withData > 0) {
    m_overlayPlot->rescaleAxes(true);
    m_overlayPlot->xAxis->scaleRange(1.03, m_overlayPlot->xAxis->range().center());
    m_overlayPlot->yAxis->scaleRange(1.08, m_overlayPlot->yAxis->range().center());
  } else {
    m_overlayPlot->xAxis->setRange(0, 1);
    m_overlayPlot->yAxis->setRange(0, 1);
  }
  m_overlayPlot->replot(QCustomPlot::rpQueuedReplot);
}

void HistoryPanel::updateDiff() {
  m_diffTable->clear();
  m_diffTable->setRowCount(0);
  m_diffTable->setColumnCount(0);
  const std::vector<int64_t> ids = m_lastSelection;
  if (ids.size() < 2 || !m_store) {
    m_diffLabel->setText(QStringLiteral("Select two or more runs to compare their configs"));
    return;
  }
  std::vector<nlohmann::json> configs;
  QStringList headers;
  const bool ok = guarded(
      QStringLiteral("Reading configs"),
      [&] {
        for (int64_t id : ids) {
          const auto run = m_store->getRun(id);
          nlohmann::json config = run ? run->config : nlohmann::json::object();
          // The name always differs and the column header already shows it.
          if (config.is_object()) config.erase("name");
          configs.push_back(std::move(config));
          headers << runLabel(id, run ? run->name : std::string());
        }
      },
      false);
  if (!ok) {
    m_diffLabel->setText(QStringLiteral("Could not read the configs of the selected runs"));
    return;
  }
  const std::vector<studio::DiffRow> diff = studio::configDiff(configs);

  const int columns = static_cast<int>(ids.size());
  m_diffTable->setColumnCount(columns);
  m_diffTable->setRowCount(static_cast<int>(diff.size()));
  m_diffTable->setHorizontalHeaderLabels(headers);
  const QColor changed(255, 236, 179);
  for (size_t r = 0; r < diff.size(); ++r) {
    const int row = static_cast<int>(r);
    auto* field = new QTableWidgetItem(qs(diff[r].field));
    m_diffTable->setVerticalHeaderItem(row, field);
    for (int c = 0; c < columns && c < static_cast<int>(diff[r].values.size()); ++c) {
      const std::string& value = diff[r].values[static_cast<size_t>(c)];
      auto* item = new QTableWidgetItem(value.empty() ? QStringLiteral("–") : qs(value));
      item->setToolTip(value.empty() ? QStringLiteral("%1: empty or absent in this config").arg(qs(diff[r].field))
                                     : QStringLiteral("%1 = %2").arg(qs(diff[r].field), qs(value)));
      if (value.empty()) item->setForeground(QColor(150, 150, 150));
      if (c > 0 && value != diff[r].values.front()) item->setBackground(changed);
      m_diffTable->setItem(row, c, item);
    }
  }
  for (int c = 0; c < columns; ++c) {
    m_diffTable->resizeColumnToContents(c);
    m_diffTable->setColumnWidth(c, std::clamp(m_diffTable->columnWidth(c), 80, 240));
  }
  m_diffLabel->setText(diff.empty()
                           ? QStringLiteral("The %1 selected runs have the same config (names aside)").arg(columns)
                           : QStringLiteral("%1 differ in %2 (highlighted: differs from the first run)")
                                 .arg(plural(columns, QStringLiteral("run"), QStringLiteral("runs")),
                                      plural(static_cast<int>(diff.size()), QStringLiteral("field"), QStringLiteral("fields"))));
}

// --- actions ------------------------------------------------------------------------------------------------

bool HistoryPanel::exportSelectionCsv(const QString& path) {
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store) {
    showMessage(QStringLiteral("No run store is open"), true);
    return false;
  }
  if (ids.empty()) {
    showMessage(QStringLiteral("Select the runs whose metrics to export"), true);
    return false;
  }
  if (path.isEmpty()) {
    showMessage(QStringLiteral("No file name given for the CSV export"), true);
    return false;
  }
  if (!guarded(QStringLiteral("Exporting CSV"), [&] { m_store->exportCsv(ids, path.toStdString()); })) return false;
  showMessage(QStringLiteral("Exported the metrics of %1 to %2")
                  .arg(plural(static_cast<int>(ids.size()), QStringLiteral("run"), QStringLiteral("runs")), path));
  return true;
}

bool HistoryPanel::exportWeights(int64_t runId, const QString& path, bool best) {
  if (!m_store) return false;
  const studio::WeightsExport e = studio::exportWeights(*m_store, runId, path.toStdString(), best);  // never throws
  if (!e.ok) {
    showMessage(QStringLiteral("Exporting the weights of run %1: %2").arg(runId).arg(qs(e.error)), true);
    return false;
  }
  showMessage(QStringLiteral("Wrote %1: %2 tensors of %3 from %4. In Python: net.load_state_dict(torch.load(path), strict=True)")
                  .arg(path)
                  .arg(e.entries)
                  .arg(qs(e.arch), qs(e.source)));
  return true;
}

void HistoryPanel::exportWeightsWithDialog() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (ids.size() != 1 || !m_interactive) return;
  const auto* row = rowOfRun(ids.front());
  const QString suggestion = QDir::home().filePath(
      QStringLiteral("run-%1-%2.pt").arg(ids.front()).arg(row ? qs(row->run.studentArch) : QStringLiteral("student")));
  QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Export the trained network"), suggestion,
                                              QStringLiteral("PyTorch state dict (*.pt *.pth);;All files (*)"));
  if (path.isEmpty()) return;
  if (!path.contains(QLatin1Char('.'))) path += QStringLiteral(".pt");
  exportWeights(ids.front(), path, true);
}

bool HistoryPanel::exportOnnx(int64_t runId, const QString& path, bool best) {
  if (!m_store) return false;
  QApplication::setOverrideCursor(Qt::WaitCursor);  // traces the network: up to a few seconds for the largest
  const studio::OnnxExport e = studio::exportRunOnnx(*m_store, runId, path.toStdString(), best);  // never throws
  QApplication::restoreOverrideCursor();
  if (!e.ok) {
    showMessage(QStringLiteral("Exporting run %1 as ONNX: %2").arg(runId).arg(qs(e.error)), true);
    return false;
  }
  showMessage(QStringLiteral("Wrote %1: %2 from %3; input \"input\" %4 (normalised as in training), output \"logits\"; "
                             "%5 nodes, %6 BatchNorms folded")
                  .arg(path, qs(e.arch), qs(e.source), qs(e.inputShapeText()))
                  .arg(e.nodes)
                  .arg(e.foldedBatchNorms));
  return true;
}

void HistoryPanel::exportOnnxWithDialog() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (ids.size() != 1 || !m_interactive) return;
  const QString suggestion = QDir::home().filePath(QStringLiteral("run-%1.onnx").arg(ids.front()));
  QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Export the trained network as ONNX"), suggestion,
                                              QStringLiteral("ONNX models (*.onnx);;All files (*)"));
  if (path.isEmpty()) return;
  if (!path.contains(QLatin1Char('.'))) path += QStringLiteral(".onnx");
  exportOnnx(ids.front(), path, true);
}

void HistoryPanel::exportWithDialog() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (ids.empty() || !m_interactive) return;
  QStringList parts;
  for (int64_t id : ids) parts << QString::number(id);
  const QString suggestion = QDir::home().filePath(QStringLiteral("runs-%1.csv").arg(parts.join(QLatin1Char('-')).left(60)));
  QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Export metrics as CSV"), suggestion,
                                              QStringLiteral("CSV files (*.csv);;All files (*)"));
  if (path.isEmpty()) return;
  if (!path.contains(QLatin1Char('.'))) path += QStringLiteral(".csv");
  exportSelectionCsv(path);
}

bool HistoryPanel::deleteSelected(bool askConfirmation) {
  if (!m_store) return false;
  const std::vector<int64_t> ids = selectedRunIds();
  if (ids.empty()) {
    showMessage(QStringLiteral("Select the runs to delete"), true);
    return false;
  }
  std::vector<int64_t> doomed;
  QStringList running, names;
  for (int64_t id : ids) {
    const studio::HistoryRow* r = rowOfRun(id);
    const QString label = runLabel(id, r ? r->run.name : std::string());
    if (r && r->run.status == RunStatus::Running) {
      running << label;
    } else {
      doomed.push_back(id);
      names << label;
    }
  }
  if (doomed.empty()) {
    showMessage(QStringLiteral("%1 still running: stop it before deleting it").arg(running.join(QStringLiteral(", "))), true);
    return false;
  }
  if (askConfirmation && m_interactive) {
    QStringList shown = names.mid(0, 10);
    if (names.size() > 10) shown << QStringLiteral("… and %1 more").arg(names.size() - 10);
    QString text = QStringLiteral("Delete %1?\n\n%2\n\nTheir metrics, checkpoint records, tags and notes are removed from the "
                                  "store; checkpoint files on disk are kept.")
                       .arg(plural(static_cast<int>(doomed.size()), QStringLiteral("run"), QStringLiteral("runs")),
                            shown.join(QLatin1Char('\n')));
    if (!running.isEmpty()) text += QStringLiteral("\n\nStill running, kept: ") + running.join(QStringLiteral(", "));
    if (QMessageBox::question(this, QStringLiteral("Delete runs"), text, QMessageBox::Yes | QMessageBox::Cancel,
                              QMessageBox::Cancel) != QMessageBox::Yes)
      return false;
  }
  int deleted = 0;
  const bool ok = guarded(QStringLiteral("Deleting runs"), [&] {
    for (int64_t id : doomed)
      if (m_store->deleteRun(id)) ++deleted;
  });
  // A detail dialog of a deleted run would show stale data.
  for (const auto& d : m_dialogs)
    if (d && std::find(doomed.begin(), doomed.end(), d->runId()) != doomed.end()) d->close();
  refresh();
  if (ok) {
    QString text = QStringLiteral("Deleted %1").arg(plural(deleted, QStringLiteral("run"), QStringLiteral("runs")));
    if (!running.isEmpty()) text += QStringLiteral(" (kept, still running: %1)").arg(running.join(QStringLiteral(", ")));
    showMessage(text);
  }
  return ok && deleted > 0;
}

void HistoryPanel::addTagToSelected(const QString& tag) {
  const QString t = tag.trimmed();
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.empty()) {
    showMessage(QStringLiteral("Select the runs to tag"), true);
    return;
  }
  if (t.isEmpty()) {
    showMessage(QStringLiteral("A tag cannot be empty"), true);
    return;
  }
  const bool ok = guarded(QStringLiteral("Adding tag"), [&] {
    for (int64_t id : ids) m_store->addTag(id, t.toStdString());
  });
  refresh();
  if (ok)
    showMessage(QStringLiteral("Tagged %1 \"%2\"").arg(plural(static_cast<int>(ids.size()), QStringLiteral("run"), QStringLiteral("runs")), t));
}

void HistoryPanel::removeTagFromSelected(const QString& tag) {
  const QString t = tag.trimmed();
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.empty() || t.isEmpty()) return;
  int removed = 0;
  const bool ok = guarded(QStringLiteral("Removing tag"), [&] {
    for (int64_t id : ids)
      if (m_store->removeTag(id, t.toStdString())) ++removed;
  });
  refresh();
  if (ok)
    showMessage(QStringLiteral("Removed \"%1\" from %2").arg(t, plural(removed, QStringLiteral("run"), QStringLiteral("runs"))));
}

void HistoryPanel::addNoteToSelected(const QString& text) {
  const QString note = text.trimmed();
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.empty()) {
    showMessage(QStringLiteral("Select the runs to annotate"), true);
    return;
  }
  if (note.isEmpty()) {
    showMessage(QStringLiteral("A note cannot be empty"), true);
    return;
  }
  const bool ok = guarded(QStringLiteral("Adding note"), [&] {
    for (int64_t id : ids) m_store->addNote(id, note.toStdString());
  });
  refresh();
  if (ok)
    showMessage(QStringLiteral("Added a note to %1").arg(plural(static_cast<int>(ids.size()), QStringLiteral("run"), QStringLiteral("runs"))));
}

void HistoryPanel::editTagsOfSelected() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.empty() || !m_interactive) return;
  // How many of the selected runs carry each tag.
  std::map<QString, int> counts;
  for (int64_t id : ids)
    if (const auto* r = rowOfRun(id))
      for (const auto& t : r->run.tags) ++counts[qs(t)];
  const int n = static_cast<int>(ids.size());

  QDialog dialog(this);
  dialog.setWindowTitle(QStringLiteral("Tags of %1").arg(plural(n, QStringLiteral("run"), QStringLiteral("runs"))));
  auto* layout = new QVBoxLayout(&dialog);
  auto* help = new QLabel(QStringLiteral("Checked: every selected run has the tag. Partly checked: some have it (left as is)."), &dialog);
  help->setWordWrap(true);
  layout->addWidget(help);
  auto* list = new QListWidget(&dialog);
  std::map<QString, Qt::CheckState> initial;
  const auto addItem = [&](const QString& tag, Qt::CheckState state) {
    auto* item = new QListWidgetItem(tag, list);
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | (state == Qt::PartiallyChecked ? Qt::ItemIsUserTristate : Qt::NoItemFlags));
    item->setCheckState(state);
  };
  for (const QString& tag : m_allTags) {
    const int c = counts.count(tag) ? counts[tag] : 0;
    const Qt::CheckState state = c == 0 ? Qt::Unchecked : c == n ? Qt::Checked : Qt::PartiallyChecked;
    initial[tag] = state;
    addItem(tag, state);
  }
  layout->addWidget(list, 1);
  auto* row = new QHBoxLayout;
  auto* edit = new QLineEdit(&dialog);
  edit->setPlaceholderText(QStringLiteral("New tag"));
  auto* add = new QPushButton(QStringLiteral("Add"), &dialog);
  row->addWidget(edit, 1);
  row->addWidget(add);
  layout->addLayout(row);
  const auto addNew = [&, list, edit] {
    const QString tag = edit->text().trimmed();
    if (tag.isEmpty()) return;
    const auto found = list->findItems(tag, Qt::MatchExactly);
    if (found.isEmpty())
      addItem(tag, Qt::Checked);
    else
      found.front()->setCheckState(Qt::Checked);
    edit->clear();
  };
  connect(add, &QPushButton::clicked, &dialog, addNew);
  connect(edit, &QLineEdit::returnPressed, &dialog, addNew);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
  add->setAutoDefault(false);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  layout->addWidget(buttons);
  dialog.resize(360, 420);
  if (dialog.exec() != QDialog::Accepted) return;

  if (!edit->text().trimmed().isEmpty()) addNew();  // typed but not added: the user meant it
  QStringList toAdd, toRemove;
  for (int i = 0; i < list->count(); ++i) {
    const QListWidgetItem* item = list->item(i);
    const auto it = initial.find(item->text());
    const Qt::CheckState before = it == initial.end() ? Qt::Unchecked : it->second;
    if (item->checkState() == before) continue;
    if (item->checkState() == Qt::Checked) toAdd << item->text();
    if (item->checkState() == Qt::Unchecked) toRemove << item->text();
  }
  const bool ok = guarded(QStringLiteral("Changing tags"), [&] {
    for (int64_t id : ids) {
      for (const QString& t : toAdd) m_store->addTag(id, t.toStdString());
      for (const QString& t : toRemove) m_store->removeTag(id, t.toStdString());
    }
  });
  refresh();
  if (ok && (!toAdd.isEmpty() || !toRemove.isEmpty()))
    showMessage(QStringLiteral("Tags of %1 updated").arg(plural(n, QStringLiteral("run"), QStringLiteral("runs"))));
}

void HistoryPanel::noteOnSelected() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.empty() || !m_interactive) return;
  bool ok = false;
  const QString text = QInputDialog::getMultiLineText(
      this, QStringLiteral("Add note"),
      QStringLiteral("Note for %1:").arg(plural(static_cast<int>(ids.size()), QStringLiteral("run"), QStringLiteral("runs"))),
      QString(), &ok);
  if (ok && !text.trimmed().isEmpty()) addNoteToSelected(text);
}

void HistoryPanel::copyConfigOfSelected() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (!m_store || ids.size() != 1) return;
  std::optional<RunRecord> run;
  if (!guarded(QStringLiteral("Reading the config"), [&] { run = m_store->getRun(ids.front()); }) || !run) return;
  QApplication::clipboard()->setText(qs(run->config.dump(2)));
  showMessage(QStringLiteral("Copied the config of %1").arg(runLabel(run->id, run->name)));
}

void HistoryPanel::requestUseAsTeacher() {
  const std::vector<int64_t> ids = selectedRunIds();
  const studio::HistoryRow* r = ids.size() == 1 ? rowOfRun(ids.front()) : nullptr;
  if (!r || r->run.status != RunStatus::Finished) {
    showMessage(QStringLiteral("Select one finished run to use it as a teacher"), true);
    return;
  }
  Q_EMIT useAsTeacherRequested(r->run.id);
}

void HistoryPanel::requestResume() {
  const std::vector<int64_t> ids = selectedRunIds();
  const studio::HistoryRow* r = ids.size() == 1 ? rowOfRun(ids.front()) : nullptr;
  if (!r || (r->run.status != RunStatus::Stopped && r->run.status != RunStatus::Interrupted)) {
    showMessage(QStringLiteral("Select one stopped or interrupted run to resume it"), true);
    return;
  }
  Q_EMIT resumeRequested(r->run.id);
}

void HistoryPanel::openDetailOfSelected() {
  const std::vector<int64_t> ids = selectedRunIds();
  if (ids.size() == 1) openDetail(ids.front());
}

void HistoryPanel::openDetail(int64_t runId) {
  if (!m_store) {
    showMessage(QStringLiteral("No run store is open"), true);
    return;
  }
  for (const auto& d : m_dialogs) {
    if (d && d->runId() == runId) {
      d->show();
      d->raise();
      d->activateWindow();
      return;
    }
  }
  auto* dialog = new RunDetailDialog(*m_store, runId, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &RunDetailDialog::runChanged, this, [this] { refresh(); });
  m_dialogs.removeAll(QPointer<RunDetailDialog>());
  m_dialogs.append(dialog);
  dialog->show();
}

QList<RunDetailDialog*> HistoryPanel::openDetailDialogs() const {
  QList<RunDetailDialog*> out;
  for (const auto& d : m_dialogs)
    if (d) out << d.data();
  return out;
}

void HistoryPanel::closeDetailDialogs() {
  for (const auto& d : m_dialogs) delete d.data();
  m_dialogs.clear();
}

void HistoryPanel::showContextMenu(const QPoint& pos) {
  const QModelIndex index = m_table->indexAt(pos);
  if (index.isValid() && !m_table->selectionModel()->isRowSelected(index.row(), QModelIndex())) {
    const QModelIndex src = m_proxy->mapToSource(index);
    selectRuns({m_model->runId(src.row())});
  }
  QMenu menu(this);
  menu.addAction(m_detailsAction);
  menu.addAction(m_compareAction);
  menu.addSeparator();
  menu.addAction(m_useAsTeacherAction);
  menu.addAction(m_resumeAction);
  menu.addSeparator();
  menu.addAction(m_tagsAction);
  menu.addAction(m_noteAction);
  menu.addAction(m_copyConfigAction);
  menu.addAction(m_exportAction);
  menu.addAction(m_weightsAction);
  menu.addAction(m_onnxAction);
  menu.addSeparator();
  menu.addAction(m_deleteAction);
  menu.addSeparator();
  menu.addAction(m_refreshAction);
  menu.exec(m_table->viewport()->mapToGlobal(pos));
}

}  // namespace rkd::gui
