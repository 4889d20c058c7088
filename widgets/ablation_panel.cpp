#include "widgets/ablation_panel.h"

#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QFileInfo>
#include <QSaveFile>
#include <QSplitter>
#include <QTableWidget>
#include <QTextStream>
#include <QTimer>
#include <QVBoxLayout>
#include <set>

#include "widgets/controllers/training_controller.h"
#include "core/services/catalog.h"

namespace rkd::gui {
namespace {

bool writeText(const QString& path, const QString& text, QString* error) {
  // QSaveFile renames a temporary file over the destination: a device, a FIFO or a folder there would be replaced.
  const QFileInfo existing(path);
  if (existing.exists() && !existing.isFile()) {
    *error = QStringLiteral("%1 exists and is not a regular file (a folder, a device or a FIFO); it is never replaced")
                 .arg(path);
    return false;
  }
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) {
    *error = f.errorString();
    return false;
  }
  f.write(text.toUtf8());
  if (!f.commit()) {
    *error = f.errorString();
    return false;
  }
  return true;
}

}  // namespace

AblationPanel::AblationPanel(TrainingController* controller, QWidget* parent) : QWidget(parent), m_controller(controller) {
  auto* layout = new QVBoxLayout(this);
  m_title = new QLabel(tr("Build the ablation grid of the pair chosen in the experiment panel: student alone, Hinton KD "
                          "and the six switch rows of the paper, run one after another."),
                       this);
  m_title->setWordWrap(true);
  layout->addWidget(m_title);
  auto* buttons = new QHBoxLayout;
  m_runAll = new QPushButton(tr("Run ablation"), this);
  m_runAll->setToolTip(tr("Build the eight rows for the current pair and queue them all"));
  m_runSelected = new QPushButton(tr("Queue selected rows"), this);
  m_cancel = new QPushButton(tr("Cancel queue"), this);
  m_cancel->setToolTip(tr("Stop the run in flight (it stays resumable) and drop the queued rows"));
  m_exportCsv = new QPushButton(tr("Export CSV..."), this);
  m_exportMd = new QPushButton(tr("Export Markdown..."), this);
  for (QPushButton* b : {m_runAll, m_runSelected, m_cancel}) buttons->addWidget(b);
  buttons->addStretch(1);
  buttons->addWidget(m_exportCsv);
  buttons->addWidget(m_exportMd);
  layout->addLayout(buttons);

  auto* split = new QSplitter(Qt::Horizontal, this);
  m_table = new QTableWidget(0, ColumnCount, split);
  m_table->setHorizontalHeaderLabels(headers());
  m_table->verticalHeader()->setVisible(false);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setStretchLastSection(true);
  auto* queueBox = new QWidget(split);
  auto* queueLayout = new QVBoxLayout(queueBox);
  queueLayout->setContentsMargins(0, 0, 0, 0);
  queueLayout->addWidget(new QLabel(tr("Queue"), queueBox));
  m_queueList = new QListWidget(queueBox);
  queueLayout->addWidget(m_queueList);
  split->addWidget(m_table);
  split->addWidget(queueBox);
  split->setStretchFactor(0, 4);
  split->setStretchFactor(1, 1);
  layout->addWidget(split, 1);
  m_message = new QLabel(this);
  m_message->setWordWrap(true);
  layout->addWidget(m_message);

  connect(m_runAll, &QPushButton::clicked, this, &AblationPanel::runAblationRequested);
  connect(m_runSelected, &QPushButton::clicked, this, [this] {
    std::set<int> rows;
    for (const QModelIndex& i : m_table->selectionModel()->selectedRows()) rows.insert(i.row());
    if (rows.empty()) {
      setMessage(tr("Select rows of the table first (build the grid with Run ablation, or they come from a previous build)."), true);
      return;
    }
    queueRows(std::vector<int>(rows.begin(), rows.end()));
  });
  connect(m_cancel, &QPushButton::clicked, this, &AblationPanel::cancelQueue);
  connect(m_exportCsv, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the ablation table"), QStringLiteral("ablation.csv"),
                                                      tr("CSV (*.csv)"));
    if (!path.isEmpty()) exportCsv(path);
  });
  connect(m_exportMd, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the ablation table"), QStringLiteral("ablation.md"),
                                                      tr("Markdown (*.md)"));
    if (!path.isEmpty()) exportMarkdown(path);
  });
  connect(m_controller, &TrainingController::jobFinished, this, &AblationPanel::onJobFinished);
  connect(m_controller, &TrainingController::runStarted, this, [this](qint64 runId) {
    if (m_active < 0) return;
    // A job may train the teacher first; the row's run is the student, whose id comes last.
    m_rows[static_cast<size_t>(m_active)].runId = runId;
    refreshTable();
  });
  connect(m_controller, &TrainingController::busyChanged, this, [this] { refreshQueue(); });
  refreshQueue();
}

