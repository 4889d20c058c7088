// The live training view, the stage feature view and the heatmap widget, fed with synthesized progress structs
// (no trainer).
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

#include "gui_support.h"
#include "widgets/feature_view.h"
#include "widgets/heatmap_widget.h"
#include "widgets/live_view.h"
#include "widgets/plot_style.h"

using rkd::gui::FeatureView;
using rkd::gui::HeatmapWidget;
using rkd::gui::LiveView;

namespace {

/// `count` steps from global step `first` of a run with `levels` level losses; deterministic, plausible.
std::vector<rkd::StepProgress> makeSteps(int64_t first, int count, int levels, int64_t stepsPerEpoch = 60,
                                         int epochs = 5, double kd = 0) {
  std::vector<rkd::StepProgress> steps;
  for (int i = 0; i < count; ++i) {
    rkd::StepProgress p;
    p.runId = 7;
    p.step = first + i;
    p.epochs = epochs;
    p.stepsPerEpoch = stepsPerEpoch;
    p.epoch = static_cast<int>(p.step / stepsPerEpoch);
    p.stepInEpoch = p.step % stepsPerEpoch;
    const double t = static_cast<double>(p.step);
    const double wiggle = 0.15 * std::sin(t * 1.7) + 0.08 * std::cos(t * 4.1);
    p.ce = 2.3 * std::exp(-t / 120.0) + 0.25 + 0.3 * wiggle;
    p.review = 0;
    for (int l = 0; l < levels; ++l) {
      const double v = (0.9 - 0.2 * l) * std::exp(-t / (150.0 + 40 * l)) + 0.05 + 0.05 * wiggle * (l + 1) / levels;
      p.levelLosses.push_back(v);
      p.levelLabels.push_back("level " + std::to_string(l + 1));
      p.review += v;
    }
    p.kd = kd;
    p.reviewFactor = std::min(1.0, (p.epoch + 1) / 2.0);
    p.loss = p.ce + p.review * p.reviewFactor + kd;
    p.lr = p.epoch < 3 ? 0.1 : 0.01;
    p.imagesPerSecond = 512;
    p.etaSeconds = 250;
    steps.push_back(p);
  }
  return steps;
}

rkd::EpochProgress makeEpoch(int epoch, double valTop1 = -1) {
  rkd::EpochProgress e;
  e.runId = 7;
  e.epoch = epoch;
  e.epochs = 5;
  e.trainTop1 = 60 + 7 * epoch;
  e.testTop1 = 62 + 6 * epoch - (epoch == 3 ? 2 : 0);
  e.valTop1 = valTop1;
  e.bestTop1 = 62 + 6 * epoch;
  e.lr = epoch < 3 ? 0.1 : 0.01;
  return e;
}

QVector<double> graphValues(QCPGraph* g) {
  QVector<double> v;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) v.append(it->value);
  return v;
}

/// A C x H x W map whose value is a known function of (c, y, x).
rkd::FeatureMap makeMap(int64_t c, int64_t h, int64_t w, double offset) {
  rkd::FeatureMap m;
  m.shape = {c, h, w};
  m.values.resize(static_cast<size_t>(c * h * w));
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        m.values[static_cast<size_t>((k * h + y) * w + x)] =
            static_cast<float>(offset + 0.1 * k + 0.05 * y - 0.02 * x + 0.3 * std::sin(0.7 * k * x + 0.3 * y));
  return m;
}

/// Min and max of one channel (or of the channel mean when channel < 0) of a map.
std::pair<double, double> planeRange(const rkd::FeatureMap& m, int channel) {
  const int64_t c = m.shape[0], hw = m.shape[1] * m.shape[2];
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int64_t i = 0; i < hw; ++i) {
    double v = 0;
    if (channel >= 0) {
      v = m.values[static_cast<size_t>(channel * hw + i)];
    } else {
      for (int64_t k = 0; k < c; ++k) v += m.values[static_cast<size_t>(k * hw + i)];
      v = static_cast<float>(v / static_cast<double>(c));
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi};
}

rkd::FeatureSnapshot makeSnapshot() {
  rkd::FeatureSnapshot s;
  s.runId = 7;
  s.epoch = 2;
  s.step = 140;
  s.probeIndex = 12;
  s.probeLabel = 7;
  s.probeImage.shape = {1, 8, 8};
  for (int i = 0; i < 64; ++i) s.probeImage.values.push_back(static_cast<float>(i) / 63.0f);
  for (int l = 0; l < 3; ++l) {
    rkd::LevelSnapshot level;
    level.label = "level " + std::to_string(l + 1);
    const int64_t channels = l == 2 ? 8 : 16;
    level.teacher = makeMap(channels, 8, 8, 0.0);
    level.reviewOutput = makeMap(channels, 8, 8, 0.05 * (l + 1));
    for (size_t i = 0; i < level.reviewOutput.values.size(); i += 3) level.reviewOutput.values[i] -= 0.4f;
    if (l < 2) {
      level.attentionCurrent = makeMap(1, 8, 8, 0.4);
      level.attentionResidual = makeMap(1, 8, 8, 0.2);
    }
    level.loss = 0.0123 * (l + 1);
    s.levels.push_back(level);
  }
  return s;
}

// --- plausible data for the screenshots ---------------------------------------------------------------------

double noise(uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return static_cast<double>(state >> 8) / static_cast<double>(1u << 24) - 0.5;
}

