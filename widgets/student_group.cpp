#include "widgets/student_group.h"

#include <QAbstractItemView>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTableWidget>

#include "widgets/form_fields.h"

namespace rkd::gui {
namespace {

const char* kAbfNeedsResidual =
    "ABF fuses each level with the residual path's output from the deeper level, so it needs the residual "
    "switch: turn residual on to use ABF.";
const char* kResidualNeedsReview =
    "The residual path carries deeper levels' information to shallower ones; without review every level is "
    "only matched with itself, so there is nothing to carry. Turn review on to use residual.";

const std::pair<const char*, const char*> kMethods[] = {
    {"reviewkd", "ReviewKD (knowledge review)"}, {"kd", "Hinton KD"}, {"student-alone", "Student alone (cross-entropy)"}};

QString shapeText(int64_t c, int64_t h, int64_t w) { return QStringLiteral("%1 @ %2x%3").arg(c).arg(h).arg(w); }

}  // namespace

StudentGroup::StudentGroup(QWidget* parent) : QGroupBox(tr("Student and method"), parent) {
  auto* form = new QFormLayout(this);
  m_arch = new QComboBox(this);
  for (const auto& n : rkd::services::networks()) m_arch->addItem(QString::fromStdString(n.name), QString::fromStdString(n.name));
  form->addRow(tr("Student"), m_arch);
  m_method = new QComboBox(this);
  for (const auto& [id, label] : kMethods) m_method->addItem(tr(label), QString::fromLatin1(id));
  form->addRow(tr("Method"), m_method);
  auto* switches = new QHBoxLayout;
  m_review = new QCheckBox(tr("Review"), this);
  m_residual = new QCheckBox(tr("Residual"), this);
  m_abf = new QCheckBox(tr("ABF"), this);
  m_hcl = new QCheckBox(tr("HCL"), this);
  m_review->setToolTip(tr("Each student level also learns from the teacher's shallower levels"));
  m_hcl->setToolTip(tr("Hierarchical context loss (pyramid-pooled MSE) instead of a plain MSE per level"));
  for (QCheckBox* c : {m_review, m_residual, m_abf, m_hcl}) switches->addWidget(c);
  switches->addStretch(1);
  form->addRow(tr("Switches"), switches);
  m_pyramid = new QLineEdit(this);
  m_pyramid->setToolTip(tr("HCL pyramid sizes, e.g. 4, 2, 1 (the paper's)"));
  form->addRow(tr("HCL pyramid"), m_pyramid);
  m_reviewWeight = makeDoubleSpin(this, 0, 1000, 3, 0.1, 1.0);
  m_reviewWeight->setToolTip(tr("Review loss weight; pre-filled from the published pair table when the pair is published"));
  m_warmup = makeSpin(this, 0, 100000, 20);
  auto* weightRow = new QHBoxLayout;
  weightRow->addWidget(m_reviewWeight);
  weightRow->addWidget(new QLabel(tr("warm-up epochs"), this));
  weightRow->addWidget(m_warmup);
  form->addRow(tr("Review weight"), weightRow);
  m_kdWeight = makeDoubleSpin(this, 0, 100, 3, 0.1, 0.0);
  m_kdTemperature = makeDoubleSpin(this, 0.1, 100, 2, 0.5, 4.0);
  auto* kdRow = new QHBoxLayout;
  kdRow->addWidget(m_kdWeight);
  kdRow->addWidget(new QLabel(tr("temperature"), this));
  kdRow->addWidget(m_kdTemperature);
  form->addRow(tr("KD weight"), kdRow);
  m_levels = new QTableWidget(0, 4, this);
  m_levels->setHorizontalHeaderLabels({tr("Level"), tr("Teacher C @ HxW"), tr("Student C @ HxW"), tr("Note")});
  m_levels->horizontalHeader()->setStretchLastSection(true);
  m_levels->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_levels->verticalHeader()->setVisible(false);
  m_levels->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_levels->setSelectionMode(QAbstractItemView::NoSelection);
  m_levels->setMinimumHeight(150);
  form->addRow(m_levels);
  m_levelNote = new QLabel(this);
  m_levelNote->setWordWrap(true);
  QFont small = m_levelNote->font();
  small.setPointSizeF(small.pointSizeF() * 0.9);
  m_levelNote->setFont(small);
  form->addRow(m_levelNote);

  for (QCheckBox* c : {m_review, m_residual, m_abf, m_hcl})
    connect(c, &QCheckBox::toggled, this, [this] {
      if (!m_loading) Q_EMIT switchToggled();
    });
  connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
    if (m_loading) return;
    if (method() == QLatin1String("kd")) {
      // Hinton KD needs a KD term: the usual 0.9 KD / 0.1 CE split.
      if (m_kdWeight->value() == 0) m_kdWeight->setValue(0.9);
    } else {
      m_kdWeight->setValue(0.0);  // a KD term on top of ReviewKD is opt-in
    }
    Q_EMIT methodChanged();
  });
  connect(m_arch, &QComboBox::currentIndexChanged, this, [this] {
    if (!m_loading) Q_EMIT pairChanged();
  });
  for (QDoubleSpinBox* s : {m_reviewWeight, m_kdWeight, m_kdTemperature})
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] {
      if (!m_loading) Q_EMIT edited();
    });
  connect(m_pyramid, &QLineEdit::textChanged, this, [this] {
    if (!m_loading) Q_EMIT edited();
  });
}

