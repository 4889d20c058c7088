#include "widgets/run_detail_dialog.h"

#include <functional>

#include <QDateTime>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

#include "widgets/history_model.h"
#include "widgets/plot_style.h"
#include "core/vocabulary/metric_keys.h"

namespace rkd::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QString dateText(int64_t ms) { return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")); }

/// A table cell that sorts by a number (Qt::UserRole) while showing formatted text.
class NumericItem : public QTableWidgetItem {
 public:
  NumericItem(const QString& text, double value) : QTableWidgetItem(text) {
    setData(Qt::UserRole, value);
    setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  }
  bool operator<(const QTableWidgetItem& other) const override {
    return data(Qt::UserRole).toDouble() < other.data(Qt::UserRole).toDouble();
  }
};

QTableWidgetItem* textItem(const QString& text) {
  auto* item = new QTableWidgetItem(text);
  item->setFlags(item->flags() & ~Qt::ItemIsEditable);
  return item;
}

QTableWidget* makeTable(const QStringList& headers, QWidget* parent) {
  auto* table = new QTableWidget(0, static_cast<int>(headers.size()), parent);
  table->setHorizontalHeaderLabels(headers);
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->setSelectionBehavior(QAbstractItemView::SelectRows);
  table->setAlternatingRowColors(true);
  table->verticalHeader()->setVisible(false);
  table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 8);
  table->horizontalHeader()->setStretchLastSection(true);
  table->setWordWrap(false);
  return table;
}

/// Points of a series at one level: per-step values (x = step) or epoch-level values (x = epoch).
void seriesPoints(const MetricSeries& s, bool perStep, QVector<double>& x, QVector<double>& y) {
  for (size_t i = 0; i < s.size(); ++i) {
    const bool stepPoint = s.steps[i] != kEpochStep;
    if (stepPoint != perStep) continue;
    x << static_cast<double>(perStep ? s.steps[i] : s.epochs[i] + 1);  // epochs counted from 1
    y << s.values[i];
  }
}

/// Fits the axes to the data with a small margin, so points on the border stay visible.
void fitAxes(QCustomPlot* plot) {
  plot->rescaleAxes(true);
  plot->xAxis->scaleRange(1.03, plot->xAxis->range().center());
  plot->yAxis->scaleRange(1.08, plot->yAxis->range().center());
}

}  // namespace