/// A smooth C x H x W feature: per channel, a couple of Gaussian blobs placed by the channel index.
rkd::FeatureMap smoothFeature(int64_t c, int64_t h, int64_t w, double shift, uint32_t seed) {
  rkd::FeatureMap m;
  m.shape = {c, h, w};
  m.values.resize(static_cast<size_t>(c * h * w));
  for (int64_t k = 0; k < c; ++k) {
    const double cx = (0.5 + 0.35 * std::sin(1.3 * k + seed)) * w + shift * w;
    const double cy = (0.5 + 0.35 * std::cos(0.9 * k + seed)) * h;
    const double sx = 0.12 * w + 0.05 * w * std::sin(k * 0.5);
    const double sy = 0.15 * h;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double dx = (x - cx) / sx, dy = (y - cy) / sy;
        const double ring = std::exp(-((x - w / 2.0) * (x - w / 2.0) + (y - h / 2.0) * (y - h / 2.0)) / (0.1 * w * h));
        m.values[static_cast<size_t>((k * h + y) * w + x)] =
            static_cast<float>(1.6 * std::exp(-0.5 * (dx * dx + dy * dy)) + 0.5 * ring - 0.15);
      }
  }
  return m;
}

rkd::FeatureMap attentionMap(int64_t h, int64_t w, double phase) {
  rkd::FeatureMap m;
  m.shape = {1, h, w};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double z = 1.8 * std::sin(3.0 * x / w + phase) * std::cos(2.5 * y / h - phase) + 0.3;
      m.values.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-z))));
    }
  return m;
}

rkd::FeatureSnapshot plausibleSnapshot() {
  rkd::FeatureSnapshot s;
  s.runId = 7;
  s.epoch = 4;
  s.step = 1150;
  s.probeIndex = 12;
  s.probeLabel = 9;
  s.probeImage.shape = {1, 28, 28};
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      // An ankle-boot-like silhouette.
      const bool shaft = x >= 13 && x <= 22 && y >= 5 && y <= 20;
      const bool foot = x >= 4 && x <= 24 && y >= 16 && y <= 23;
      const double v = (shaft || foot) ? 0.55 + 0.35 * std::sin(0.4 * x) * std::cos(0.3 * y) : 0.0;
      s.probeImage.values.push_back(static_cast<float>(std::clamp(v, 0.0, 1.0)));
    }
  struct L {
    int64_t c, h, w;
    bool abf;
  };
  const L levels[] = {{16, 32, 32, true}, {32, 16, 16, true}, {64, 8, 8, true}, {64, 1, 1, false}};
  uint32_t state = 5;
  for (int l = 0; l < 4; ++l) {
    const L& d = levels[l];
    rkd::LevelSnapshot level;
    level.label = "level " + std::to_string(l + 1) + ": teacher " + std::to_string(d.c) + "@" + std::to_string(d.h) +
                  "x" + std::to_string(d.w) + (d.h == 1 ? " (pooled)" : "");
    level.teacher = smoothFeature(d.c, d.h, d.w, 0.0, static_cast<uint32_t>(l));
    level.reviewOutput = smoothFeature(d.c, d.h, d.w, 0.04, static_cast<uint32_t>(l));
    for (float& v : level.reviewOutput.values) v = static_cast<float>(0.9 * v + 0.08 * noise(state));
    if (d.abf) {
      level.attentionCurrent = attentionMap(d.h, d.w, 0.3 * l);
      level.attentionResidual = attentionMap(d.h, d.w, 1.7 + 0.3 * l);
      for (size_t i = 0; i < level.attentionResidual.values.size(); ++i)
        level.attentionResidual.values[i] = 1.0f - level.attentionCurrent.values[i] * 0.8f;
    }
    level.loss = 0.042 / (l + 1) + 0.003;
    s.levels.push_back(level);
  }
  return s;
}

}  // namespace

class TestLiveViews : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void heatmapMinMax();
  void heatmapDivergingAndClear();
  void heatmapSingleCell();
  void liveViewStepsAndCoalescing();
  void liveViewSmoothing();
  void liveViewKdAndLevelsAppearLate();
  void liveViewProgressAndEpochs();
  void liveViewEndRun_data();
  void liveViewEndRun();
  void liveViewLogAndStatus();
  void liveViewFollowAndReset();
  void liveViewLogScale();
  void liveViewLegendToggle();
  void liveViewLongRunStaysCheap();
  void featureViewSnapshot();
  void featureViewChannels();
  void featureViewProbe();
  void featureViewClear();
  void hiddenViewsDrawWhenShown();
  void screenshots();
};

void TestLiveViews::heatmapMinMax() {
  HeatmapWidget map(QStringLiteral("teacher"));
  QCOMPARE(map.title(), QStringLiteral("teacher"));
  QVERIFY(!map.hasData());
  map.setMap(3, 2, {0.5f, -1.25f, 2.0f, 3.5f, 0.0f, 1.0f});
  QVERIFY(map.hasData());
  QCOMPARE(map.mapWidth(), 3);
  QCOMPARE(map.mapHeight(), 2);
  QCOMPARE(map.minValue(), -1.25);
  QCOMPARE(map.maxValue(), 3.5);
  QCOMPARE(map.valueAt(0, 1), 3.5);  // row-major: (x 0, y 1) is the fourth value
  QCOMPARE(map.valueAt(2, 0), 2.0);
  QVERIFY(std::isnan(map.valueAt(3, 0)));
  // Sequential: the colour range is the data range.
  QVERIFY(!map.isDiverging());
  QCOMPARE(map.colorLower(), -1.25);
  QCOMPARE(map.colorUpper(), 3.5);
  // A new map replaces the old one.
  map.setMap(2, 2, {4.0f, 5.0f, 6.0f, 7.0f});
  QCOMPARE(map.minValue(), 4.0);
  QCOMPARE(map.maxValue(), 7.0);
  // NaN cells are ignored by min/max.
  map.setMap(2, 1, {std::numeric_limits<float>::quiet_NaN(), 0.25f});
  QCOMPARE(map.minValue(), 0.25);
  QCOMPARE(map.maxValue(), 0.25);
  QVERIFY(map.colorUpper() > map.colorLower());  // a constant map still gets a usable range
}

