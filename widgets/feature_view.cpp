#include "widgets/feature_view.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QComboBox>
#include <QFrame>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QPixmap>
#include <QPushButton>
#include <QRandomGenerator>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

#include "widgets/heatmap_widget.h"

namespace rkd::gui {
namespace {

const int kThumbBox = 84;  // pixels of the probe thumbnail's longer side (at most)

struct Shape {
  int64_t c = 0, h = 0, w = 0;
};

/// C x H x W of a map (a 2-D map counts as one channel); false when the values do not match the shape.
bool shapeOf(const rkd::FeatureMap& m, Shape& s) {
  if (m.empty()) return false;
  if (m.shape.size() == 3) {
    s = {m.shape[0], m.shape[1], m.shape[2]};
  } else if (m.shape.size() == 2) {
    s = {1, m.shape[0], m.shape[1]};
  } else if (m.shape.size() == 1) {
    s = {m.shape[0], 1, 1};
  } else {
    return false;
  }
  return s.c > 0 && s.h > 0 && s.w > 0 && static_cast<int64_t>(m.values.size()) == s.c * s.h * s.w;
}

/// The H x W plane of `channel` (or the channel mean when channel < 0); `why` says why not.
bool plane(const rkd::FeatureMap& m, int channel, std::vector<float>& out, Shape& s, QString& why) {
  if (!shapeOf(m, s)) {
    why = m.empty() ? QObject::tr("absent") : QObject::tr("malformed map");
    return false;
  }
  const size_t hw = static_cast<size_t>(s.h * s.w);
  out.assign(hw, 0.0f);
  if (channel >= 0) {
    if (channel >= s.c) {
      why = QObject::tr("level has only %1 channels").arg(s.c);
      return false;
    }
    std::copy_n(m.values.begin() + static_cast<std::ptrdiff_t>(channel * hw), hw, out.begin());
    return true;
  }
  std::vector<double> sum(hw, 0.0);
  for (int64_t c = 0; c < s.c; ++c) {
    const float* p = m.values.data() + c * hw;
    for (size_t i = 0; i < hw; ++i) sum[i] += p[i];
  }
  for (size_t i = 0; i < hw; ++i) out[i] = static_cast<float>(sum[i] / static_cast<double>(s.c));
  return true;
}

QString sizeText(const Shape& s) { return QStringLiteral("%1\u00d7%2").arg(s.h).arg(s.w); }

double meanOf(const std::vector<float>& v, bool absolute) {
  if (v.empty()) return 0;
  double sum = 0;
  for (float x : v) sum += absolute ? std::abs(x) : x;
  return sum / static_cast<double>(v.size());
}

QString number(double v) { return QString::number(v, 'g', 3); }

}  // namespace

FeatureView::FeatureView(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  root->setContentsMargins(8, 8, 8, 8);
  root->setSpacing(6);

  // Top row: the probe and the controls.
  auto* top = new QHBoxLayout;
  top->setSpacing(10);
  m_thumb = new QLabel(this);
  m_thumb->setFixedSize(kThumbBox + 6, kThumbBox + 6);
  m_thumb->setAlignment(Qt::AlignCenter);
  m_thumb->setFrameShape(QFrame::StyledPanel);
  m_thumb->setStyleSheet(QStringLiteral("background: #202020; color: #bbbbbb;"));
  m_thumb->setToolTip(tr("The probe image (test set), as the networks see it before normalization"));
  top->addWidget(m_thumb);

  auto* controls = new QVBoxLayout;
  controls->setSpacing(4);
  auto* firstLine = new QHBoxLayout;
  auto* probeLabel = new QLabel(tr("Probe image"), this);
  m_probeSpin = new QSpinBox(this);
  m_probeSpin->setRange(0, 999999);
  m_probeSpin->setKeyboardTracking(false);  // one request per entered index, not per keystroke
  m_probeSpin->setPrefix(QStringLiteral("#"));
  m_probeSpin->setMinimumWidth(90);
  m_probeSpin->setToolTip(tr("Index of the probe image in the test set; the next snapshot uses it"));
  probeLabel->setBuddy(m_probeSpin);
  m_random = new QPushButton(tr("Pick random"), this);
  m_random->setToolTip(tr("Pick a random test image as the probe"));
  auto* channelLabel = new QLabel(tr("Show"), this);
  m_channelCombo = new QComboBox(this);
  m_channelCombo->addItem(tr("Channel mean"));
  m_channelCombo->setMinimumContentsLength(12);
  m_channelCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_channelCombo->setToolTip(tr("Draw the mean over a map's channels, or one channel (attention maps have one)"));
  channelLabel->setBuddy(m_channelCombo);
  firstLine->addWidget(probeLabel);
  firstLine->addWidget(m_probeSpin);
  firstLine->addWidget(m_random);
  firstLine->addSpacing(18);
  firstLine->addWidget(channelLabel);
  firstLine->addWidget(m_channelCombo);
  firstLine->addStretch(1);
  m_every = new QLabel(this);
  m_every->setStyleSheet(QStringLiteral("color: #555;"));
  firstLine->addWidget(m_every);
  controls->addLayout(firstLine);
  m_probeInfo = new QLabel(this);
  m_probeInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
  controls->addWidget(m_probeInfo);
  auto* legend = new QLabel(
      tr("Sequential colours (viridis) for features and attention; the teacher and the review output of a level "
         "share one scale. Difference: blue below, red above the teacher."),
      this);
  legend->setWordWrap(true);
  legend->setStyleSheet(QStringLiteral("color: #666;"));
  controls->addWidget(legend);
  top->addLayout(controls, 1);
  root->addLayout(top);

  // The grid of levels.
  m_placeholder = new QLabel(this);
  m_placeholder->setAlignment(Qt::AlignCenter);
  m_placeholder->setWordWrap(true);
  m_placeholder->setStyleSheet(QStringLiteral("color: #777; font-size: 11pt;"));
  root->addWidget(m_placeholder, 1);

  m_scroll = new QScrollArea(this);
  m_scroll->setWidgetResizable(true);
  m_scroll->setFrameShape(QFrame::NoFrame);
  m_gridHost = new QWidget(m_scroll);
  m_grid = new QGridLayout(m_gridHost);
  m_grid->setContentsMargins(0, 0, 0, 0);
  m_grid->setHorizontalSpacing(6);
  m_grid->setVerticalSpacing(8);
  const QString headers[ColumnCount] = {tr("Teacher feature"), tr("Review output"),
                                        tr("Difference (review \u2212 teacher)"), tr("ABF attention a0"),
                                        tr("ABF attention a1")};
  const QString tips[ColumnCount] = {
      tr("The teacher's stage feature: what the review output is compared with"),
      tr("The review head's output for this level (student features fused top-down through ABF)"),
      tr("Review output minus teacher feature: blue where the review output is lower, red where it is higher"),
      tr("ABF attention on this level's own (current) student feature"),
      tr("ABF attention on the residual path (the fused deeper levels, resized)")};
  auto* levelHeader = new QLabel(tr("Level"), m_gridHost);
  QFont bold = levelHeader->font();
  bold.setBold(true);
  levelHeader->setFont(bold);
  m_grid->addWidget(levelHeader, 0, 0, Qt::AlignLeft | Qt::AlignBottom);
  for (int c = 0; c < ColumnCount; ++c) {
    auto* h = new QLabel(headers[c], m_gridHost);
    h->setFont(bold);
    h->setAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    h->setToolTip(tips[c]);
    h->setWordWrap(true);
    m_grid->addWidget(h, 0, c + 1);
    m_grid->setColumnStretch(c + 1, 1);
  }
  m_grid->setColumnMinimumWidth(0, 150);
  m_grid->setColumnStretch(0, 0);
  m_scroll->setWidget(m_gridHost);
  root->addWidget(m_scroll, 1);

  connect(m_probeSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) {
    m_requestedProbe = v;
    updateProbeInfo();
    Q_EMIT probeIndexChanged(v);
  });
  connect(m_random, &QPushButton::clicked, this, [this] {
    const int n = m_probeSpin->maximum() - m_probeSpin->minimum() + 1;
    if (n <= 1) return;
    int v = m_probeSpin->value();
    while (v == m_probeSpin->value()) v = m_probeSpin->minimum() + QRandomGenerator::global()->bounded(n);
    m_probeSpin->setValue(v);
  });
  connect(m_channelCombo, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int) { redraw(); });

  setSnapshotEvery(0);
  clear();
}

