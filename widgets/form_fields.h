#pragma once
// The pieces the experiment panel's groups build their forms from: spin boxes with a range and a special
// "off"/"all" text, combos chosen by item data, and comma-separated integer lists ("150, 180, 210").
#include <QString>
#include <cstdint>
#include <optional>
#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QSpinBox;
class QWidget;

namespace rkd::gui {

/// Selects the item with this data; leaves the combo as it is when there is none.
void selectData(QComboBox* combo, const QString& data);

/// {4, 2, 1} -> "4, 2, 1".
QString joinInts(const std::vector<int64_t>& v);
/// "4, 2, 1" (commas or spaces) -> {4, 2, 1}; nullopt when a part is not an integer.
std::optional<std::vector<int64_t>> parseInts(const QString& text);

/// `special`, when given, is shown for the minimum (e.g. "all", "off").
QSpinBox* makeSpin(QWidget* parent, int lo, int hi, int value, const QString& special = {});
QDoubleSpinBox* makeDoubleSpin(QWidget* parent, double lo, double hi, int decimals, double step, double value);

/// Long entries (preset descriptions, run labels) must not widen the panel: the combo keeps a modest width.
void compactCombo(QComboBox* combo);
/// The popup of a compact combo is as wide as its longest entry.
void widenPopup(QComboBox* combo);

}  // namespace rkd::gui