void TestLiveViews::heatmapDivergingAndClear() {
  HeatmapWidget map(QStringLiteral("difference"));
  map.setDiverging(true);
  map.setMap(2, 2, {-0.5f, 0.25f, 1.5f, 0.0f});
  QVERIFY(map.isDiverging());
  QCOMPARE(map.minValue(), -0.5);
  QCOMPARE(map.maxValue(), 1.5);
  QCOMPARE(map.colorLower(), -1.5);
  QCOMPARE(map.colorUpper(), 1.5);
  map.setColorRange(-3, 3);
  QCOMPARE(map.colorLower(), -3.0);
  map.clear(QStringLiteral("no ABF at this level"));
  QVERIFY(!map.hasData());
  QCOMPARE(map.clearReason(), QStringLiteral("no ABF at this level"));
  QCOMPARE(map.title(), QStringLiteral("difference"));
  // Too few values for the shape: cleared, not a crash.
  map.setMap(4, 4, {1.0f, 2.0f});
  QVERIFY(!map.hasData());
}

void TestLiveViews::heatmapSingleCell() {
  HeatmapWidget map(QStringLiteral("pooled"));
  map.resize(200, 180);
  map.setMap(1, 1, {0.75f});
  QVERIFY(map.hasData());
  QCOMPARE(map.minValue(), 0.75);
  QCOMPARE(map.valueAt(0, 0), 0.75);
  map.plot()->replot();
  const QImage image = map.plot()->toPixmap(200, 180).toImage();
  QVERIFY(!image.isNull());
}

void TestLiveViews::liveViewStepsAndCoalescing() {
  LiveView view;
  view.beginRun(7, QStringLiteral("resnet56 \u2192 resnet20"));
  QCOMPARE(view.titleLabel()->text(), QStringLiteral("resnet56 \u2192 resnet20"));
  const int before = view.replotCount();
  view.addSteps(makeSteps(0, 100, 3));
  QCOMPARE(view.replotCount(), before + 1);

  QCustomPlot* loss = view.lossPlot();
  for (const char* name : {"total", "CE", "review", "level 1", "level 2", "level 3"}) {
    QCPGraph* g = LiveView::graphNamed(loss, QString::fromLatin1(name));
    QVERIFY2(g, name);
    QCOMPARE(g->dataCount(), 100);
  }
  QVERIFY(!LiveView::graphNamed(loss, QStringLiteral("KD")));  // every KD loss was 0
  QCOMPARE(loss->graphCount(), 6);
  QCOMPARE(view.lrPlot()->graphCount(), 1);
  QCOMPARE(view.lrPlot()->graph(0)->dataCount(), 100);

  // Each batch: exactly one replot request, the data appended.
  view.addSteps(makeSteps(100, 40, 3));
  QCOMPARE(view.replotCount(), before + 2);
  view.addSteps(makeSteps(140, 1, 3));
  QCOMPARE(view.replotCount(), before + 3);
  QCOMPARE(LiveView::graphNamed(loss, QStringLiteral("total"))->dataCount(), 141);
  QCOMPARE(LiveView::graphNamed(loss, QStringLiteral("level 3"))->dataCount(), 141);
  // An empty batch does nothing; steps already seen are not appended twice.
  view.addSteps({});
  QCOMPARE(view.replotCount(), before + 3);
  view.addSteps(makeSteps(130, 11, 3));
  QCOMPARE(LiveView::graphNamed(loss, QStringLiteral("total"))->dataCount(), 141);

  // The axes follow the data.
  QVERIFY(view.isFollowing());
  QVERIFY(loss->xAxis->range().upper >= 140);
  QVERIFY(loss->xAxis->range().lower <= 0);

  // A new run clears the plots.
  view.beginRun(8, QStringLiteral("second"));
  QCOMPARE(LiveView::graphNamed(loss, QStringLiteral("total"))->dataCount(), 0);
  QVERIFY(!LiveView::graphNamed(loss, QStringLiteral("level 1")));
  QCOMPARE(view.accuracyPlot()->graph(0)->dataCount(), 0);
}

