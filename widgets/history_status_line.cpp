#include "widgets/history_status_line.h"

#include <QMessageBox>

namespace rkd::gui {

HistoryStatusLine::HistoryStatusLine(QWidget* parent) : QLabel(parent) {
  setTextInteractionFlags(Qt::TextSelectableByMouse);
  setWordWrap(true);
}

void HistoryStatusLine::showMessage(const QString& text, bool error, bool popup) {
  setText(text);
  setStyleSheet(error ? QStringLiteral("color: #c81e1e;") : QString());
  // The line sits in the panel: it is visible exactly while the panel is, and the box belongs to the panel.
  if (error && popup && m_popups && isVisible()) QMessageBox::warning(parentWidget(), QStringLiteral("Run history"), text);
}

}  // namespace rkd::gui