QSpinBox* FeatureView::probeSpin() const { return m_probeSpin; }
QComboBox* FeatureView::channelCombo() const { return m_channelCombo; }
QPushButton* FeatureView::randomButton() const { return m_random; }
int FeatureView::levelCount() const { return m_shown; }
bool FeatureView::hasSnapshot() const { return m_hasSnapshot; }
QLabel* FeatureView::probeImageLabel() const { return m_thumb; }
QLabel* FeatureView::probeInfoLabel() const { return m_probeInfo; }
QLabel* FeatureView::snapshotEveryLabel() const { return m_every; }
int FeatureView::selectedChannel() const { return m_channelCombo->currentIndex() - 1; }

HeatmapWidget* FeatureView::heatmap(int level, int column) const {
  if (level < 0 || level >= m_shown || column < 0 || column >= ColumnCount) return nullptr;
  return m_rows[static_cast<size_t>(level)].maps[static_cast<size_t>(column)];
}

QLabel* FeatureView::levelLossLabel(int level) const {
  return level >= 0 && level < m_shown ? m_rows[static_cast<size_t>(level)].loss : nullptr;
}

QLabel* FeatureView::levelNameLabel(int level) const {
  return level >= 0 && level < m_shown ? m_rows[static_cast<size_t>(level)].name : nullptr;
}