void TestLiveViews::liveViewSmoothing() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  const auto steps = makeSteps(0, 100, 3);
  // Delivered in uneven batches: the incremental average must equal one pass over everything.
  view.addSteps({steps.begin(), steps.begin() + 37});
  view.addSteps({steps.begin() + 37, steps.begin() + 38});
  view.addSteps({steps.begin() + 38, steps.end()});
  QVector<double> raw;
  for (const auto& s : steps) raw.append(s.loss);
  QCPGraph* total = LiveView::graphNamed(view.lossPlot(), QStringLiteral("total"));

  const QVector<double> atDefault = graphValues(total);
  const QVector<double> expectedDefault = rkd::gui::smoothed(raw, view.smoothing());
  QCOMPARE(atDefault.size(), 100);
  for (int i = 0; i < 100; ++i) QVERIFY(std::abs(atDefault[i] - expectedDefault[i]) < 1e-12);

  const int replots = view.replotCount();
  view.smoothingSlider()->setValue(0);
  QCOMPARE(view.smoothing(), 0.0);
  QCOMPARE(graphValues(total), raw);
  view.smoothingSlider()->setValue(90);
  QCOMPARE(view.smoothing(), 0.9);
  const QVector<double> heavy = graphValues(total);
  QCOMPARE(heavy.size(), 100);  // the count never changes, only the values
  QVERIFY(heavy != raw);
  const QVector<double> expected = rkd::gui::smoothed(raw, 0.9);
  for (int i = 0; i < 100; ++i) QVERIFY(std::abs(heavy[i] - expected[i]) < 1e-12);
  // Heavier smoothing: a flatter curve.
  auto spread = [](const QVector<double>& v) {
    double s = 0;
    for (int i = 1; i < v.size(); ++i) s += std::abs(v[i] - v[i - 1]);
    return s;
  };
  QVERIFY(spread(heavy) < spread(raw));
  // Levels are smoothed too; the lr is never smoothed.
  QCOMPARE(LiveView::graphNamed(view.lossPlot(), QStringLiteral("level 2"))->dataCount(), 100);
  QCOMPARE(view.lrPlot()->graph(0)->data()->at(99)->value, steps[99].lr);
  // Interaction replots are not counted as data batches.
  QCOMPARE(view.replotCount(), replots);
  // New data continue the heavy average.
  const auto more = makeSteps(100, 20, 3);
  view.addSteps(more);
  for (const auto& s : more) raw.append(s.loss);
  const QVector<double> after = graphValues(total);
  const QVector<double> expectedAfter = rkd::gui::smoothed(raw, 0.9);
  QCOMPARE(after.size(), 120);
  for (int i = 0; i < 120; ++i) QVERIFY(std::abs(after[i] - expectedAfter[i]) < 1e-12);
}

void TestLiveViews::liveViewKdAndLevelsAppearLate() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  view.addSteps(makeSteps(0, 10, 0));  // CE only so far
  QVERIFY(!LiveView::graphNamed(view.lossPlot(), QStringLiteral("KD")));
  QVERIFY(!LiveView::graphNamed(view.lossPlot(), QStringLiteral("level 1")));
  view.addSteps(makeSteps(10, 10, 2, 60, 5, 0.4));
  QCPGraph* kd = LiveView::graphNamed(view.lossPlot(), QStringLiteral("KD"));
  QVERIFY(kd);
  QCOMPARE(kd->dataCount(), 20);  // the graph holds the run's whole history once it appears
  QCPGraph* level = LiveView::graphNamed(view.lossPlot(), QStringLiteral("level 2"));
  QVERIFY(level);
  QCOMPARE(level->dataCount(), 20);
  QVERIFY(std::isnan(level->data()->at(0)->value));  // absent before: a gap, not a zero
  QVERIFY(std::isfinite(level->data()->at(19)->value));
  // A non-finite loss is a gap too (and does not break the axes).
  auto bad = makeSteps(20, 1, 2, 60, 5, 0.4);
  bad[0].loss = std::numeric_limits<double>::infinity();
  view.addSteps(bad);
  QVERIFY(std::isnan(LiveView::graphNamed(view.lossPlot(), QStringLiteral("total"))->data()->at(20)->value));
  QVERIFY(std::isfinite(view.lossPlot()->yAxis->range().upper));
}

void TestLiveViews::liveViewProgressAndEpochs() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  view.addSteps(makeSteps(0, 120, 3));  // 2 epochs of 60 steps, 5 epochs in all
  const QString text = view.progressLabel()->text();
  QVERIFY2(text.contains(QStringLiteral("epoch 2/5")), qPrintable(text));
  QVERIFY2(text.contains(QStringLiteral("step 60/60")), qPrintable(text));
  QVERIFY2(text.contains(QStringLiteral("512 img/s")), qPrintable(text));
  QVERIFY2(text.contains(QStringLiteral("ETA 4 min 10 s")), qPrintable(text));
  QCOMPARE(view.progressBar()->maximum(), 300);
  QCOMPARE(view.progressBar()->value(), 120);

  const int replots = view.replotCount();
  view.addEpoch(makeEpoch(0));
  QCOMPARE(view.replotCount(), replots + 1);
  QCPGraph* train = LiveView::graphNamed(view.accuracyPlot(), QStringLiteral("train top-1"));
  QCPGraph* test = LiveView::graphNamed(view.accuracyPlot(), QStringLiteral("test top-1"));
  QVERIFY(train && test);
  QCOMPARE(train->dataCount(), 1);
  QCOMPARE(test->dataCount(), 1);
  QCOMPARE(test->data()->at(0)->key, 1.0);  // epochs are shown from 1
  QCOMPARE(test->data()->at(0)->value, 62.0);
  QVERIFY(!LiveView::graphNamed(view.accuracyPlot(), QStringLiteral("val top-1")));
  view.addEpoch(makeEpoch(1, 64.5));
  QCOMPARE(train->dataCount(), 2);
  QCOMPARE(train->data()->at(1)->value, 67.0);
  QCPGraph* val = LiveView::graphNamed(view.accuracyPlot(), QStringLiteral("val top-1"));
  QVERIFY(val);
  QCOMPARE(val->data()->at(1)->value, 64.5);
  // The same epoch again (a resumed run) replaces it.
  view.addEpoch(makeEpoch(1, 65.0));
  QCOMPARE(train->dataCount(), 2);
  QCOMPARE(val->data()->at(1)->value, 65.0);
  QVERIFY(view.accuracyPlot()->yAxis->range().contains(67.0));
}

