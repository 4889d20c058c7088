// The history panel on a store filled directly through RunStore: filters, numeric sorting, the config diff and
// curve overlay of a selection, tags, notes, delete, CSV export, ONNX export of a really trained run, the resume /
// use-as-teacher signals, the run detail dialog, and a screenshot.
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDialog>
#include <QFile>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSet>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTest>
#include <QTimer>
#include <fstream>
#include <memory>
#include <onnx/onnx_pb.h>
#include <qcustomplot.h>

#include "core/services/catalog.h"
#include "core/store/run_store.h"
#include "core/services/run_history.h"
#include "core/services/training_service.h"
#include "core/vocabulary/run_config.h"
#include "gui_support.h"
#include "widgets/history_model.h"
#include "widgets/history_panel.h"
#include "widgets/run_detail_dialog.h"

using rkd::gui::HistoryModel;
using rkd::gui::HistoryPanel;
using rkd::gui::RunDetailDialog;

namespace {

struct RunSpec {
  std::string name;
  std::string kind = "student";
  std::string method = "reviewkd";
  std::string teacher = "resnet56";
  std::string student = "resnet20";
  bool abf = true;
  double lr = 0.05;
  std::string device = "cpu";
};

rkd::RunConfig configOf(const RunSpec& s) {
  rkd::RunConfig c;
  c.name = s.name;
  c.kind = s.kind;
  c.method = s.method;
  c.student = s.student;
  c.teacher.arch = s.kind == "teacher" ? std::string() : s.teacher;
  if (s.method == "kd") c.kdWeight = 0.9;
  c.review.abf = s.abf;
  c.optim.lr = s.lr;
  c.optim.epochs = 5;
  c.data.kind = "cifar100";
  c.device = "auto";
  return c;
}

}  // namespace

class TestHistoryPanel : public QObject {
  Q_OBJECT

 private:
  int64_t addRun(const RunSpec& s, int hoursAgo) {
    rkd::RunRecord r;
    r.name = s.name;
    r.kind = s.kind == "teacher" ? rkd::RunKind::Teacher : rkd::RunKind::Student;
    r.method = s.method;
    r.config = rkd::toJson(configOf(s));
    r.teacherArch = s.kind == "teacher" ? std::string() : s.teacher;
    r.studentArch = s.student;
    r.dataset = "cifar100";
    r.device = s.device;
    r.seed = 1;
    r.startedAt = rkd::nowUnixMs() - int64_t(hoursAgo) * 3600 * 1000;
    return m_store->createRun(r);
  }
  /// test/top1 per epoch (stored from 0, as the trainer stores it) and recordEpoch for each value.
  void addEpochs(int64_t id, const std::vector<double>& top1) {
    std::vector<rkd::MetricPoint> points;
    for (size_t e = 0; e < top1.size(); ++e)
      points.push_back(rkd::MetricPoint::epochLevel(static_cast<int>(e), "test/top1", top1[e]));
    m_store->appendMetrics(id, points);
    for (size_t e = 0; e < top1.size(); ++e) m_store->recordEpoch(id, static_cast<int>(e + 1), top1[e]);
  }
  void addSteps(int64_t id, int steps) {
    std::vector<rkd::MetricPoint> points;
    for (int s = 0; s < steps; ++s) points.push_back({s / 10 + 1, s, "train/loss", 4.0 / (1.0 + 0.1 * s)});
    m_store->appendMetrics(id, points);
  }
  /// The values of a column in the table's visible order.
  QStringList column(int c) const {
    QStringList out;
    QAbstractItemModel* m = m_panel->table()->model();
    for (int r = 0; r < m->rowCount(); ++r) out << m->index(r, c).data().toString();
    return out;
  }
  void resetFilters() {
    m_panel->filterEdit()->clear();
    m_panel->statusFilter()->setCurrentIndex(0);
    m_panel->pairFilter()->setCurrentIndex(0);
    m_panel->tagFilter()->setCurrentIndex(0);
    m_panel->table()->sortByColumn(HistoryModel::Date, Qt::DescendingOrder);
  }

  QString m_dir;
  QString m_path;
  std::unique_ptr<rkd::RunStore> m_store;
  std::unique_ptr<HistoryPanel> m_panel;
  int64_t m_teacher = 0, m_full = 0, m_noAbf = 0, m_kd = 0, m_failed = 0, m_interrupted = 0, m_running = 0;

