#include "gui_support.h"

#include <QDir>
#include <QPixmap>
#include <QTemporaryDir>
#include <QWidget>
#include <memory>
#include <vector>

#include "synthetic_data.h"

namespace rkdtest {

QString guiTempDir(const QString& tag) {
  static std::vector<std::unique_ptr<QTemporaryDir>> dirs;  // removed when the process exits
  dirs.push_back(std::make_unique<QTemporaryDir>(QDir::tempPath() + "/rkd-gui-" + tag + "-XXXXXX"));
  return dirs.back()->path();
}

QString syntheticMnistDir(int perClassTrain, int perClassTest) {
  const QString dir = guiTempDir(QStringLiteral("mnist"));
  writeSyntheticMnist(dir.toStdString(), perClassTrain, perClassTest);
  return dir;
}

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
