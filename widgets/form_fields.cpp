#include "widgets/form_fields.h"

#include <QAbstractItemView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStringList>

namespace rkd::gui {

void selectData(QComboBox* combo, const QString& data) {
  const int i = combo->findData(data);
  if (i >= 0) combo->setCurrentIndex(i);
}

QString joinInts(const std::vector<int64_t>& v) {
  QStringList parts;
  for (int64_t x : v) parts << QString::number(x);
  return parts.join(QStringLiteral(", "));
}

std::optional<std::vector<int64_t>> parseInts(const QString& text) {
  std::vector<int64_t> out;
  const QStringList parts = text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
  for (const QString& p : parts) {
    bool ok = false;
    const qlonglong v = p.toLongLong(&ok);
    if (!ok) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

QSpinBox* makeSpin(QWidget* parent, int lo, int hi, int value, const QString& special) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setValue(value);
  if (!special.isEmpty()) s->setSpecialValueText(special);
  return s;
}

QDoubleSpinBox* makeDoubleSpin(QWidget* parent, double lo, double hi, int decimals, double step, double value) {
  auto* s = new QDoubleSpinBox(parent);
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setValue(value);
  return s;
}

void compactCombo(QComboBox* combo) {
  combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  combo->setMinimumContentsLength(12);
  combo->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  combo->setMinimumWidth(90);
}

void widenPopup(QComboBox* combo) { combo->view()->setMinimumWidth(combo->view()->sizeHintForColumn(0) + 24); }

}  // namespace rkd::gui