void TestLiveViews::liveViewEndRun_data() {
  QTest::addColumn<QString>("status");
  QTest::addColumn<QString>("message");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("color");
  QTest::newRow("finished") << "finished" << "" << "finished: best 79.4 %" << "#2e7d32";
  QTest::newRow("stopped") << "stopped" << "stopped by the user" << "stopped after 3 epochs" << "#b26a00";
  QTest::newRow("failed") << "failed" << "out of memory: reduce the batch size" << "failed: out of memory: reduce the batch size"
                          << "#c62828";
  QTest::newRow("diverged") << "diverged" << "loss is NaN at step 12" << "diverged: loss is NaN at step 12" << "#c62828";
}

void TestLiveViews::liveViewEndRun() {
  QFETCH(QString, status);
  QFETCH(QString, message);
  QFETCH(QString, expected);
  QFETCH(QString, color);
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  view.addSteps(makeSteps(0, 30, 3));
  rkd::RunOutcome outcome;
  outcome.runId = 7;
  outcome.status = rkd::runStatusFromString(status.toStdString());
  outcome.message = message.toStdString();
  outcome.epochsDone = 3;
  outcome.bestTop1 = 79.4;
  outcome.lastTop1 = 79.1;
  outcome.seconds = 125;
  view.endRun(outcome);
  const QString text = view.progressLabel()->text();
  QVERIFY2(text.contains(expected), qPrintable(text));
  if (!message.isEmpty()) QVERIFY2(text.contains(message), qPrintable(text));
  QVERIFY2(view.progressLabel()->styleSheet().contains(color), qPrintable(view.progressLabel()->styleSheet()));
  if (status == QLatin1String("finished")) QCOMPARE(view.progressBar()->value(), view.progressBar()->maximum());
  // Late steps of the ended run do not overwrite the final state.
  view.addSteps(makeSteps(30, 1, 3));
  QVERIFY(view.progressLabel()->text().contains(expected));
  // A new run starts from a neutral label.
  view.beginRun(9, QStringLiteral("next"));
  QVERIFY(view.progressLabel()->styleSheet().isEmpty());
}

void TestLiveViews::liveViewLogAndStatus() {
  LiveView view;
  QVERIFY(view.logPane()->maximumBlockCount() >= 1000);
  const int before = view.logPane()->document()->blockCount();
  view.appendLog(QStringLiteral("info"), QStringLiteral("epoch 1: test top-1 62.0 %"));
  view.appendLog(QStringLiteral("warning"), QStringLiteral("lr <0.5> & big"));
  view.appendLog(QStringLiteral("error"), QStringLiteral("checkpoint not written"));
  const QString text = view.logPane()->toPlainText();
  QVERIFY(text.contains(QStringLiteral("epoch 1: test top-1 62.0 %")));
  QVERIFY(text.contains(QStringLiteral("lr <0.5> & big")));  // escaped, not parsed as HTML
  QVERIFY(text.contains(QStringLiteral("[error] checkpoint not written")));
  QVERIFY(view.logPane()->document()->blockCount() >= before + 2);
  QVERIFY(view.logPane()->document()->toHtml().contains(QStringLiteral("#c62828")));  // errors in red
  view.setStatus(QStringLiteral("training teacher"));
  QCOMPARE(view.statusLabel()->text(), QStringLiteral("training teacher"));
}

void TestLiveViews::liveViewFollowAndReset() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  view.addSteps(makeSteps(0, 50, 2));
  QVERIFY(view.isFollowing());
  QVERIFY(!view.resetViewButton()->isEnabled());
  // The user zooms: the view stops following that plot.
  view.lossPlot()->xAxis->setRange(10, 20);
  QVERIFY(!view.isFollowing());
  QVERIFY(view.resetViewButton()->isEnabled());
  view.addSteps(makeSteps(50, 50, 2));
  QCOMPARE(view.lossPlot()->xAxis->range().lower, 10.0);
  QCOMPARE(view.lossPlot()->xAxis->range().upper, 20.0);
  QVERIFY(view.lrPlot()->xAxis->range().upper >= 99);  // the other plots still follow
  QTest::mouseClick(view.resetViewButton(), Qt::LeftButton);
  QVERIFY(view.isFollowing());
  QVERIFY(!view.resetViewButton()->isEnabled());
  QVERIFY(view.lossPlot()->xAxis->range().upper >= 99);
}

void TestLiveViews::liveViewLogScale() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  view.addSteps(makeSteps(0, 80, 3));
  view.logScaleCheck()->setChecked(true);
  QCOMPARE(view.lossPlot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
  QVERIFY(view.lossPlot()->yAxis->range().lower > 0);
  QVERIFY(view.isFollowing());
  view.logScaleCheck()->setChecked(false);
  QCOMPARE(view.lossPlot()->yAxis->scaleType(), QCPAxis::stLinear);
}