void FeatureView::setTestSetSize(qint64 n) {
  const QSignalBlocker block(m_probeSpin);
  const int maximum = static_cast<int>(std::clamp<qint64>(n - 1, 0, std::numeric_limits<int>::max()));
  m_probeSpin->setRange(0, maximum);
  m_probeSpin->setEnabled(n > 0);
  m_random->setEnabled(n > 1);
  m_probeSpin->setToolTip(n > 0 ? tr("Index of the probe image in the test set (0..%1); the next snapshot uses it")
                                      .arg(maximum)
                                : tr("The test set is not loaded yet"));
}

void FeatureView::setSnapshotEvery(int steps) {
  m_every->setText(steps > 0 ? (steps == 1 ? tr("updated every step") : tr("updated every %1 steps").arg(steps))
                             : tr("updated during ReviewKD runs"));
}

void FeatureView::setClassNames(const QStringList& names) {
  m_classNames = names;
  updateProbeInfo();
}

void FeatureView::ensureRows(int count) {
  while (static_cast<int>(m_rows.size()) < count) {
    const int r = static_cast<int>(m_rows.size()) + 1;  // grid row (0 holds the headers)
    Row row;
    row.header = new QWidget(m_gridHost);
    auto* v = new QVBoxLayout(row.header);
    v->setContentsMargins(0, 4, 4, 4);
    v->setSpacing(4);
    row.name = new QLabel(row.header);
    row.name->setWordWrap(true);
    QFont bold = row.name->font();
    bold.setBold(true);
    row.name->setFont(bold);
    row.name->setMaximumWidth(170);
    row.loss = new QLabel(row.header);
    row.loss->setStyleSheet(QStringLiteral("color: #1f4e79;"));
    row.loss->setToolTip(tr("This level's hierarchical context loss for the probe image"));
    v->addWidget(row.name);
    v->addWidget(row.loss);
    v->addStretch(1);
    m_grid->addWidget(row.header, r, 0);
    for (int c = 0; c < ColumnCount; ++c) {
      auto* map = new HeatmapWidget(QString(), m_gridHost);
      map->setMinimumSize(160, 170);
      if (c == DifferenceColumn) map->setDiverging(true);
      m_grid->addWidget(map, r, c + 1);
      row.maps[static_cast<size_t>(c)] = map;
    }
    m_grid->setRowStretch(r, 1);
    m_rows.push_back(row);
  }
}

void FeatureView::showSnapshot(const rkd::FeatureSnapshot& snapshot) {
  m_snapshot = snapshot;
  m_hasSnapshot = true;
  if (m_requestedProbe < 0 || m_requestedProbe == snapshot.probeIndex) {
    m_requestedProbe = -1;
    const QSignalBlocker block(m_probeSpin);
    if (snapshot.probeIndex > m_probeSpin->maximum() && snapshot.probeIndex <= std::numeric_limits<int>::max())
      m_probeSpin->setMaximum(static_cast<int>(snapshot.probeIndex));
    m_probeSpin->setValue(static_cast<int>(snapshot.probeIndex));
  }
  if (m_deferWhileHidden && !isVisible()) {
    m_drawPending = true;
    return;
  }
  m_drawPending = false;
  rebuildChannelCombo();
  showProbe();
  redraw();
}

void FeatureView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (!m_drawPending) return;
  m_drawPending = false;
  rebuildChannelCombo();
  showProbe();
  redraw();
}