RunDetailDialog::RunDetailDialog(rkd::services::RunHistory& store, int64_t runId, QWidget* parent)
    : QDialog(parent), m_store(store), m_runId(runId) {
  setModal(false);
  setSizeGripEnabled(true);
  resize(980, 680);

  std::optional<RunRecord> run;
  QString error;
  try {
    run = m_store.run(runId);
    if (!run) error = QStringLiteral("Run #%1 is not in the store %2 (it may have been deleted).").arg(runId).arg(qs(m_store.path()));
  } catch (const UserError& e) {
    error = qs(e.full());
  } catch (const std::exception& e) {
    error = QString::fromUtf8(e.what());
  }

  setWindowTitle(run ? QStringLiteral("Run #%1 – %2").arg(runId).arg(qs(run->name)) : QStringLiteral("Run #%1").arg(runId));

  auto* layout = new QVBoxLayout(this);
  m_header = new QLabel(this);
  m_header->setTextFormat(Qt::RichText);
  m_header->setWordWrap(true);
  m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(m_header);

  m_message = new QLabel(this);
  m_message->setWordWrap(true);
  m_message->setStyleSheet(QStringLiteral("color: #c81e1e;"));
  m_message->setVisible(false);
  layout->addWidget(m_message);

  m_tabs = new QTabWidget(this);
  layout->addWidget(m_tabs, 1);

  if (run) {
    const RunRecord& r = *run;
    const QString pair = r.kind == RunKind::Teacher || r.teacherArch.empty()
                             ? qs(r.studentArch)
                             : qs(r.teacherArch) + QStringLiteral(" → ") + qs(r.studentArch);
    const auto top1 = [](const std::optional<double>& v) {
      return v ? QString::number(*v, 'f', 2) + QStringLiteral(" %") : QStringLiteral("–");
    };
    const double seconds =
        static_cast<double>(std::max<int64_t>(0, (r.endedAt ? *r.endedAt : (r.status == RunStatus::Running ? nowUnixMs() : r.startedAt)) -
                                                     r.startedAt)) /
        1000.0;
    QString html = QStringLiteral("<b style='font-size:larger'>#%1 %2</b> &nbsp; <span style='color:%3'><b>%4</b></span><br>")
                       .arg(r.id)
                       .arg(qs(r.name).toHtmlEscaped(), HistoryModel::statusColor(r.status).name(),
                            HistoryModel::statusText(r.status));
    html += QStringLiteral("%1 run · %2 · %3 · %4 on %5 · seed %6<br>")
                .arg(qs(toString(r.kind)), pair.toHtmlEscaped(), qs(r.method).toHtmlEscaped(), qs(r.dataset).toHtmlEscaped(),
                     qs(r.device).toHtmlEscaped())
                .arg(r.seed);
    html += QStringLiteral("Best top-1 <b>%1</b> · last %2 · %3 epochs done · started %4%5 · %6")
                .arg(top1(r.bestTop1), top1(r.lastTop1))
                .arg(r.epochsDone)
                .arg(dateText(r.startedAt), r.endedAt ? QStringLiteral(", ended ") + dateText(*r.endedAt) : QString(),
                     formatDuration(seconds));
    if (r.teacherRun) html += QStringLiteral(" · teacher run #%1").arg(*r.teacherRun);
    if (!r.message.empty()) html += QStringLiteral("<br><i>%1</i>").arg(qs(r.message).toHtmlEscaped());
    m_header->setText(html);

    m_tabs->addTab(buildConfigTab(run), QStringLiteral("Config"));
    m_tabs->addTab(buildCurvesTab(), QStringLiteral("Curves"));
    m_tabs->addTab(buildClassTab(), QStringLiteral("Per-class accuracy"));
    m_tabs->addTab(buildCheckpointTab(), QStringLiteral("Checkpoints"));
    m_tabs->addTab(buildNotesTab(), QStringLiteral("Notes && tags"));
  } else {
    m_header->setText(QStringLiteral("<b>Run #%1</b>").arg(runId));
    showError(error);
  }

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::close);
  layout->addWidget(buttons);
}

void RunDetailDialog::showError(const QString& text) {
  m_message->setText(text);
  m_message->setVisible(!text.isEmpty());
}

QWidget* RunDetailDialog::buildConfigTab(const std::optional<RunRecord>& run) {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);
  m_configView = new QPlainTextEdit(page);
  m_configView->setReadOnly(true);
  m_configView->setLineWrapMode(QPlainTextEdit::NoWrap);
  m_configView->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  m_configView->setPlainText(run ? qs(run->config.dump(2)) : QString());
  layout->addWidget(m_configView, 1);
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(QStringLiteral("The full training config, as stored with the run."), page), 1);
  auto* copy = new QPushButton(QStringLiteral("Copy"), page);
  copy->setToolTip(QStringLiteral("Copy the config JSON to the clipboard"));
  connect(copy, &QPushButton::clicked, this, [this] {
    m_configView->selectAll();
    m_configView->copy();
  });
  row->addWidget(copy);
  layout->addLayout(row);
  return page;
}