 private Q_SLOTS:
  void initTestCase() {
    m_dir = rkdtest::guiTempDir(QStringLiteral("history"));
    m_path = m_dir + QStringLiteral("/runs.sqlite");
    m_store = std::make_unique<rkd::RunStore>(m_path.toStdString());

    m_teacher = addRun({"teacher resnet56", "teacher", "ce", "", "resnet56", true, 0.1, "cuda:0"}, 70);
    addEpochs(m_teacher, {40, 60, 72.3});
    m_store->addTag(m_teacher, "baseline");
    m_store->finishRun(m_teacher);

    m_full = addRun({"rkd full", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 60);
    addEpochs(m_full, {50, 65, 72, 80.1, 79.5});
    addSteps(m_full, 50);
    m_store->addTag(m_full, "paper");
    std::vector<rkd::ClassAccuracy> classes;
    for (int c = 0; c < 10; ++c) classes.push_back({c, "class" + std::to_string(c), 0.5 + 0.05 * c});
    m_store->setClassAccuracy(m_full, 5, classes);
    const QString bestPath = m_dir + QStringLiteral("/best.pt");
    QFile f(bestPath);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("x");
    f.close();
    m_store->addCheckpoint(m_full, 4, bestPath.toStdString(), rkd::CheckpointKind::Best);
    m_store->addCheckpoint(m_full, 5, (m_dir + QStringLiteral("/gone/last.pt")).toStdString(), rkd::CheckpointKind::Last);
    m_store->finishRun(m_full);

    m_noAbf = addRun({"rkd no abf", "student", "reviewkd", "resnet56", "resnet20", false, 0.1, "cpu"}, 50);
    addEpochs(m_noAbf, {5, 8, 10.2, 9, 10});
    addSteps(m_noAbf, 50);
    m_store->finishRun(m_noAbf);

    m_kd = addRun({"kd wrn", "student", "kd", "wrn40_2", "wrn16_2", true, 0.05, "cuda:0"}, 40);
    addEpochs(m_kd, {9.5});
    m_store->addTag(m_kd, "paper");
    m_store->finishRun(m_kd, rkd::RunStatus::Stopped, "stopped by the user");

    m_failed = addRun({"crashed", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 30);
    m_store->finishRun(m_failed, rkd::RunStatus::Failed, "out of memory");

    m_interrupted = addRun({"interrupted r110", "student", "reviewkd", "resnet110", "resnet32", true, 0.05, "cuda:1"}, 20);
    addEpochs(m_interrupted, {30, 55});
    m_store->finishRun(m_interrupted, rkd::RunStatus::Interrupted, "the writer process is gone");

    m_running = addRun({"live", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 0);  // this process writes it

    m_panel = std::make_unique<HistoryPanel>();
    m_panel->setInteractive(false);
    m_panel->setStorePath(m_path);
    QCOMPARE(m_panel->storePath(), m_path);
  }

  void cleanupTestCase() {
    m_panel.reset();
    m_store.reset();
  }

  void init() { resetFilters(); }

  void listsEveryRunNewestFirst() {
    QCOMPARE(m_panel->visibleRowCount(), 7);
    QCOMPARE(m_panel->table()->model()->columnCount(), int(HistoryModel::ColumnCount));
    const QStringList names = column(HistoryModel::Name);
    QCOMPARE(names, QStringList({"live", "interrupted r110", "crashed", "kd wrn", "rkd no abf", "rkd full", "teacher resnet56"}));
    const QStringList pairs = column(HistoryModel::Pair);
    QCOMPARE(pairs.last(), QStringLiteral("resnet56"));  // a teacher run shows its network alone
    QCOMPARE(pairs.at(5), QStringLiteral("resnet56 -> resnet20"));
    QCOMPARE(column(HistoryModel::Status).at(3), QStringLiteral("Stopped"));
    QCOMPARE(column(HistoryModel::Best).at(5), QStringLiteral("80.10"));
    QCOMPARE(column(HistoryModel::Last).at(5), QStringLiteral("79.50"));
    QCOMPARE(column(HistoryModel::Epochs).at(5), QStringLiteral("5 / 5"));
    QCOMPARE(column(HistoryModel::Device).at(0), QStringLiteral("cpu"));
    QCOMPARE(column(HistoryModel::Tags).at(5), QStringLiteral("paper"));
    QVERIFY(column(HistoryModel::Switches).at(5).contains(QStringLiteral("ABF")));
    QVERIFY(!column(HistoryModel::Switches).at(4).contains(QStringLiteral("ABF")));

    // Status coloured, numbers as numbers for sorting.
    QAbstractItemModel* m = m_panel->table()->model();
    const QVariant failedColor = m->index(2, HistoryModel::Status).data(Qt::ForegroundRole);
    const QVariant finishedColor = m->index(5, HistoryModel::Status).data(Qt::ForegroundRole);
    QVERIFY(failedColor.canConvert<QColor>());
    QVERIFY(failedColor.value<QColor>() != finishedColor.value<QColor>());
    QCOMPARE(m->index(5, HistoryModel::Best).data(Qt::UserRole).metaType().id(), int(QMetaType::Double));
    QCOMPARE(m->index(5, HistoryModel::Best).data(Qt::UserRole).toDouble(), 80.1);
    QCOMPARE(m_panel->countLabel()->text(), QStringLiteral("7 runs"));
  }

  void textFilter_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("visible");
    QTest::newRow("pair network") << "resnet110" << 1;
    QTest::newRow("name, any case") << "RKD" << 2;
    QTest::newRow("device") << "cuda" << 3;
    QTest::newRow("tag") << "paper" << 2;
    QTest::newRow("switches") << "abf" << 5;  // rkd full, crashed, interrupted, live by switches; rkd no abf by name
    QTest::newRow("all words must match") << "wrn hinton" << 1;
    QTest::newRow("no match") << "resnet56 hinton" << 0;
    QTest::newRow("empty") << "" << 7;
  }
  void textFilter() {
    QFETCH(QString, text);
    QFETCH(int, visible);
    m_panel->filterEdit()->setText(text);
    QCOMPARE(m_panel->visibleRowCount(), visible);
  }

  void idFilter() {
    m_panel->filterEdit()->setText(QStringLiteral("#%1").arg(m_noAbf));
    QCOMPARE(column(HistoryModel::Name), QStringList{"rkd no abf"});
    QCOMPARE(m_panel->countLabel()->text(), QStringLiteral("1 of 7 runs"));
  }

  void comboFilters() {
    QComboBox* status = m_panel->statusFilter();
    QCOMPARE(status->itemText(0), QStringLiteral("All statuses"));
    QCOMPARE(status->count(), 7);
    status->setCurrentIndex(status->findData(QStringLiteral("finished")));
    QCOMPARE(m_panel->visibleRowCount(), 3);
    status->setCurrentIndex(status->findData(QStringLiteral("running")));
    QCOMPARE(column(HistoryModel::Name), QStringList{"live"});
    status->setCurrentIndex(0);

    QComboBox* pair = m_panel->pairFilter();
    QCOMPARE(pair->itemText(0), QStringLiteral("All pairs"));
    QCOMPARE(pair->count(), 5);  // resnet110 -> resnet32, resnet56, resnet56 -> resnet20, wrn40_2 -> wrn16_2
    const int r56r20 = pair->findData(QStringLiteral("resnet56 -> resnet20"));
    QVERIFY(r56r20 > 0);
    pair->setCurrentIndex(r56r20);
    QCOMPARE(m_panel->visibleRowCount(), 4);

    // Filters combine.
    status->setCurrentIndex(status->findData(QStringLiteral("finished")));
    QCOMPARE(column(HistoryModel::Name), QStringList({"rkd no abf", "rkd full"}));
    status->setCurrentIndex(0);
    pair->setCurrentIndex(0);

    QComboBox* tag = m_panel->tagFilter();
    QCOMPARE(tag->itemText(0), QStringLiteral("All tags"));
    QCOMPARE(tag->count(), 3);  // baseline, paper
    tag->setCurrentIndex(tag->findData(QStringLiteral("paper")));
    QCOMPARE(column(HistoryModel::Name), QStringList({"kd wrn", "rkd full"}));
    tag->setCurrentIndex(tag->findData(QStringLiteral("baseline")));
    QCOMPARE(column(HistoryModel::Name), QStringList{"teacher resnet56"});
    tag->setCurrentIndex(0);
    QCOMPARE(m_panel->visibleRowCount(), 7);
  }

  void sortsNumerically() {
    m_panel->table()->sortByColumn(HistoryModel::Best, Qt::AscendingOrder);
    const QStringList best = column(HistoryModel::Best);
    // As text "10.20" < "80.10" < "9.50"; as numbers 9.5 < 10.2 < 55 < 72.3 < 80.1, runs without a value first.
    QCOMPARE(best, QStringList({"–", "–", "9.50", "10.20", "55.00", "72.30", "80.10"}));
    m_panel->table()->sortByColumn(HistoryModel::Best, Qt::DescendingOrder);
    QCOMPARE(column(HistoryModel::Best).first(), QStringLiteral("80.10"));

    m_panel->table()->sortByColumn(HistoryModel::Name, Qt::AscendingOrder);
    QCOMPARE(column(HistoryModel::Name).first(), QStringLiteral("crashed"));
    m_panel->table()->sortByColumn(HistoryModel::Id, Qt::DescendingOrder);
    QCOMPARE(column(HistoryModel::Id).first().toLongLong(), m_running);
  }

  void selectionDiffsConfigsAndOverlaysCurves() {
    QSignalSpy changed(m_panel.get(), &HistoryPanel::selectionChanged);
    m_panel->selectRuns({m_full, m_noAbf});
    QCOMPARE(changed.count(), 1);
    QCOMPARE(m_panel->selectedRunIds(), (std::vector<int64_t>{m_noAbf, m_full}));  // visible order: newest first

    QTableWidget* diff = m_panel->diffTable();
    QCOMPARE(diff->columnCount(), 2);
    QCOMPARE(diff->rowCount(), 2);
    QSet<QString> fields;
    for (int r = 0; r < diff->rowCount(); ++r) fields << diff->verticalHeaderItem(r)->text();
    QCOMPARE(fields, (QSet<QString>{"review.abf", "optim.lr"}));
    for (int r = 0; r < diff->rowCount(); ++r) {
      const QString field = diff->verticalHeaderItem(r)->text();
      if (field == QLatin1String("review.abf")) {
        QCOMPARE(diff->item(r, 0)->text(), QStringLiteral("false"));
        QCOMPARE(diff->item(r, 1)->text(), QStringLiteral("true"));
      } else {
        QCOMPARE(diff->item(r, 0)->text().toDouble(), 0.1);
        QCOMPARE(diff->item(r, 1)->text().toDouble(), 0.05);
      }
    }
    QCOMPARE(diff->horizontalHeaderItem(0)->text(), QStringLiteral("#%1 rkd no abf").arg(m_noAbf));
    QVERIFY2(m_panel->diffLabel()->text().startsWith(QStringLiteral("2 runs differ in 2 fields")),
             qPrintable(m_panel->diffLabel()->text()));

    QCustomPlot* plot = m_panel->overlayPlot();
    QCOMPARE(m_panel->overlayMetric()->currentText(), QStringLiteral("test/top1"));
    QCOMPARE(plot->graphCount(), 2);
    QCOMPARE(plot->graph(0)->name(), QStringLiteral("#%1 rkd no abf").arg(m_noAbf));
    QCOMPARE(plot->graph(1)->name(), QStringLiteral("#%1 rkd full").arg(m_full));
    QCOMPARE(plot->graph(1)->dataCount(), 5);
    QCOMPARE(plot->graph(1)->data()->at(3)->key, 4.0);  // stored epoch 3, shown counted from 1
    QCOMPARE(plot->graph(1)->data()->at(3)->value, 80.1);
    QCOMPARE(plot->xAxis->label(), QStringLiteral("epoch"));
    QVERIFY(plot->graph(0)->pen().color() != plot->graph(1)->pen().color());

    // A per-step metric: plotted against the step.
    m_panel->overlaySmoothing()->setValue(0);
    m_panel->overlayMetric()->setCurrentText(QStringLiteral("train/loss"));
    QCOMPARE(plot->graphCount(), 2);
    QCOMPARE(plot->xAxis->label(), QStringLiteral("step"));
    QCOMPARE(plot->graph(0)->dataCount(), 50);
    QCOMPARE(plot->graph(0)->data()->at(49)->key, 49.0);
    QCOMPARE(plot->graph(0)->data()->at(10)->value, 2.0);
    m_panel->overlaySmoothing()->setValue(0.6);
    QVERIFY(plot->graph(0)->data()->at(10)->value > 2.0);  // smoothed: the falling loss lags
    m_panel->overlayMetric()->setCurrentText(QStringLiteral("test/top1"));

    // Three runs: a third column; the teacher differs in many more fields.
    m_panel->selectRuns({m_full, m_noAbf, m_teacher});
    QCOMPARE(diff->columnCount(), 3);
    QVERIFY(diff->rowCount() > 2);
    QCOMPARE(plot->graphCount(), 3);

    // One run: no diff, one curve.
    m_panel->selectRuns({m_full});
    QCOMPARE(diff->rowCount(), 0);
    QCOMPARE(m_panel->diffLabel()->text(), QStringLiteral("Select two or more runs to compare their configs"));
    QCOMPARE(plot->graphCount(), 1);
    QCOMPARE(changed.count(), 3);

    // Filtering a selected run out drops it from the selection.
    m_panel->selectRuns({m_full, m_kd});
    m_panel->filterEdit()->setText(QStringLiteral("wrn"));
    QCOMPARE(m_panel->selectedRunIds(), std::vector<int64_t>{m_kd});
    QCOMPARE(plot->graphCount(), 1);
  }

  void actionsFollowSelectionAndState() {
    m_panel->selectRuns({});
    QVERIFY(!m_panel->deleteAction()->isEnabled());
    QVERIFY(!m_panel->exportAction()->isEnabled());
    QVERIFY(!m_panel->detailsAction()->isEnabled());
    QVERIFY(m_panel->refreshAction()->isEnabled());

    m_panel->selectRuns({m_teacher});
    QVERIFY(m_panel->useAsTeacherAction()->isEnabled());
    QVERIFY(m_panel->onnxAction()->isEnabled());
    QVERIFY(!m_panel->resumeAction()->isEnabled());
    QVERIFY(m_panel->detailsAction()->isEnabled());
    QVERIFY(!m_panel->compareAction()->isEnabled());

    m_panel->selectRuns({m_kd});
    QVERIFY(m_panel->resumeAction()->isEnabled());
    QVERIFY(!m_panel->useAsTeacherAction()->isEnabled());

    m_panel->selectRuns({m_interrupted});
    QVERIFY(m_panel->resumeAction()->isEnabled());

    m_panel->selectRuns({m_running});
    QVERIFY(!m_panel->deleteAction()->isEnabled());
    QVERIFY(!m_panel->resumeAction()->isEnabled());
    QVERIFY(!m_panel->useAsTeacherAction()->isEnabled());

    m_panel->selectRuns({m_failed});  // no epoch done: nothing to export
    QVERIFY(!m_panel->onnxAction()->isEnabled());

    m_panel->selectRuns({m_full, m_noAbf});
    QVERIFY(m_panel->compareAction()->isEnabled());
    QVERIFY(!m_panel->detailsAction()->isEnabled());
    QVERIFY(!m_panel->onnxAction()->isEnabled());
    QVERIFY(!m_panel->useAsTeacherAction()->isEnabled());
    QVERIFY(m_panel->deleteAction()->isEnabled());
  }

  void teacherAndResumeSignals() {
    QSignalSpy teacher(m_panel.get(), &HistoryPanel::useAsTeacherRequested);
    QSignalSpy resume(m_panel.get(), &HistoryPanel::resumeRequested);

    m_panel->selectRuns({m_full});
    m_panel->useAsTeacherAction()->trigger();
    QCOMPARE(teacher.count(), 1);
    QCOMPARE(teacher.at(0).at(0).toLongLong(), m_full);
    m_panel->resumeAction()->trigger();  // disabled for a finished run
    QCOMPARE(resume.count(), 0);

    m_panel->selectRuns({m_interrupted});
    m_panel->resumeAction()->trigger();
    QCOMPARE(resume.count(), 1);
    QCOMPARE(resume.at(0).at(0).toLongLong(), m_interrupted);
    m_panel->useAsTeacherAction()->trigger();  // not finished: no signal
    QCOMPARE(teacher.count(), 1);

    m_panel->selectRuns({m_kd});
    m_panel->resumeAction()->trigger();
    QCOMPARE(resume.count(), 2);
    QCOMPARE(resume.at(1).at(0).toLongLong(), m_kd);
  }

  void tagsAndNotesGoToTheStore() {
    m_panel->selectRuns({m_full, m_noAbf});
    m_panel->addTagToSelected(QStringLiteral("  ablation "));
    QCOMPARE(m_store->tags(m_full), (std::vector<std::string>{"ablation", "paper"}));
    QCOMPARE(m_store->tags(m_noAbf), std::vector<std::string>{"ablation"});
    QVERIFY(m_panel->tagFilter()->findData(QStringLiteral("ablation")) > 0);
    QCOMPARE(m_panel->selectedRunIds(), (std::vector<int64_t>{m_noAbf, m_full}));  // kept across the refresh
    QVERIFY(column(HistoryModel::Tags).contains(QStringLiteral("ablation, paper")));

    m_panel->tagFilter()->setCurrentIndex(m_panel->tagFilter()->findData(QStringLiteral("ablation")));
    QCOMPARE(m_panel->visibleRowCount(), 2);
    m_panel->tagFilter()->setCurrentIndex(0);

    m_panel->removeTagFromSelected(QStringLiteral("ablation"));
    QCOMPARE(m_store->tags(m_full), std::vector<std::string>{"paper"});
    QVERIFY(m_store->tags(m_noAbf).empty());
    QCOMPARE(m_panel->tagFilter()->findData(QStringLiteral("ablation")), -1);

    m_panel->addTagToSelected(QStringLiteral("   "));  // refused, with a message
    QVERIFY(!m_panel->statusLabel()->text().isEmpty());
    QVERIFY(m_store->tags(m_noAbf).empty());

    m_panel->addNoteToSelected(QStringLiteral("lr 0.1 hurts without ABF"));
    QCOMPARE(m_store->notes(m_full).size(), size_t(1));
    QCOMPARE(m_store->notes(m_noAbf).size(), size_t(1));
    QCOMPARE(m_store->notes(m_noAbf).front().text, std::string("lr 0.1 hurts without ABF"));
  }

  void tagsDialogAddsAndRemoves() {
    m_panel->selectRuns({m_full, m_noAbf});
    m_panel->setInteractive(true);
    bool sawDialog = false;
    QString paperState, error;
    // The dialog is modal: drive it from a timer; a second timer rejects it should the first fail.
    QTimer::singleShot(100, m_panel.get(), [&] {
      auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      sawDialog = true;
      auto* list = dialog->findChild<QListWidget*>();
      auto* edit = dialog->findChild<QLineEdit*>();
      if (!list || !edit) {
        error = QStringLiteral("no list or line edit");
        dialog->reject();
        return;
      }
      for (int i = 0; i < list->count(); ++i) {
        QListWidgetItem* item = list->item(i);
        if (item->text() == QLatin1String("paper")) paperState = QString::number(int(item->checkState()));
        if (item->text() == QLatin1String("baseline")) item->setCheckState(Qt::Checked);
      }
      edit->setText(QStringLiteral("sweep-3"));  // typed, not added: OK still applies it
      dialog->accept();
    });
    QTimer::singleShot(5000, m_panel.get(), [] {
      if (auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget())) dialog->reject();
    });
    m_panel->tagsAction()->trigger();
    m_panel->setInteractive(false);
    QVERIFY(sawDialog);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(paperState, QString::number(int(Qt::PartiallyChecked)));  // one of the two runs has it
    QCOMPARE(m_store->tags(m_full), (std::vector<std::string>{"baseline", "paper", "sweep-3"}));  // paper kept
    QCOMPARE(m_store->tags(m_noAbf), (std::vector<std::string>{"baseline", "sweep-3"}));
    m_panel->removeTagFromSelected(QStringLiteral("baseline"));
    m_panel->removeTagFromSelected(QStringLiteral("sweep-3"));
    QCOMPARE(m_store->tags(m_full), std::vector<std::string>{"paper"});
    QVERIFY(m_store->tags(m_noAbf).empty());
  }

  void exportsSelectionAsCsv() {
    const QString path = m_dir + QStringLiteral("/export.csv");
    m_panel->selectRuns({});
    QVERIFY(!m_panel->exportSelectionCsv(path));  // nothing selected
    QVERIFY(!QFileInfo::exists(path));

    m_panel->selectRuns({m_full, m_noAbf});
    QVERIFY(m_panel->exportSelectionCsv(path));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.first(), QStringLiteral("run_id,run_name,epoch,step,key,value"));
    QCOMPARE(lines.size(), 1 + 2 * (5 + 50));
    QVERIFY(lines.at(1).startsWith(QStringLiteral("%1,rkd no abf,").arg(m_noAbf)));

    // An unwritable destination: false, and the message says why.
    const QString bad = m_dir + QStringLiteral("/best.pt/inside-a-file.csv");
    QVERIFY(!m_panel->exportSelectionCsv(bad));
    QVERIFY2(m_panel->statusLabel()->text().contains(QStringLiteral("CSV")), qPrintable(m_panel->statusLabel()->text()));
  }