void TestLiveViews::liveViewLegendToggle() {
  LiveView view;
  view.beginRun(7, QStringLiteral("run"));
  auto steps = makeSteps(0, 50, 2);
  for (auto& s : steps) s.loss += 50;  // a total far above the rest
  view.addSteps(steps);
  QVERIFY(view.lossPlot()->yAxis->range().upper > 50);
  QCPGraph* total = LiveView::graphNamed(view.lossPlot(), QStringLiteral("total"));
  // Click the legend entry of "total": hidden, and the axis follows the visible curves only.
  view.resize(900, 700);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  view.lossPlot()->replot();
  QCPAbstractLegendItem* item = view.lossPlot()->legend->itemWithPlottable(total);
  QVERIFY(item);
  const QPoint centre = item->rect().center();
  QTest::mouseClick(view.lossPlot(), Qt::LeftButton, Qt::NoModifier, centre);
  QVERIFY(!total->visible());
  QVERIFY(view.lossPlot()->yAxis->range().upper < 10);
  QVERIFY(view.isFollowing());
  QTest::mouseClick(view.lossPlot(), Qt::LeftButton, Qt::NoModifier, centre);
  QVERIFY(total->visible());
  QVERIFY(view.lossPlot()->yAxis->range().upper > 50);
}

void TestLiveViews::liveViewLongRunStaysCheap() {
  // 20000 steps in 200 batches, each batch rendered (the queued replot runs): a batch must stay far below the
  // controller's 40 ms coalescing interval, so the GUI thread is mostly idle while training runs.
  LiveView view;
  view.resize(1400, 850);
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  view.beginRun(7, QStringLiteral("long run"));
  QElapsedTimer timer;
  timer.start();
  qint64 worst = 0;
  for (int b = 0; b < 200; ++b) {
    QElapsedTimer one;
    one.start();
    view.addSteps(makeSteps(b * 100, 100, 4, 400, 50));
    QCoreApplication::processEvents();  // runs the queued replots
    worst = std::max(worst, one.elapsed());
  }
  const double perBatch = static_cast<double>(timer.elapsed()) / 200.0;
  qInfo("20000 steps: %.1f ms per batch (worst %lld ms)", perBatch, static_cast<long long>(worst));
  QCOMPARE(LiveView::graphNamed(view.lossPlot(), QStringLiteral("level 4"))->dataCount(), 20000);
  QVERIFY2(perBatch < 40.0, qPrintable(QString::number(perBatch)));
  // A smoothing change recomputes 20000 x 7 points at once.
  timer.restart();
  view.smoothingSlider()->setValue(95);
  QCoreApplication::processEvents();
  qInfo("smoothing change: %lld ms", static_cast<long long>(timer.elapsed()));
  QVERIFY(timer.elapsed() < 1000);
}

void TestLiveViews::featureViewSnapshot() {
  FeatureView view;
  QCOMPARE(view.levelCount(), 0);
  const rkd::FeatureSnapshot snapshot = makeSnapshot();
  view.showSnapshot(snapshot);
  QCOMPARE(view.levelCount(), 3);
  QVERIFY(view.hasSnapshot());
  QCOMPARE(view.levelNameLabel(0)->text(), QStringLiteral("level 1"));
  QCOMPARE(view.levelLossLabel(0)->text(), QStringLiteral("HCL 0.0123"));
  QCOMPARE(view.levelLossLabel(2)->text(), QStringLiteral("HCL 0.0369"));
  QVERIFY(!view.heatmap(3, 0));
  QVERIFY(!view.heatmap(0, 5));

  // Teacher and review output: channel means, on one colour scale.
  HeatmapWidget* teacher = view.heatmap(0, FeatureView::TeacherColumn);
  HeatmapWidget* review = view.heatmap(0, FeatureView::ReviewColumn);
  QVERIFY(teacher->hasData() && review->hasData());
  const auto tRange = planeRange(snapshot.levels[0].teacher, -1);
  QVERIFY(std::abs(teacher->minValue() - tRange.first) < 1e-5);
  QVERIFY(std::abs(teacher->maxValue() - tRange.second) < 1e-5);
  QCOMPARE(teacher->colorLower(), review->colorLower());
  QCOMPARE(teacher->colorUpper(), review->colorUpper());

  // Difference: review - teacher, symmetric diverging range.
  HeatmapWidget* diff = view.heatmap(0, FeatureView::DifferenceColumn);
  QVERIFY(diff->hasData());
  QVERIFY(diff->isDiverging());
  QCOMPARE(diff->colorLower(), -diff->colorUpper());
  QCOMPARE(diff->colorUpper(), std::max(std::abs(diff->minValue()), std::abs(diff->maxValue())));
  QVERIFY(std::abs(diff->valueAt(3, 2) - (review->valueAt(3, 2) - teacher->valueAt(3, 2))) < 1e-6);
  QVERIFY(!teacher->isDiverging());

  // Attention maps: present on the first two levels, cleared with a reason on the last.
  for (int l = 0; l < 2; ++l)
    for (int c : {FeatureView::AttentionCurrentColumn, FeatureView::AttentionResidualColumn}) {
      QVERIFY(view.heatmap(l, c)->hasData());
      QCOMPARE(view.heatmap(l, c)->mapWidth(), 8);
    }
  const auto aRange = planeRange(snapshot.levels[1].attentionResidual, 0);
  QVERIFY(std::abs(view.heatmap(1, FeatureView::AttentionResidualColumn)->maxValue() - aRange.second) < 1e-6);
  for (int c : {FeatureView::AttentionCurrentColumn, FeatureView::AttentionResidualColumn}) {
    QVERIFY(!view.heatmap(2, c)->hasData());
    QCOMPARE(view.heatmap(2, c)->clearReason(), QStringLiteral("no ABF at this level"));
  }

  // The probe image and its description.
  QVERIFY(!view.probeImageLabel()->pixmap().isNull());
  QVERIFY(view.probeImageLabel()->pixmap().width() >= 64);  // scaled up
  view.setClassNames({"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"});
  const QString info = view.probeInfoLabel()->text();
  QVERIFY2(info.contains(QStringLiteral("#12")) && info.contains(QStringLiteral("Sneaker")) &&
               info.contains(QStringLiteral("step 140")),
           qPrintable(info));

  // A snapshot with fewer levels shrinks the grid.
  rkd::FeatureSnapshot two = snapshot;
  two.levels.resize(2);
  view.showSnapshot(two);
  QCOMPARE(view.levelCount(), 2);
  QVERIFY(!view.heatmap(2, 0));
}