QWidget* RunDetailDialog::buildCurvesTab() {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);
  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(QStringLiteral("Loss smoothing"), page));
  auto* smoothing = new QDoubleSpinBox(page);
  smoothing->setRange(0, 0.99);
  smoothing->setSingleStep(0.1);
  smoothing->setDecimals(2);
  smoothing->setValue(0.6);
  smoothing->setToolTip(QStringLiteral("Exponential moving average of the per-step losses (0 = raw values)"));
  controls->addWidget(smoothing);
  controls->addStretch(1);
  layout->addLayout(controls);

  auto* splitter = new QSplitter(Qt::Vertical, page);
  m_lossPlot = new QCustomPlot(splitter);
  stylePlot(m_lossPlot, QStringLiteral("step"), QStringLiteral("loss"));
  m_accuracyPlot = new QCustomPlot(splitter);
  stylePlot(m_accuracyPlot, QStringLiteral("epoch"), QStringLiteral("top-1 (%)"));
  m_accuracyPlot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  splitter->addWidget(m_lossPlot);
  splitter->addWidget(m_accuracyPlot);
  layout->addWidget(splitter, 1);

  std::vector<MetricSeries> losses, accuracies;
  try {
    const std::vector<std::string> keys = m_store.metricKeys(m_runId);
    for (const char* key : {metric::kTrainLoss, metric::kTrainCe, metric::kTrainReview, metric::kTrainKd})
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) losses.push_back(m_store.metrics(m_runId, key));
    for (const char* key : {metric::kTestTop1, metric::kTestTop5, metric::kValTop1, metric::kEpochTrainTop1})
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) accuracies.push_back(m_store.metrics(m_runId, key));
  } catch (const UserError& e) {
    showError(qs(e.full()));
  }

  const auto drawLosses = [this, losses](double smooth) {
    m_lossPlot->clearGraphs();
    int color = 0;
    for (const auto& s : losses) {
      QVector<double> x, y;
      seriesPoints(s, true, x, y);
      if (x.isEmpty()) continue;
      addSeries(m_lossPlot, qs(s.key), color++)->setData(x, smoothed(y, smooth), true);
    }
    fitAxes(m_lossPlot);
    m_lossPlot->replot(QCustomPlot::rpQueuedReplot);
  };
  drawLosses(smoothing->value());
  connect(smoothing, qOverload<double>(&QDoubleSpinBox::valueChanged), this, drawLosses);

  int color = 0;
  for (const auto& s : accuracies) {
    QVector<double> x, y;
    seriesPoints(s, false, x, y);
    if (x.isEmpty()) continue;
    QCPGraph* g = addSeries(m_accuracyPlot, qs(s.key), color++);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    g->setData(x, y, true);
  }
  fitAxes(m_accuracyPlot);
  m_accuracyPlot->replot(QCustomPlot::rpQueuedReplot);
  return page;
}

QWidget* RunDetailDialog::buildClassTab() {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);
  m_classSummary = new QLabel(page);
  layout->addWidget(m_classSummary);
  m_classTable = makeTable({QStringLiteral("Class"), QStringLiteral("Name"), QStringLiteral("Accuracy (%)")}, page);
  layout->addWidget(m_classTable, 1);

  std::vector<ClassAccuracy> classes;
  try {
    classes = m_store.classAccuracy(m_runId);
  } catch (const UserError& e) {
    showError(qs(e.full()));
  }
  if (classes.empty()) {
    m_classSummary->setText(QStringLiteral("No per-class accuracy stored for this run (it is written after each evaluation)."));
    return page;
  }
  // The trainer reports fractions or percent; show percent either way.
  const bool fractions = std::all_of(classes.begin(), classes.end(), [](const ClassAccuracy& c) { return c.accuracy <= 1.0; });
  const double scale = fractions ? 100.0 : 1.0;
  m_classTable->setRowCount(static_cast<int>(classes.size()));
  double sum = 0;
  const ClassAccuracy* worst = &classes.front();
  const ClassAccuracy* best = &classes.front();
  for (size_t i = 0; i < classes.size(); ++i) {
    const ClassAccuracy& c = classes[i];
    const double pct = c.accuracy * scale;
    sum += pct;
    if (c.accuracy < worst->accuracy) worst = &c;
    if (c.accuracy > best->accuracy) best = &c;
    const int row = static_cast<int>(i);
    m_classTable->setItem(row, 0, new NumericItem(QString::number(c.classIndex), c.classIndex));
    m_classTable->setItem(row, 1, textItem(qs(c.className)));
    auto* acc = new NumericItem(QString::number(pct, 'f', 1), pct);
    // Red (0 %) to green (100 %), pale enough to read the number.
    const double t = std::clamp(pct / 100.0, 0.0, 1.0);
    acc->setBackground(QColor::fromHsvF(0.33 * t, 0.35, 1.0));
    acc->setForeground(QColor(Qt::black));
    m_classTable->setItem(row, 2, acc);
  }
  m_classTable->setSortingEnabled(true);
  m_classTable->sortByColumn(0, Qt::AscendingOrder);
  m_classTable->resizeColumnsToContents();
  m_classTable->horizontalHeader()->setStretchLastSection(false);
  m_classTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  m_classTable->setColumnWidth(2, std::max(m_classTable->columnWidth(2), 160));
  const auto name = [](const ClassAccuracy& c) {
    return c.className.empty() ? QStringLiteral("class %1").arg(c.classIndex) : qs(c.className);
  };
  m_classSummary->setText(QStringLiteral("%1 classes at the latest evaluation · mean %2 % · worst %3 (%4 %) · best %5 (%6 %)")
                              .arg(classes.size())
                              .arg(sum / static_cast<double>(classes.size()), 0, 'f', 1)
                              .arg(name(*worst))
                              .arg(worst->accuracy * scale, 0, 'f', 1)
                              .arg(name(*best))
                              .arg(best->accuracy * scale, 0, 'f', 1));
  return page;
}

