// saveScreenshot (gui_support.h): the one helper of the GUI suites that needs QtWidgets.
#include "gui_support.h"

#include <QDir>
#include <QPixmap>
#include <QWidget>

namespace rkdtest {

QString saveScreenshot(QWidget* widget, const QString& name) {
  QString dir;
  if (!qEnvironmentVariableIsEmpty("REVIEWKD_SCREENSHOTS")) {
    dir = QStringLiteral(REVIEWKD_SOURCE_DIR "/docs/screenshots");
    QDir().mkpath(dir);
  } else {
    dir = guiTempDir(QStringLiteral("shots"));
  }
  const QString path = dir + "/" + name + ".png";
  widget->grab().save(path);
  return path;
}

}  // namespace rkdtest
