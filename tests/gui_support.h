#pragma once
// Helpers shared by the GUI suites and test_controllers: all but saveScreenshot need only QtCore
// (gui_support.cpp); saveScreenshot is in gui_screenshot.cpp, with the widgets.
#include <QString>

#include "core/vocabulary/run_config.h"

class QWidget;

namespace rkdtest {

/// A fresh temporary folder for one test (removed at process exit).
QString guiTempDir(const QString& tag);
/// A folder with a tiny synthetic MNIST (IDX files; 10 classes) for real runs that finish in seconds.
QString syntheticMnistDir(int perClassTrain = 20, int perClassTest = 10);
/// The quick preset's student shortened to a run of seconds on the synthetic MNIST in `dataDir`: resnet8 from
/// a resnet8 teacher, batch 40, warm-up 1, on the CPU.
rkd::RunConfig tinyRunConfig(const QString& dataDir, const std::string& name, int epochs, int threads,
                             int snapshotEvery);
/// Saves a screenshot of `widget` as docs/screenshots/<name>.png in the source tree when $REVIEWKD_SCREENSHOTS
/// is set (scripts/screenshots sets it), else into the test's temporary folder. Returns the path written.
QString saveScreenshot(QWidget* widget, const QString& name);

}  // namespace rkdtest