QStringList AblationPanel::headers() const {
  QStringList out;
  for (const auto& h : rkd::services::ablationHeaders()) out << tr(h.c_str());
  return out;
}

void AblationPanel::setMessage(const QString& text, bool error) {
  m_message->setText(text);
  m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void AblationPanel::buildGrid(const rkd::RunConfig& base) {
  if (isRunning()) {
    setMessage(tr("The ablation queue is running; cancel it before building a new grid."), true);
    return;
  }
  m_rows.clear();
  for (auto& r : rkd::services::ablationRows(base)) {
    RowState state;
    state.row = std::move(r);
    m_rows.push_back(std::move(state));
  }
  m_pairText = base.teacher.arch + " -> " + base.student;
  const bool published = rkd::publishedNumbers(base.teacher.arch, base.student).has_value();
  m_title->setText(tr("Ablation of %1 on %2, %3 epochs each. %4")
                       .arg(QString::fromStdString(m_pairText), QString::fromStdString(base.data.kind))
                       .arg(base.optim.epochs)
                       .arg(published ? tr("The paper's CIFAR-100 numbers are beside for comparison.")
                                      : tr("This pair is not in the paper, so there are no published numbers.")));
  refreshTable();
  refreshQueue();
}

bool AblationPanel::runAblation(const rkd::RunConfig& base) {
  if (base.method != "reviewkd") {
    setMessage(tr("The ablation needs a ReviewKD student config: choose the ReviewKD method in the experiment panel."), true);
    return false;
  }
  buildGrid(base);
  std::vector<int> all;
  for (int i = 0; i < rowCount(); ++i) all.push_back(i);
  return queueRows(all);
}

bool AblationPanel::queueRows(const std::vector<int>& rows) {
  for (int r : rows)
    if (r < 0 || r >= rowCount()) {
      setMessage(tr("Row %1 is not in the ablation table.").arg(r + 1), true);
      return false;
    }
  if (m_controller->isBusy() && m_active < 0) {
    setMessage(tr("Another run is training; the ablation can start when it ends (or stop it)."), true);
    return false;
  }
  for (int r : rows) {
    if (r == m_active || std::find(m_queue.begin(), m_queue.end(), r) != m_queue.end()) continue;
    m_queue.push_back(r);
    m_rows[static_cast<size_t>(r)].status = "queued";
  }
  setMessage(tr("%1 rows queued.").arg(m_queue.size()), false);
  refreshTable();
  if (m_active < 0) startNext();
  refreshQueue();
  return true;
}

void AblationPanel::startNext() {
  while (!m_queue.empty()) {
    const int r = m_queue.front();
    m_queue.erase(m_queue.begin());
    RowState& row = m_rows[static_cast<size_t>(r)];
    if (m_controller->start(row.row.config)) {
      m_active = r;
      row.status = "running";
      row.runId = 0;
      refreshTable();
      refreshQueue();
      return;
    }
    row.status = "not started";
    setMessage(tr("Row '%1' could not start: another job holds the trainer.").arg(QString::fromStdString(row.row.label)), true);
  }
  refreshQueue();
}

void AblationPanel::onJobFinished(const rkd::RunOutcome& outcome) {
  if (m_active < 0) return;
  RowState& row = m_rows[static_cast<size_t>(m_active)];
  row.status = outcome.statusText();
  if (outcome.runId > 0) row.runId = outcome.runId;
  if (outcome.epochsDone > 0) {
    row.best = outcome.bestTop1;
    row.last = outcome.lastTop1;
  }
  if (!outcome.ok())
    setMessage(tr("Row '%1' %2: %3")
                   .arg(QString::fromStdString(row.row.label), QString::fromStdString(outcome.statusText()),
                        QString::fromStdString(outcome.message)),
               true);
  m_active = -1;
  refreshTable();
  if (outcome.status == rkd::RunStatus::Stopped) {
    for (int r : m_queue) m_rows[static_cast<size_t>(r)].status = "cancelled";
    m_queue.clear();
  }
  if (m_queue.empty()) {
    refreshQueue();
    if (outcome.status != rkd::RunStatus::Stopped) setMessage(tr("Ablation queue done. Export the table as CSV or Markdown."), false);
    Q_EMIT queueFinished();
    return;
  }
  // Next row from the event loop, once every other listener has seen this job end.
  QTimer::singleShot(0, this, &AblationPanel::startNext);
}

void AblationPanel::cancelQueue() {
  for (int r : m_queue) m_rows[static_cast<size_t>(r)].status = "cancelled";
  m_queue.clear();
  if (m_active >= 0) {
    m_controller->stop();
    setMessage(tr("Cancelling: the run in flight stops after its current step and stays resumable."), false);
  }
  refreshTable();
  refreshQueue();
}

// The cells, the CSV and the Markdown come from the ablation study service, so the CLI prints the same table.
QStringList AblationPanel::cells(int r) const {
  const std::vector<std::vector<std::string>> all = rkd::services::ablationCells(m_rows);
  QStringList out;
  for (const auto& cell : all[static_cast<size_t>(r)]) out << QString::fromStdString(cell);
  return out;
}

void AblationPanel::refreshTable() {
  m_table->setRowCount(rowCount());
  for (int r = 0; r < rowCount(); ++r) {
    const QStringList values = cells(r);
    for (int c = 0; c < values.size(); ++c) {
      auto* item = m_table->item(r, c);
      if (!item) {
        item = new QTableWidgetItem;
        m_table->setItem(r, c, item);
      }
      item->setText(values[c]);
      if (c >= Best) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    const std::string& st = m_rows[static_cast<size_t>(r)].status;
    QColor color = st == "finished" ? QColor(27, 94, 32) : st == "running" ? QColor(21, 101, 192)
                 : (st == "failed" || st == "diverged") ? QColor(176, 0, 32) : QColor(90, 90, 90);
    m_table->item(r, Status)->setForeground(color);
  }
}

void AblationPanel::refreshQueue() {
  m_queueList->clear();
  if (m_active >= 0)
    m_queueList->addItem(tr("running: %1").arg(QString::fromStdString(m_rows[static_cast<size_t>(m_active)].row.label)));
  for (int r : m_queue) m_queueList->addItem(tr("queued: %1").arg(QString::fromStdString(m_rows[static_cast<size_t>(r)].row.label)));
  if (m_queueList->count() == 0) m_queueList->addItem(tr("(empty)"));
  const bool busy = m_controller->isBusy();
  m_runAll->setEnabled(!busy && !isRunning());
  m_runSelected->setEnabled(!busy && !isRunning() && rowCount() > 0);
  m_cancel->setEnabled(isRunning());
  m_exportCsv->setEnabled(rowCount() > 0);
  m_exportMd->setEnabled(rowCount() > 0);
}

QString AblationPanel::csv() const { return QString::fromStdString(rkd::services::ablationCsv(m_rows)); }

QString AblationPanel::markdown() const {
  return QString::fromStdString(rkd::services::ablationMarkdown(m_pairText, m_rows));
}

bool AblationPanel::exportCsv(const QString& path) {
  QString error;
  if (!writeText(path, csv(), &error)) {
    setMessage(tr("Could not write %1: %2. Choose another folder.").arg(path, error), true);
    return false;
  }
  setMessage(tr("Wrote %1").arg(path), false);
  return true;
}

bool AblationPanel::exportMarkdown(const QString& path) {
  QString error;
  if (!writeText(path, markdown(), &error)) {
    setMessage(tr("Could not write %1: %2. Choose another folder.").arg(path, error), true);
    return false;
  }
  setMessage(tr("Wrote %1").arg(path), false);
  return true;
}

}  // namespace rkd::gui