void TestLiveViews::featureViewChannels() {
  FeatureView view;
  const rkd::FeatureSnapshot snapshot = makeSnapshot();
  view.showSnapshot(snapshot);
  QComboBox* combo = view.channelCombo();
  QCOMPARE(combo->count(), 17);  // the mean and 16 channels (the most over the levels)
  QCOMPARE(combo->itemText(0), QStringLiteral("Channel mean"));
  QCOMPARE(combo->itemText(1), QStringLiteral("Channel 0"));
  QCOMPARE(combo->itemText(16), QStringLiteral("Channel 15"));
  QCOMPARE(view.selectedChannel(), -1);

  HeatmapWidget* teacher = view.heatmap(0, FeatureView::TeacherColumn);
  const double meanMin = teacher->minValue(), meanMax = teacher->maxValue();
  combo->setCurrentIndex(3);  // "Channel 2"
  QCOMPARE(view.selectedChannel(), 2);
  const auto expected = planeRange(snapshot.levels[0].teacher, 2);
  QVERIFY(std::abs(teacher->minValue() - expected.first) < 1e-6);
  QVERIFY(std::abs(teacher->maxValue() - expected.second) < 1e-6);
  QVERIFY(teacher->minValue() != meanMin || teacher->maxValue() != meanMax);
  const auto expectedReview = planeRange(snapshot.levels[1].reviewOutput, 2);
  QVERIFY(std::abs(view.heatmap(1, FeatureView::ReviewColumn)->maxValue() - expectedReview.second) < 1e-6);
  QCOMPARE(view.heatmap(0, FeatureView::TeacherColumn)->valueAt(5, 4),
           static_cast<double>(snapshot.levels[0].teacher.values[2 * 64 + 4 * 8 + 5]));
  // Attention maps have one channel: unchanged by the choice.
  QVERIFY(view.heatmap(0, FeatureView::AttentionCurrentColumn)->hasData());

  // A channel beyond a level's count (the last level has 8).
  combo->setCurrentIndex(11);  // "Channel 10"
  QVERIFY(view.heatmap(0, FeatureView::TeacherColumn)->hasData());
  HeatmapWidget* last = view.heatmap(2, FeatureView::TeacherColumn);
  QVERIFY(!last->hasData());
  QCOMPARE(last->clearReason(), QStringLiteral("level has only 8 channels"));
  QVERIFY(!view.heatmap(2, FeatureView::DifferenceColumn)->hasData());

  // A new snapshot keeps the chosen channel.
  view.showSnapshot(snapshot);
  QCOMPARE(combo->currentIndex(), 11);
  // Back to the mean.
  combo->setCurrentIndex(0);
  QVERIFY(std::abs(teacher->minValue() - meanMin) < 1e-9);
  QVERIFY(last->hasData());
}

void TestLiveViews::featureViewProbe() {
  FeatureView view;
  view.setTestSetSize(100);
  QCOMPARE(view.probeSpin()->minimum(), 0);
  QCOMPARE(view.probeSpin()->maximum(), 99);
  view.setSnapshotEvery(25);
  QCOMPARE(view.snapshotEveryLabel()->text(), QStringLiteral("updated every 25 steps"));

  QSignalSpy spy(&view, &FeatureView::probeIndexChanged);
  view.probeSpin()->setValue(42);
  QCOMPARE(spy.count(), 1);
  QCOMPARE(spy.at(0).at(0).value<qint64>(), qint64(42));

  // A snapshot still showing the old probe does not move the spin back (the request is pending).
  rkd::FeatureSnapshot s = makeSnapshot();
  view.showSnapshot(s);
  QCOMPARE(view.probeSpin()->value(), 42);
  QVERIFY(view.probeInfoLabel()->text().contains(QStringLiteral("switching to #42")));
  // The requested probe arrives: nothing is emitted by showing it.
  s.probeIndex = 42;
  view.showSnapshot(s);
  QCOMPARE(view.probeSpin()->value(), 42);
  QVERIFY(!view.probeInfoLabel()->text().contains(QStringLiteral("switching")));
  s.probeIndex = 7;  // e.g. the controller clamped or reset it
  view.showSnapshot(s);
  QCOMPARE(view.probeSpin()->value(), 7);
  QCOMPARE(spy.count(), 1);

  QTest::mouseClick(view.randomButton(), Qt::LeftButton);
  QCOMPARE(spy.count(), 2);
  const qint64 picked = spy.at(1).at(0).value<qint64>();
  QVERIFY(picked >= 0 && picked < 100 && picked != 7);
}

