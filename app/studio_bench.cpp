// reviewkd-studio-bench: does the studio cost training speed, and does its window stay responsive?
//
// Trains the same ReviewKD config twice per round: headless (what the reviewkd CLI does: the trainer on the
// calling thread, progress callbacks only counted) and in the studio (main window shown, live plots and feature
// maps updating, training on the controller's worker thread). While the studio trains, a 10 ms precise timer on
// the GUI thread measures how late each tick fires: the event loop's latency. Rounds alternate to share noise.
// Prints per-round numbers, then one summary line.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/services/catalog.h"
#include "core/services/training_service.h"
#include "core/services/training_service.h"
#include "widgets/main_window.h"
#include "widgets/controllers/training_controller.h"

namespace {

struct Timing {
  int64_t steps = 0;
  int64_t images = 0;
  double seconds = 0;  // first step to last step
  double perSecond() const { return seconds > 0 ? static_cast<double>(images) / seconds : 0; }
};

// Step throughput from step callbacks: images between the first and the last step over the time between them.
struct StepClock {
  QElapsedTimer clock;
  double first = -1, last = 0;
  int64_t steps = 0, images = 0;
  int batch = 0;
  void onStep() {
    const double now = static_cast<double>(clock.nsecsElapsed()) * 1e-9;
    if (first < 0) {
      first = now;
    } else {
      images += batch;
    }
    last = now;
    ++steps;
  }
  Timing timing() const { return {steps, images, last - first}; }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  rkd::services::prepareProcess();  // as reviewkd-studio does, before any thread starts
  QApplication app(argc, argv);
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Training throughput in the studio vs headless, and GUI event-loop latency"));
  parser.addHelpOption();
  QCommandLineOption epochs(QStringLiteral("epochs"), QStringLiteral("student epochs per run (default 2)"), QStringLiteral("n"), QStringLiteral("2"));
  QCommandLineOption perClass(QStringLiteral("per-class"), QStringLiteral("Fashion-MNIST images per class (default 200)"), QStringLiteral("n"), QStringLiteral("200"));
  QCommandLineOption rounds(QStringLiteral("rounds"), QStringLiteral("headless/studio pairs (default 2)"), QStringLiteral("n"), QStringLiteral("2"));
  QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("CPU threads (default 0 = all)"), QStringLiteral("n"), QStringLiteral("0"));
  parser.addOptions({epochs, perClass, rounds, threads});
  parser.process(app);

  QTemporaryDir dir;
  const std::string store = (dir.path() + "/bench.sqlite").toStdString();
  rkd::RunConfig student = rkd::findPreset("quick").student;
  student.name = "bench";
  student.data.perClass = parser.value(perClass).toInt();
  student.optim.epochs = parser.value(epochs).toInt();
  student.threads = parser.value(threads).toInt();
  student.device = "cpu";

  // The teacher: one short CE run (its accuracy does not matter for speed).
  rkd::RunConfig teacher = rkd::services::teacherRecipe(student);
  teacher.optim.epochs = 1;
  teacher.data.perClass = student.data.perClass;
  {
    rkd::services::TrainingService session(store);
    const rkd::RunOutcome t = session.start(teacher, {});
    if (t.status != rkd::RunStatus::Finished) {
      std::fprintf(stderr, "teacher run failed: %s\n", t.message.c_str());
      return 1;
    }
    student.teacher.run = t.runId;
  }
  std::printf("config: %s, %lld images/class, %lld epochs, batch %lld, features every %lld steps\n",
              student.summary().c_str(), static_cast<long long>(student.data.perClass),
              static_cast<long long>(student.optim.epochs), static_cast<long long>(student.optim.batchSize),
              static_cast<long long>(student.snapshotEvery));

  QSettings settings(dir.path() + "/bench.ini", QSettings::IniFormat);
  rkd::gui::MainWindow window(QString::fromStdString(store), &settings, false);
  window.resize(1500, 900);
  window.show();

  std::vector<double> headlessRates, studioRates, latencies;
  for (int round = 0; round < parser.value(rounds).toInt(); ++round) {
    // Headless, on this thread, like `reviewkd train`.
    StepClock headless;
    headless.batch = static_cast<int>(student.optim.batchSize);
    headless.clock.start();
    rkd::TrainerCallbacks callbacks;
    callbacks.onStep = [&](const rkd::StepProgress&) { headless.onStep(); };
    rkd::RunOutcome ho;
    {
      rkd::services::TrainingService session(store);
      ho = session.start(student, callbacks);
    }
    const Timing h = headless.timing();
    // Both rates: images stepped over the run's own wall time (training and evaluation), so they compare.
    const double headlessRate = static_cast<double>(h.steps) * static_cast<double>(headless.batch) / ho.seconds;
    headlessRates.push_back(headlessRate);

    // In the studio: the controller's worker thread, plots and feature maps live.
    StepClock studio;
    studio.batch = headless.batch;
    studio.clock.start();
    rkd::gui::TrainingController* controller = window.controller();
    // Counted when the trainer reports (worker thread), not when the GUI draws: the training speed itself.
    QObject::connect(controller, &rkd::gui::TrainingController::stepsReady, &window,
                     [&](const std::vector<rkd::StepProgress>& steps) {
                       for (size_t i = 0; i < steps.size(); ++i) studio.onStep();
                     });
    std::vector<double> roundLatency;
    QElapsedTimer tick;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    probe.setInterval(10);
    QObject::connect(&probe, &QTimer::timeout, &window, [&] {
      roundLatency.push_back(std::max(0.0, static_cast<double>(tick.nsecsElapsed()) * 1e-6 - 10.0));
      tick.restart();
    });
    QSignalSpy done(controller, &rkd::gui::TrainingController::jobFinished);
    QElapsedTimer wall;
    wall.start();
    controller->start(student);
    tick.start();
    probe.start();
    done.wait(3600 * 1000);
    probe.stop();
    const double studioWall = static_cast<double>(wall.nsecsElapsed()) * 1e-9;
    QObject::disconnect(controller, &rkd::gui::TrainingController::stepsReady, &window, nullptr);
    const rkd::RunOutcome o = qvariant_cast<rkd::RunOutcome>(done.takeFirst().at(0));
    const double studioRate = static_cast<double>(studio.steps) * static_cast<double>(studio.batch) / o.seconds;
    studioRates.push_back(studioRate);
    latencies.insert(latencies.end(), roundLatency.begin(), roundLatency.end());
    std::printf("round %d: headless %.1f img/s (%lld steps, run %.2f s); studio %.1f img/s (%lld steps, run %.2f s, job %.2f s); "
                "GUI latency p50 %.2f ms p99 %.2f ms max %.2f ms over %zu ticks; %d deliveries\n",
                round + 1, headlessRate, static_cast<long long>(h.steps), ho.seconds, studioRate,
                static_cast<long long>(studio.steps), o.seconds, studioWall, percentile(roundLatency, 50),
                percentile(roundLatency, 99), percentile(roundLatency, 100), roundLatency.size(),
                controller->deliveries());
  }
  const double headlessMedian = percentile(headlessRates, 50);
  const double studioMedian = percentile(studioRates, 50);
  std::printf("headless_img_per_s=%.1f studio_img_per_s=%.1f throughput_ratio=%.3f latency_p99_ms=%.2f latency_max_ms=%.2f\n",
              headlessMedian, studioMedian, headlessMedian > 0 ? studioMedian / headlessMedian : 0,
              percentile(latencies, 99), percentile(latencies, 100));
  return 0;
}