QWidget* RunDetailDialog::buildCheckpointTab() {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);
  m_checkpointTable = makeTable({QStringLiteral("Epoch"), QStringLiteral("Kind"), QStringLiteral("On disk"),
                                 QStringLiteral("Created"), QStringLiteral("Path")},
                                page);
  layout->addWidget(m_checkpointTable, 1);
  std::vector<CheckpointRecord> checkpoints;
  try {
    checkpoints = m_store.checkpoints(m_runId);
  } catch (const UserError& e) {
    showError(qs(e.full()));
  }
  m_checkpointTable->setRowCount(static_cast<int>(checkpoints.size()));
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const CheckpointRecord& c = checkpoints[i];
    const int row = static_cast<int>(i);
    const bool exists = QFileInfo::exists(qs(c.path));
    m_checkpointTable->setItem(row, 0, new NumericItem(QString::number(c.epoch), c.epoch));
    m_checkpointTable->setItem(row, 1, textItem(qs(toString(c.kind))));
    auto* disk = textItem(exists ? QStringLiteral("yes") : QStringLiteral("missing"));
    disk->setForeground(exists ? QColor(35, 134, 54) : QColor(200, 30, 30));
    m_checkpointTable->setItem(row, 2, disk);
    m_checkpointTable->setItem(row, 3, textItem(dateText(c.createdAt)));
    auto* path = textItem(qs(c.path));
    path->setToolTip(qs(c.path));
    m_checkpointTable->setItem(row, 4, path);
  }
  m_checkpointTable->resizeColumnsToContents();
  if (checkpoints.empty())
    layout->addWidget(new QLabel(QStringLiteral("No checkpoint recorded for this run."), page));
  return page;
}