void FeatureView::clear() {
  m_drawPending = false;
  m_hasSnapshot = false;
  m_snapshot = rkd::FeatureSnapshot();
  m_requestedProbe = -1;
  {
    const QSignalBlocker block(m_channelCombo);
    m_channelCombo->clear();
    m_channelCombo->addItem(tr("Channel mean"));
  }
  for (Row& row : m_rows) row.header->hide();
  for (Row& row : m_rows)
    for (HeatmapWidget* map : row.maps) map->hide();
  m_shown = 0;
  m_scroll->hide();
  m_placeholder->setText(
      tr("No feature snapshot yet.\nA ReviewKD run sends one for the probe image every few steps."));
  m_placeholder->show();
  m_thumb->setPixmap(QPixmap());
  m_thumb->setText(tr("no probe"));
  updateProbeInfo();
}

void FeatureView::rebuildChannelCombo() {
  int64_t channels = 0;
  for (const rkd::LevelSnapshot& level : m_snapshot.levels) {
    Shape s;
    if (shapeOf(level.teacher, s)) channels = std::max(channels, s.c);
    if (shapeOf(level.reviewOutput, s)) channels = std::max(channels, s.c);
  }
  if (m_channelCombo->count() == channels + 1) return;
  const int previous = m_channelCombo->currentIndex();
  const QSignalBlocker block(m_channelCombo);
  m_channelCombo->clear();
  m_channelCombo->addItem(tr("Channel mean"));
  for (int64_t c = 0; c < channels; ++c) m_channelCombo->addItem(tr("Channel %1").arg(c));
  m_channelCombo->setCurrentIndex(previous >= 0 && previous < m_channelCombo->count() ? previous : 0);
}

void FeatureView::redraw() {
  if (!m_hasSnapshot) return;
  const int count = static_cast<int>(m_snapshot.levels.size());
  ensureRows(count);
  m_gridHost->setUpdatesEnabled(false);
  for (int i = 0; i < static_cast<int>(m_rows.size()); ++i) {
    Row& row = m_rows[static_cast<size_t>(i)];
    const bool visible = i < count;
    row.header->setVisible(visible);
    for (HeatmapWidget* map : row.maps) map->setVisible(visible);
    if (visible) drawLevel(row, m_snapshot.levels[static_cast<size_t>(i)], selectedChannel());
  }
  m_shown = count;
  m_gridHost->setUpdatesEnabled(true);
  m_placeholder->setVisible(count == 0);
  m_scroll->setVisible(count > 0);
  if (count == 0) m_placeholder->setText(tr("This snapshot has no distilled levels."));
}

void FeatureView::drawLevel(Row& row, const rkd::LevelSnapshot& level, int channel) {
  row.name->setText(QString::fromStdString(level.label));
  row.name->setToolTip(QString::fromStdString(level.label));
  row.loss->setText(tr("HCL %1").arg(number(level.loss)));

  std::vector<float> teacher, review;
  Shape ts, rs;
  QString teacherWhy, reviewWhy;
  const bool haveTeacher = plane(level.teacher, channel, teacher, ts, teacherWhy);
  const bool haveReview = plane(level.reviewOutput, channel, review, rs, reviewWhy);
  auto describe = [channel](const Shape& s) {
    return (channel < 0 ? tr("mean of %1 ch").arg(s.c) : tr("channel %1 of %2").arg(channel).arg(s.c)) +
           QStringLiteral(" \u00b7 ") + sizeText(s);
  };

  HeatmapWidget* t = row.maps[TeacherColumn];
  HeatmapWidget* r = row.maps[ReviewColumn];
  if (haveTeacher) {
    t->setTitle(describe(ts));
    t->setMap(static_cast<int>(ts.w), static_cast<int>(ts.h), teacher);
  } else {
    t->setTitle(QString());
    t->clear(teacherWhy);
  }
  if (haveReview) {
    r->setTitle(describe(rs));
    r->setMap(static_cast<int>(rs.w), static_cast<int>(rs.h), review);
  } else {
    r->setTitle(QString());
    r->clear(reviewWhy);
  }
  // One colour scale for the pair, so that equal colours mean equal values.
  if (haveTeacher && haveReview) {
    const double lower = std::min(t->minValue(), r->minValue());
    const double upper = std::max(t->maxValue(), r->maxValue());
    t->setColorRange(lower, upper);
    r->setColorRange(lower, upper);
  }

  HeatmapWidget* d = row.maps[DifferenceColumn];
  if (haveTeacher && haveReview && ts.h == rs.h && ts.w == rs.w) {
    std::vector<float> diff(review.size());
    for (size_t i = 0; i < diff.size(); ++i) diff[i] = review[i] - teacher[i];
    d->setTitle(tr("mean |\u0394| %1").arg(number(meanOf(diff, true))));
    d->setMap(static_cast<int>(ts.w), static_cast<int>(ts.h), diff);
  } else {
    d->setTitle(QString());
    d->clear(!haveTeacher ? tr("teacher: %1").arg(teacherWhy)
             : !haveReview ? tr("review: %1").arg(reviewWhy)
                           : tr("sizes differ: %1 vs %2").arg(sizeText(rs), sizeText(ts)));
  }

  const rkd::FeatureMap* attention[2] = {&level.attentionCurrent, &level.attentionResidual};
  for (int k = 0; k < 2; ++k) {
    HeatmapWidget* a = row.maps[static_cast<size_t>(AttentionCurrentColumn + k)];
    std::vector<float> values;
    Shape s;
    QString why;
    if (attention[k]->empty()) {
      a->setTitle(QString());
      a->clear(tr("no ABF at this level"));
    } else if (plane(*attention[k], -1, values, s, why)) {  // 1 x H x W: the mean is the map itself
      a->setTitle(tr("mean %1").arg(number(meanOf(values, false))));
      a->setMap(static_cast<int>(s.w), static_cast<int>(s.h), values);
    } else {
      a->setTitle(QString());
      a->clear(why);
    }
  }
}

