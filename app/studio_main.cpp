// reviewkd-studio: the desktop studio. A thin main: arguments, display check, the main window.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QMessageBox>
#include <QSettings>
#include <cstdio>
#include <cstdlib>

#include "core/services/errors.h"
#include "core/services/training_service.h"
#include "core/services/run_history.h"
#include "widgets/experiment_panel.h"
#include "widgets/main_window.h"
#include "widgets/studio_icon.h"

namespace {

bool haveDisplay() {
  if (!qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) return true;  // offscreen, xcb, wayland chosen explicitly
  return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
}

}  // namespace

int main(int argc, char** argv) {
  rkd::services::prepareProcess();  // before any thread starts, so the training thread shares the kept memory
  if (!haveDisplay()) {
    std::fprintf(stderr,
                 "reviewkd-studio needs a display, and none is set (no DISPLAY or WAYLAND_DISPLAY).\n"
                 "  - On a desktop session, start it from there.\n"
                 "  - Over SSH: ssh -X, or run it in a virtual display: xvfb-run -a reviewkd-studio\n"
                 "  - Headless: the reviewkd command does everything the studio can start, e.g.\n"
                 "      reviewkd train --preset quick      (then: reviewkd runs list)\n");
    return 2;
  }
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ReviewKD Studio"));
  QApplication::setOrganizationName(QStringLiteral("ReviewKD"));
  QApplication::setWindowIcon(rkd::gui::studioIcon());
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("ReviewKD Studio: knowledge-review distillation, live"));
  parser.addHelpOption();
  QCommandLineOption db(QStringLiteral("db"), QStringLiteral("run store file (default: $REVIEWKD_DB, else the store opened last, else "
                                       "~/.local/share/reviewkd-studio/runs.sqlite)"),
                        QStringLiteral("path"));
  QCommandLineOption preset(QStringLiteral("preset"), QStringLiteral("fill the experiment panel with a preset (quick, resnet56-resnet20, ...)"),
                            QStringLiteral("name"));
  parser.addOption(db);
  parser.addOption(preset);
  parser.process(app);

  // --db, $REVIEWKD_DB, the store opened last time (File > Open run store), the XDG default: the CLI's order.
  QString storePath;
  if (parser.isSet(db) && parser.value(db).isEmpty()) {
    // An empty --db (an unset variable) must not open the user's real history.
    std::fprintf(stderr, "reviewkd-studio: --db is empty: give the store file (--db FILE), or leave --db out for the "
                         "default store\n");
    return 2;
  }
  try {
    const QString last = QSettings().value(QStringLiteral("store/path")).toString();
    storePath = QString::fromStdString(
        rkd::services::resolveStorePath(parser.value(db).toStdString(), last.toStdString()));
  } catch (...) {
    const rkd::ErrorReport report = rkd::describeCurrentError();
    QMessageBox::critical(nullptr, QStringLiteral("ReviewKD Studio"), QString::fromStdString(report.full()));
    return report.exitCode;
  }
  rkd::gui::MainWindow window(storePath);
  if (parser.isSet(preset)) window.experimentPanel()->applyPreset(parser.value(preset));
  window.show();
  return app.exec();
}
