#pragma once
// How the history panel and its parts name runs and count them: "#12 rkd resnet56", "3 runs".
#include <QString>
#include <cstdint>
#include <string>

namespace rkd::gui {

inline QString runLabel(int64_t id, const std::string& name) {
  return QStringLiteral("#%1 %2").arg(id).arg(QString::fromStdString(name));
}

inline QString plural(int n, const QString& one, const QString& many) {
  return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
}

/// "1 run", "3 runs".
inline QString runCount(int n) { return plural(n, QStringLiteral("run"), QStringLiteral("runs")); }

}  // namespace rkd::gui
