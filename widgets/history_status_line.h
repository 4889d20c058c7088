#pragma once
// The history panel's message line: the last message (errors in red). Every part of the panel reports here, and
// turns a failed store call into a message here, so no exception reaches the event loop.
#include <QLabel>
#include <QString>
#include <exception>

#include "core/services/errors.h"

namespace rkd::gui {

class HistoryStatusLine : public QLabel {
  Q_OBJECT

 public:
  explicit HistoryStatusLine(QWidget* parent);

  /// When false (tests), errors never open a message box.
  void setPopups(bool popups) { m_popups = popups; }
  /// A message in the line; an error also opens a message box when popups are on and the panel is visible.
  void showMessage(const QString& text, bool error = false, bool popup = true);

  /// Runs `f`, turning store and user errors into the message "what: why"; false when it threw.
  template <typename F>
  bool attempt(const QString& what, F&& f, bool popup = true) {
    try {
      f();
      return true;
    } catch (...) {
      showMessage(what + QStringLiteral(": ") + QString::fromStdString(describeCurrentError().full()), true, popup);
    }
    return false;
  }

 private:
  bool m_popups = true;
};

}  // namespace rkd::gui