void FeatureView::showProbe() {
  Shape s;
  if (!shapeOf(m_snapshot.probeImage, s)) {
    m_thumb->setPixmap(QPixmap());
    m_thumb->setText(tr("no image"));
    updateProbeInfo();
    return;
  }
  QImage image(static_cast<int>(s.w), static_cast<int>(s.h), QImage::Format_RGB32);
  const size_t hw = static_cast<size_t>(s.h * s.w);
  const std::vector<float>& v = m_snapshot.probeImage.values;
  auto byte = [](float x) { return static_cast<int>(std::lround(std::clamp(x, 0.0f, 1.0f) * 255.0f)); };
  for (int64_t y = 0; y < s.h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(static_cast<int>(y)));
    for (int64_t x = 0; x < s.w; ++x) {
      const size_t i = static_cast<size_t>(y * s.w + x);
      if (s.c >= 3) {
        line[x] = qRgb(byte(v[i]), byte(v[hw + i]), byte(v[2 * hw + i]));
      } else {
        const int g = byte(v[i]);
        line[x] = qRgb(g, g, g);
      }
    }
  }
  // Whole-number magnification with nearest neighbour: the pixels stay sharp.
  const int factor = std::max<int>(1, kThumbBox / static_cast<int>(std::max(s.h, s.w)));
  const QImage scaled = factor > 1 ? image.scaled(image.width() * factor, image.height() * factor,
                                                  Qt::IgnoreAspectRatio, Qt::FastTransformation)
                                   : image.scaled(kThumbBox, kThumbBox, Qt::KeepAspectRatio, Qt::SmoothTransformation);
  m_thumb->setText(QString());
  m_thumb->setPixmap(QPixmap::fromImage(scaled));
  updateProbeInfo();
}

void FeatureView::updateProbeInfo() {
  const QString dot = QStringLiteral(" \u00b7 ");
  if (!m_hasSnapshot) {
    m_probeInfo->setText(m_requestedProbe >= 0 ? tr("Probe #%1 requested: shown at the next snapshot").arg(m_requestedProbe)
                                               : tr("No snapshot yet"));
    return;
  }
  const int label = m_snapshot.probeLabel;
  QString labelText = tr("label %1").arg(label);
  // Named classes read "Sneaker (7)"; classes named by their number (MNIST) stay "label 7".
  if (label >= 0 && label < m_classNames.size() && m_classNames[label] != QString::number(label))
    labelText = tr("%1 (%2)").arg(m_classNames[label]).arg(label);
  Shape s;
  QString text = tr("Probe #%1").arg(m_snapshot.probeIndex) + dot + labelText;
  if (shapeOf(m_snapshot.probeImage, s)) text += dot + QStringLiteral("%1\u00d7%2\u00d7%3").arg(s.c).arg(s.h).arg(s.w);
  text += dot + tr("epoch %1").arg(m_snapshot.epoch + 1) + dot + tr("step %1").arg(m_snapshot.step);
  if (m_requestedProbe >= 0 && m_requestedProbe != m_snapshot.probeIndex)
    text += dot + tr("switching to #%1 at the next snapshot").arg(m_requestedProbe);
  m_probeInfo->setText(text);
}

}  // namespace rkd::gui
