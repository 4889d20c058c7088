#include "gui_support.h"

#include "core/services/catalog.h"

#include <QDir>
#include <QTemporaryDir>
#include <memory>
#include <vector>

#include "synthetic_data.h"

namespace rkdtest {

rkd::RunConfig tinyRunConfig(const QString& dataDir, const std::string& name, int epochs, int threads,
                             int snapshotEvery) {
  rkd::RunConfig c = rkd::findPreset("quick").student;
  c.name = name;
  c.data.kind = "mnist";
  c.data.path = dataDir.toStdString();
  c.data.perClass = 0;
  c.student = "resnet8";
  c.teacher.arch = "resnet8";
  c.optim.epochs = epochs;
  c.optim.batchSize = 40;
  c.review.warmupEpochs = 1;
  c.device = "cpu";
  c.threads = threads;
  c.snapshotEvery = snapshotEvery;
  return c;
}

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


}  // namespace rkdtest