QWidget* RunDetailDialog::buildNotesTab() {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);

  m_tagsLabel = new QLabel(page);
  m_tagsLabel->setWordWrap(true);
  layout->addWidget(m_tagsLabel);
  auto* tagRow = new QHBoxLayout;
  m_tagEdit = new QLineEdit(page);
  m_tagEdit->setPlaceholderText(QStringLiteral("New tag"));
  m_tagEdit->setToolTip(QStringLiteral("Type a tag, then Add tag or Remove tag"));
  auto* addTagButton = new QPushButton(QStringLiteral("Add tag"), page);
  auto* removeTagButton = new QPushButton(QStringLiteral("Remove tag"), page);
  tagRow->addWidget(m_tagEdit, 1);
  tagRow->addWidget(addTagButton);
  tagRow->addWidget(removeTagButton);
  layout->addLayout(tagRow);
  const auto submitTag = [this] {
    if (addTag(m_tagEdit->text())) m_tagEdit->clear();
  };
  connect(addTagButton, &QPushButton::clicked, this, submitTag);
  connect(m_tagEdit, &QLineEdit::returnPressed, this, submitTag);
  connect(removeTagButton, &QPushButton::clicked, this, [this] {
    if (removeTag(m_tagEdit->text())) m_tagEdit->clear();
  });

  layout->addWidget(new QLabel(QStringLiteral("Notes (oldest first)"), page));
  m_notesList = new QListWidget(page);
  m_notesList->setWordWrap(true);
  m_notesList->setAlternatingRowColors(true);
  layout->addWidget(m_notesList, 1);
  auto* noteRow = new QHBoxLayout;
  m_noteEdit = new QLineEdit(page);
  m_noteEdit->setPlaceholderText(QStringLiteral("Add a note about this run"));
  auto* addNoteButton = new QPushButton(QStringLiteral("Add note"), page);
  auto* removeNoteButton = new QPushButton(QStringLiteral("Remove selected note"), page);
  removeNoteButton->setEnabled(false);
  noteRow->addWidget(m_noteEdit, 1);
  noteRow->addWidget(addNoteButton);
  noteRow->addWidget(removeNoteButton);
  connect(m_notesList, &QListWidget::itemSelectionChanged, this,
          [this, removeNoteButton] { removeNoteButton->setEnabled(!m_notesList->selectedItems().isEmpty()); });
  connect(removeNoteButton, &QPushButton::clicked, this, [this] {
    const auto items = m_notesList->selectedItems();
    if (!items.isEmpty()) removeNote(items.front()->data(Qt::UserRole).toLongLong());
  });
  layout->addLayout(noteRow);
  const auto submitNote = [this] {
    if (addNote(m_noteEdit->text())) m_noteEdit->clear();
  };
  connect(addNoteButton, &QPushButton::clicked, this, submitNote);
  connect(m_noteEdit, &QLineEdit::returnPressed, this, submitNote);

  reloadNotesAndTags();
  return page;
}

void RunDetailDialog::reloadNotesAndTags() {
  try {
    QStringList tags;
    for (const auto& t : m_store.tags(m_runId)) tags << qs(t).toHtmlEscaped();
    m_tagsLabel->setText(tags.isEmpty() ? QStringLiteral("<b>Tags:</b> none")
                                        : QStringLiteral("<b>Tags:</b> ") + tags.join(QStringLiteral(", ")));
    m_notesList->clear();
    for (const Note& n : m_store.notes(m_runId)) {
      auto* item = new QListWidgetItem(dateText(n.createdAt) + QStringLiteral("  ") + qs(n.text), m_notesList);
      item->setData(Qt::UserRole, QVariant::fromValue<qint64>(n.id));
    }
  } catch (const UserError& e) {
    showError(qs(e.full()));
  }
}

bool RunDetailDialog::editStore(const std::function<bool()>& edit) {
  bool changed = false;
  try {
    changed = edit();
  } catch (const UserError& e) {
    showError(qs(e.full()));
    return false;
  }
  reloadNotesAndTags();
  if (changed) Q_EMIT runChanged(m_runId);
  return changed;
}

bool RunDetailDialog::addNote(const QString& text) {
  if (text.trimmed().isEmpty()) return false;
  return editStore([&] {
    m_store.addNote(m_runId, text.trimmed().toStdString());
    return true;
  });
}

bool RunDetailDialog::removeNote(qint64 noteId) {
  return editStore([&] { return m_store.removeNote(noteId); });
}

bool RunDetailDialog::removeTag(const QString& tag) {
  if (tag.trimmed().isEmpty()) return false;
  return editStore([&] {
    const bool removed = m_store.removeTag(m_runId, tag.trimmed().toStdString());
    if (!removed) showError(QStringLiteral("The run has no tag \"%1\"").arg(tag.trimmed()));
    return removed;
  });
}

bool RunDetailDialog::addTag(const QString& tag) {
  if (tag.trimmed().isEmpty()) return false;
  return editStore([&] {
    m_store.addTag(m_runId, tag.trimmed().toStdString());
    return true;
  });
}

}  // namespace rkd::gui