void StudentGroup::load(const rkd::RunConfig& c) {
  m_loading = true;
  selectData(m_arch, QString::fromStdString(c.student));
  selectData(m_method, QString::fromStdString(c.kind == "teacher" ? "student-alone" : c.method));
  m_review->setChecked(c.review.review);
  m_residual->setChecked(c.review.residual);
  m_abf->setChecked(c.review.abf);
  m_hcl->setChecked(c.review.hcl);
  m_pyramid->setText(joinInts(c.review.pyramid));
  m_reviewWeight->setValue(c.review.weight);
  m_warmup->setValue(static_cast<int>(c.review.warmupEpochs));
  m_kdWeight->setValue(c.kdWeight);
  m_kdTemperature->setValue(c.kdTemperature);
  m_loading = false;
}

void StudentGroup::apply(rkd::RunConfig& c) const {
  const std::string baseMethod = c.method;
  c.method = method().toStdString();
  c.student = arch().toStdString();
  c.review.review = m_review->isChecked();
  c.review.residual = m_residual->isChecked();
  c.review.abf = m_abf->isChecked();
  c.review.hcl = m_hcl->isChecked();
  if (auto p = parseInts(m_pyramid->text())) c.review.pyramid = *p;
  c.review.weight = m_reviewWeight->value();
  c.review.warmupEpochs = m_warmup->value();
  c.kdWeight = c.method == "student-alone" ? 0.0 : m_kdWeight->value();
  c.kdTemperature = m_kdTemperature->value();
  if (c.method == "kd") {
    if (baseMethod != "kd") c.ceWeight = 0.1;
  } else if (baseMethod == "kd") {
    c.ceWeight = 1.0;
  }
}

QString StudentGroup::fieldError() const {
  if (!parseInts(m_pyramid->text()))
    return tr("review.pyramid: '%1' is not a list of sizes; write e.g. 4, 2, 1").arg(m_pyramid->text());
  return {};
}

void StudentGroup::updateEnabled(bool editable) {
  const bool reviewkd = method() == QLatin1String("reviewkd");
  const bool teacher = needsTeacher();
  m_review->setEnabled(editable && reviewkd);
  m_hcl->setEnabled(editable && reviewkd);
  m_pyramid->setEnabled(editable && reviewkd && m_hcl->isChecked());
  m_reviewWeight->setEnabled(editable && reviewkd);
  m_warmup->setEnabled(editable && reviewkd);
  m_kdWeight->setEnabled(editable && teacher);
  m_kdTemperature->setEnabled(editable && teacher);
  // Residual needs review; ABF needs residual (spec section 6). Disabled switches are unchecked so the config
  // never carries a combination the engine refuses.
  const bool residualAllowed = m_review->isChecked();
  if (!residualAllowed && m_residual->isChecked()) m_residual->setChecked(false);
  m_residual->setEnabled(editable && reviewkd && residualAllowed);
  m_residual->setToolTip(residualAllowed ? tr("Deeper levels' fused information flows to shallower levels")
                                         : tr(kResidualNeedsReview));
  const bool abfAllowed = m_residual->isChecked();
  if (!abfAllowed && m_abf->isChecked()) m_abf->setChecked(false);
  m_abf->setEnabled(editable && reviewkd && abfAllowed);
  m_abf->setToolTip(abfAllowed ? tr("Attention-based fusion of each level with the residual from the deeper level")
                               : tr(kAbfNeedsResidual));
  m_arch->setEnabled(editable);
  m_method->setEnabled(editable);
}

QString StudentGroup::method() const { return m_method->currentData().toString(); }

bool StudentGroup::needsTeacher() const { return method() != QLatin1String("student-alone"); }

QString StudentGroup::arch() const { return m_arch->currentData().toString(); }

void StudentGroup::setReviewWeight(double weight) { m_reviewWeight->setValue(weight); }

void StudentGroup::clearLevels(const QString& note) {
  m_levels->setRowCount(0);
  m_levelNote->setText(note);
}

void StudentGroup::setLevelNote(const QString& note) { m_levelNote->setText(note); }

void StudentGroup::showLevels(const rkd::services::LevelTable& table) {
  m_levels->setRowCount(0);
  if (!table.ok()) {
    m_levelNote->setText(QString::fromStdString(table.error));
    m_levelNote->setStyleSheet(QStringLiteral("color: #b00020;"));
    return;
  }
  m_levelNote->setStyleSheet(QString());
  m_levels->setRowCount(static_cast<int>(table.rows.size()));
  for (int i = 0; i < static_cast<int>(table.rows.size()); ++i) {
    const auto& r = table.rows[static_cast<size_t>(i)];
    QString note;
    if (r.pooled) note = tr("pooled embedding");
    if (r.resized) note += (note.isEmpty() ? QString() : QStringLiteral(", ")) + tr("student resized to teacher size");
    if (r.teacherLevel != r.studentLevel)
      note += (note.isEmpty() ? QString() : QStringLiteral(", ")) +
              tr("teacher level %1 <- student level %2").arg(r.teacherLevel).arg(r.studentLevel);
    const QStringList cells{QString::number(i + 1), shapeText(r.teacherChannels, r.teacherHeight, r.teacherWidth),
                            shapeText(r.studentChannels, r.studentHeight, r.studentWidth), note};
    for (int c = 0; c < cells.size(); ++c) m_levels->setItem(i, c, new QTableWidgetItem(cells[c]));
  }
  QString note = QString::fromStdString(table.note);
  note += tr(" Review head: %1 levels, %2 fused channels.").arg(table.rows.size()).arg(table.midChannels);
  if (method() != QLatin1String("reviewkd")) note += tr(" (Only ReviewKD uses the levels.)");
  m_levelNote->setText(note);
}

}  // namespace rkd::gui