void TestLiveViews::featureViewClear() {
  FeatureView view;
  view.showSnapshot(makeSnapshot());
  view.channelCombo()->setCurrentIndex(4);
  view.clear();
  QCOMPARE(view.levelCount(), 0);
  QVERIFY(!view.hasSnapshot());
  QCOMPARE(view.channelCombo()->count(), 1);
  QVERIFY(!view.heatmap(0, 0));
  view.showSnapshot(makeSnapshot());
  QCOMPARE(view.levelCount(), 3);
}

// In the studio, views on hidden tabs keep what arrives and draw it when shown (drawing costs training time).
void TestLiveViews::hiddenViewsDrawWhenShown() {
  FeatureView view;
  view.setDeferWhileHidden(true);
  view.showSnapshot(makeSnapshot());
  QVERIFY(view.hasSnapshot());
  QCOMPARE(view.levelCount(), 0);  // not drawn while hidden
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  QCOMPARE(view.levelCount(), 3);
  QVERIFY(view.heatmap(0, 0)->hasData());

  LiveView live;
  live.setDeferWhileHidden(true);
  live.beginRun(1, QStringLiteral("hidden"));
  std::vector<rkd::StepProgress> steps;
  for (int i = 0; i < 10; ++i) {
    rkd::StepProgress p;
    p.runId = 1;
    p.step = i;
    p.epochs = 1;
    p.stepsPerEpoch = 10;
    p.stepInEpoch = i;
    p.loss = 2.0 - 0.1 * i;
    p.ce = p.loss;
    p.lr = 0.1;
    steps.push_back(p);
  }
  live.addSteps(steps);
  QCOMPARE(LiveView::graphNamed(live.lossPlot(), QStringLiteral("total"))->dataCount(), 10);  // data kept
  live.show();
  QVERIFY(QTest::qWaitForWindowExposed(&live));
  const QCPRange x = live.lossPlot()->xAxis->range();
  QVERIFY2(x.lower <= 0 && x.upper >= 9, qPrintable(QStringLiteral("%1..%2").arg(x.lower).arg(x.upper)));
}

void TestLiveViews::screenshots() {
  // The live view after 300 steps (batches as the controller sends them) and 5 epochs of a plausible run.
  LiveView live;
  live.resize(1400, 850);
  live.show();
  QVERIFY(QTest::qWaitForWindowExposed(&live));
  live.beginRun(7, QStringLiteral("Run 7 \u00b7 ReviewKD resnet56 \u2192 resnet20 \u00b7 Fashion-MNIST"));
  live.setStatus(QStringLiteral("training student on CPU (8 threads)"));
  live.appendLog(QStringLiteral("info"), QStringLiteral("loaded Fashion-MNIST: 55000 train / 5000 val / 10000 test"));
  live.appendLog(QStringLiteral("info"), QStringLiteral("teacher run 6 (resnet56, 93.1 %) reused"));
  live.appendLog(QStringLiteral("info"), QStringLiteral("review head: 4 levels, ABF on 3, HCL pyramid 4-2-1"));
  const int epochs = 5, perEpoch = 60;
  for (int64_t first = 0; first < epochs * perEpoch; first += 15) {
    live.addSteps(makeSteps(first, 15, 4, perEpoch, epochs + 10));
    if ((first + 15) % perEpoch == 0) {
      const int e = static_cast<int>((first + 15) / perEpoch) - 1;
      rkd::EpochProgress ep = makeEpoch(e, 61 + 6.2 * e);
      ep.epochs = epochs + 10;
      live.addEpoch(ep);
      live.appendLog(QStringLiteral("info"), QStringLiteral("epoch %1: train top-1 %2 %, test top-1 %3 %")
                                                 .arg(e + 1)
                                                 .arg(ep.trainTop1, 0, 'f', 1)
                                                 .arg(ep.testTop1, 0, 'f', 1));
    }
  }
  live.appendLog(QStringLiteral("warning"), QStringLiteral("checkpoint write took 2.4 s (slow disk?)"));
  QTest::qWait(120);
  const QString livePath = rkdtest::saveScreenshot(&live, QStringLiteral("live"));
  QVERIFY(QFileInfo(livePath).size() > 10000);

  FeatureView features;
  features.resize(1400, 850);
  features.show();
  QVERIFY(QTest::qWaitForWindowExposed(&features));
  features.setTestSetSize(10000);
  features.setSnapshotEvery(50);
  features.setClassNames({"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                          "Ankle boot"});
  features.showSnapshot(plausibleSnapshot());
  QCOMPARE(features.levelCount(), 4);
  QVERIFY(features.heatmap(3, FeatureView::TeacherColumn)->hasData());  // the pooled 1x1 level
  QTest::qWait(120);
  const QString featurePath = rkdtest::saveScreenshot(&features, QStringLiteral("features"));
  QVERIFY(QFileInfo(featurePath).size() > 10000);
  qInfo("screenshots: %s %s", qPrintable(livePath), qPrintable(featurePath));
}

QTEST_MAIN(TestLiveViews)
#include "test_live_views.moc"