  void refreshPicksUpNewRunsAndKeepsSelection() {
    m_panel->selectRuns({m_full});
    QVERIFY(!m_panel->refreshIfChanged());  // nothing changed since the last refresh
    const int64_t id = addRun({"fresh", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 0);
    m_store->finishRun(id);
    QVERIFY(m_panel->refreshIfChanged());
    QCOMPARE(m_panel->visibleRowCount(), 8);
    QCOMPARE(m_panel->selectedRunIds(), std::vector<int64_t>{m_full});
    QVERIFY(!m_panel->refreshIfChanged());

    // A change of a listed run (a new epoch) is seen too.
    m_store->recordEpoch(id, 1, 33.3);
    QVERIFY(m_panel->refreshIfChanged());
    QVERIFY(column(HistoryModel::Best).contains(QStringLiteral("33.30")));

    m_store->deleteRun(id);
    QVERIFY(m_panel->refreshIfChanged());
    QCOMPARE(m_panel->visibleRowCount(), 7);
  }

  void deleteRemovesFromStore() {
    const int64_t id = addRun({"to delete", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 1);
    m_store->finishRun(id);
    m_panel->refresh();
    QCOMPARE(m_panel->visibleRowCount(), 8);
    m_panel->selectRuns({id});
    QVERIFY(m_panel->deleteSelected(true));  // not interactive: the confirmation is accepted
    QVERIFY(!m_store->getRun(id));
    QCOMPARE(m_panel->visibleRowCount(), 7);
    QVERIFY(m_panel->selectedRunIds().empty());

    // A running run is kept.
    m_panel->selectRuns({m_running});
    QVERIFY(!m_panel->deleteSelected(false));
    QVERIFY(m_store->getRun(m_running).has_value());
    QVERIFY(m_panel->statusLabel()->text().contains(QStringLiteral("running")));
  }

  void storeErrorsBecomeMessages() {
    const QString bogus = m_dir + QStringLiteral("/not-a-store.sqlite");
    QFile f(bogus);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(4096, 'x'));
    f.close();
    m_panel->setStorePath(bogus);
    QCOMPARE(m_panel->visibleRowCount(), 0);
    QVERIFY2(m_panel->statusLabel()->text().contains(QStringLiteral("not-a-store")), qPrintable(m_panel->statusLabel()->text()));
    QVERIFY(!m_panel->refreshAction()->isEnabled());

    m_panel->setStorePath(m_path);
    QCOMPARE(m_panel->visibleRowCount(), 7);
  }

  void detailDialogShowsEverything() {
    rkd::services::RunHistory history(m_path.toStdString());
    RunDetailDialog dialog(history, m_full, m_panel.get());
    QTabWidget* tabs = dialog.tabs();
    QCOMPARE(tabs->count(), 5);
    QCOMPARE(tabs->tabText(0), QStringLiteral("Config"));
    QCOMPARE(tabs->tabText(2), QStringLiteral("Per-class accuracy"));
    QCOMPARE(tabs->tabText(3), QStringLiteral("Checkpoints"));
    QVERIFY(dialog.configView()->isReadOnly());
    QVERIFY(dialog.configView()->toPlainText().contains(QStringLiteral("\"abf\": true")));
    QVERIFY(dialog.headerLabel()->text().contains(QStringLiteral("80.10")));

    QVERIFY(dialog.lossPlot()->graphCount() >= 1);
    QCOMPARE(dialog.lossPlot()->graph(0)->dataCount(), 50);
    QVERIFY(dialog.accuracyPlot()->graphCount() >= 1);
    QCOMPARE(dialog.accuracyPlot()->graph(0)->dataCount(), 5);

    QTableWidget* classes = dialog.classAccuracyTable();
    QCOMPARE(classes->rowCount(), 10);
    QCOMPARE(classes->item(9, 1)->text(), QStringLiteral("class9"));
    QCOMPARE(classes->item(9, 2)->text(), QStringLiteral("95.0"));  // fractions shown as percent

    QTableWidget* checkpoints = dialog.checkpointTable();
    QCOMPARE(checkpoints->rowCount(), 2);
    QCOMPARE(checkpoints->item(0, 1)->text(), QStringLiteral("best"));
    QCOMPARE(checkpoints->item(0, 2)->text(), QStringLiteral("yes"));
    QCOMPARE(checkpoints->item(1, 1)->text(), QStringLiteral("last"));
    QCOMPARE(checkpoints->item(1, 2)->text(), QStringLiteral("missing"));

    QCOMPARE(dialog.notesList()->count(), 1);  // from tagsAndNotesGoToTheStore
    QSignalSpy changed(&dialog, &RunDetailDialog::runChanged);
    QVERIFY(dialog.addNote(QStringLiteral("second note")));
    QCOMPARE(dialog.notesList()->count(), 2);
    QCOMPARE(m_store->notes(m_full).size(), size_t(2));
    QVERIFY(dialog.addTag(QStringLiteral("reviewed")));
    QVERIFY(dialog.tagsLabel()->text().contains(QStringLiteral("reviewed")));
    QCOMPARE(changed.count(), 2);
    QVERIFY(dialog.removeTag(QStringLiteral("reviewed")));
    QVERIFY(!dialog.removeTag(QStringLiteral("never-there")));
    QCOMPARE(m_store->tags(m_full), std::vector<std::string>{"paper"});
    const qint64 second = dialog.notesList()->item(1)->data(Qt::UserRole).toLongLong();
    QVERIFY(dialog.removeNote(second));
    QCOMPARE(dialog.notesList()->count(), 1);
    QCOMPARE(m_store->notes(m_full).size(), size_t(1));
    QCOMPARE(changed.count(), 4);

    dialog.show();
    QVERIFY(dialog.isVisible());
    for (int i = tabs->count() - 1; i >= 0; --i) tabs->setCurrentIndex(i);  // each page lays out; ends on Config
    tabs->setCurrentIndex(1);
    dialog.resize(1000, 700);
    QTest::qWait(50);
    rkdtest::saveScreenshot(&dialog, QStringLiteral("run-detail"));
    dialog.close();

    RunDetailDialog missing(history, 999999, m_panel.get());
    QCOMPARE(missing.tabs()->count(), 0);
    QVERIFY(missing.headerLabel()->text().contains(QStringLiteral("999999")));
  }

  void openDetailReusesItsDialog() {
    m_panel->openDetail(m_teacher);
    m_panel->openDetail(m_teacher);
    QCOMPARE(m_panel->openDetailDialogs().size(), 1);
    RunDetailDialog* d = m_panel->openDetailDialogs().front();
    QCOMPARE(d->runId(), m_teacher);
    QVERIFY(d->isVisible());
    QVERIFY(!d->isModal());
    QCOMPARE(d->parentWidget(), static_cast<QWidget*>(m_panel.get()));
    m_panel->openDetail(m_kd);
    QCOMPARE(m_panel->openDetailDialogs().size(), 2);
    // Changing the store closes them (they hold a reference to the old connection).
    m_panel->setStorePath(m_path);
    QCOMPARE(m_panel->openDetailDialogs().size(), 0);
  }

  // A really trained run (a one-epoch resnet8 on a tiny synthetic MNIST, in a store of its own) leaves the
  // studio as an ONNX model: the file parses with ONNX's own classes and has the run's input shape.
  void exportsOnnxOfATrainedRun() {
    const QString dir = rkdtest::guiTempDir(QStringLiteral("onnx"));
    const QString storePath = dir + QStringLiteral("/runs.sqlite");
    rkd::RunConfig c = rkd::findPreset("quick").teacher;
    c.name = "onnx source";
    c.student = "resnet8";
    c.data.kind = "mnist";
    c.data.path = rkdtest::syntheticMnistDir(20, 10).toStdString();
    c.data.perClass = 0;
    c.optim.epochs = 1;
    c.optim.batchSize = 40;
    c.device = "cpu";
    c.threads = 2;
    c.snapshotEvery = 0;
    rkd::services::TrainingService session(storePath.toStdString());
    const rkd::RunOutcome trained = session.start(c, {});
    QVERIFY2(trained.status == rkd::RunStatus::Finished, trained.message.c_str());

    HistoryPanel panel;
    panel.setInteractive(false);
    panel.setStorePath(storePath);
    panel.selectRuns({trained.runId});
    QVERIFY(panel.onnxAction()->isEnabled());
    const QString path = dir + QStringLiteral("/run.onnx");
    QVERIFY2(panel.exportOnnx(trained.runId, path), qPrintable(panel.statusLabel()->text()));
    QVERIFY2(panel.statusLabel()->text().contains(QStringLiteral("1x1x28x28")), qPrintable(panel.statusLabel()->text()));

    std::ifstream in(path.toStdString(), std::ios::binary);
    onnx::ModelProto model;
    QVERIFY(model.ParseFromIstream(&in));
    QCOMPARE(model.graph().input(0).name(), std::string("input"));
    QCOMPARE(model.graph().output(0).name(), std::string("logits"));
    std::vector<int64_t> dims;
    for (const auto& d : model.graph().input(0).type().tensor_type().shape().dim()) dims.push_back(d.dim_value());
    QCOMPARE(dims, (std::vector<int64_t>{1, 1, 28, 28}));
    QVERIFY(model.graph().node_size() > 10);
    for (const auto& node : model.graph().node()) QVERIFY(node.op_type() != "Identity" && node.op_type() != "BatchNormalization");

    // A run that is not in the store says so, and writes nothing.
    const QString other = dir + QStringLiteral("/missing.onnx");
    QVERIFY(!panel.exportOnnx(987654, other));
    QVERIFY(panel.statusLabel()->text().contains(QStringLiteral("987654")));
    QVERIFY(!QFileInfo::exists(other));
  }

  void screenshot() {
    m_panel->resize(1400, 800);
    m_panel->show();
    m_panel->selectRuns({m_full, m_noAbf, m_teacher});

    // While visible, the panel's timer picks up a run another connection writes.
    const int64_t id = addRun({"from the trainer", "student", "reviewkd", "resnet56", "resnet20", true, 0.05, "cpu"}, 80);
    QTRY_COMPARE_WITH_TIMEOUT(m_panel->visibleRowCount(), 8, 6000);
    QCOMPARE(m_panel->selectedRunIds().size(), size_t(3));
    m_store->finishRun(id, rkd::RunStatus::Stopped);  // a run still being trained is not deleted (issue 11)
    m_store->deleteRun(id);
    QTRY_COMPARE_WITH_TIMEOUT(m_panel->visibleRowCount(), 7, 6000);

    QTest::qWait(200);
    const QString path = rkdtest::saveScreenshot(m_panel.get(), QStringLiteral("history"));
    QVERIFY(QFileInfo(path).size() > 10000);
    m_panel->hide();
  }
};

QTEST_MAIN(TestHistoryPanel)
#include "test_history_panel.moc"
