// `reviewkd train | teacher | resume | ablation`: the training commands.
#include <atomic>
#include <csignal>
#include <functional>
#include <cstdio>
#include <iostream>
#include <optional>
#include <vector>

#include <sys/stat.h>

#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "app/cli/table_cell.h"
#include "core/common/errors.h"
#include "core/services/ablation_study.h"
#include "core/services/catalog.h"
#include "core/vocabulary/run_config.h"
#include "core/services/training_service.h"

namespace rkd::cli {
namespace {

// The service a Ctrl-C stops: the step in flight finishes, a checkpoint is written, the run ends "stopped".
// SIGTERM (schedulers, torchrun, systemd, docker stop) and SIGHUP (the terminal went away) do the same.
services::TrainingService* g_service = nullptr;

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void onInterrupt(int) {
  if (g_service) g_service->requestStop();
  for (int s : kStopSignals) std::signal(s, SIG_DFL);  // a second one ends the process at once (run interrupted)
}

// A worker of a distributed job other than rank 0 follows rank 0's runs; Ctrl-C asks for a stop that every rank
// takes at the same step (launch forwards one Ctrl-C to every worker).
std::atomic<bool> g_followerStop{false};
extern "C" void onFollowerInterrupt(int) {
  g_followerStop = true;
  for (int s : kStopSignals) std::signal(s, SIG_DFL);
}

// The command as one worker of a distributed job when the torchrun variables are set: rank 0 runs `body` and
// then releases the others with its exit code; the others follow rank 0's runs. A plain process runs `body`.
std::function<int()> distributed(std::function<int()> body) {
  return [body = std::move(body)] {
    const services::DistributedRole role = services::joinDistributedJob();
    if (!role.distributed) return body();
    if (!role.primary) {
      std::vector<void (*)(int)> previous;
      for (int s : kStopSignals) previous.push_back(std::signal(s, onFollowerInterrupt));
      const int code = services::followDistributedJob(&g_followerStop);
      for (size_t i = 0; i < previous.size(); ++i) std::signal(kStopSignals[i], previous[i]);
      return code;
    }
    int code = kRunFailed;
    try {
      code = body();
    } catch (const InputError&) {
      services::endDistributedJob(kBadInput);
      throw;
    } catch (...) {
      services::endDistributedJob(kRunFailed);
      throw;
    }
    services::endDistributedJob(code);
    return code;
  };
}

struct TrainArgs {
  std::string config;
  std::string preset;
  std::vector<std::string> overrides;
  int64_t teacherRun = 0;
  std::string teacherCheckpoint;
  int64_t resumeRun = 0;
  int64_t epochs = 0;
};

// Whether two streams write to the same file, terminal or pipe.
bool sameDestination(std::FILE* a, std::FILE* b) {
  struct stat sa {}, sb {};
  return ::fstat(fileno(a), &sa) == 0 && ::fstat(fileno(b), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int exitCodeFor(const RunOutcome& o) {
  if (o.status == RunStatus::Finished) return kSuccess;
  if (o.badInput || o.refusedWith != 0) {
    std::fprintf(stderr, "error: %s\n", terminalText(o.message, true).c_str());
    return o.badInput ? kBadInput : o.refusedWith;
  }
  // The trainer's last status line ("run N failed: why") went to stdout. Scripts that keep only stderr need it
  // there too, but a terminal (or 2>&1 into one file or pipe) would show it twice.
  if (o.runId == 0)  // nothing was recorded (e.g. stopped while loading): no status line went to stdout
    std::fprintf(stderr, "%s: %s\n", o.statusText().c_str(), terminalText(o.message, true).c_str());
  else if (!sameDestination(stdout, stderr))
    std::fprintf(stderr, "run %lld %s: %s\n", static_cast<long long>(o.runId), o.statusText().c_str(),
                 terminalText(o.message, true).c_str());
  return kRunFailed;
}

// One blocking service call, with the progress printer as its callbacks and Ctrl-C as its stop.
RunOutcome runWithProgress(services::TrainingService& service,
                           const std::function<RunOutcome(const TrainerCallbacks&)>& body) {
  ProgressPrinter printer;
  service.clearStop();
  g_service = &service;
  std::vector<void (*)(int)> previous;
  for (int s : kStopSignals) previous.push_back(std::signal(s, onInterrupt));
  const RunOutcome o = body(printer.callbacks());  // service calls never throw
  for (size_t i = 0; i < previous.size(); ++i) std::signal(kStopSignals[i], previous[i]);
  g_service = nullptr;
  if (o.runId > 0)
    std::printf("run %lld %s: best top-1 %.2f, last top-1 %.2f, %d epochs, %s\n", static_cast<long long>(o.runId),
                o.statusText().c_str(), o.bestTop1, o.lastTop1, o.epochsDone, formatDuration(o.seconds).c_str());
  return o;
}

// --teacher-run / --teacher-checkpoint name the teacher explicitly (the config's own teacher fields otherwise).
void applyTeacherArgs(RunConfig& student, const TrainArgs& a) {
  if (a.teacherRun > 0) {
    student.teacher.run = a.teacherRun;
    student.teacher.checkpoint.clear();
  } else if (!a.teacherCheckpoint.empty()) {
    student.teacher.checkpoint = a.teacherCheckpoint;
    student.teacher.run = 0;
  }
}

RunConfig configFrom(const TrainArgs& a, bool teacherRun) {
  RunConfig c;
  if (!a.config.empty()) {
    c = loadRunConfig(a.config);
  } else {
    const Preset& p = findPreset(a.preset);
    c = teacherRun ? p.teacher : p.student;
  }
  if (!a.overrides.empty()) c = applyOverrides(c, a.overrides);
  if (teacherRun && c.kind != "teacher")
    throw InputError("the config trains a student (kind " + c.kind + ")", "use reviewkd train for student runs");
  return c;
}

void addSourceOptions(CLI::App* sub, TrainArgs& a) {
  auto* cfg = sub->add_option("--config", a.config, "run configuration file (JSON)")->check(CLI::ExistingFile);
  auto* pre = sub->add_option("--preset", a.preset, "a preset: quick, resnet56-resnet20, ... (reviewkd presets)");
  cfg->excludes(pre);
  sub->add_option("--set", a.overrides, "override a config field, e.g. --set optim.epochs=5 --set review.abf=false")
      ->allow_extra_args(false);
}

}  // namespace

void addTrainCommands(CLI::App& app, Command& command, const GlobalOptions& global) {
  auto a = std::make_shared<TrainArgs>();

  auto* train = app.add_subcommand("train", "train a student (ReviewKD, Hinton KD or alone) from a config or preset");
  addSourceOptions(train, *a);
  train->add_option("--teacher-run", a->teacherRun, "use this finished teacher run")->check(CLI::PositiveNumber);
  train->add_option("--teacher-checkpoint", a->teacherCheckpoint, "or this PyTorch/studio checkpoint")
      ->check(CLI::ExistingFile);
  train->callback([&command, &global, a, train] {
    if (a->config.empty() && a->preset.empty()) throw CLI::ValidationError("train", "give --config FILE or --preset NAME");
    command.action = distributed([&global, a] {
      RunConfig c = configFrom(*a, false);
      applyTeacherArgs(c, *a);
      services::TrainingService service(global.storePath());
      return exitCodeFor(runWithProgress(service, [&](const TrainerCallbacks& cb) { return service.start(c, cb); }));
    });
  });

  auto* teacher = app.add_subcommand("teacher", "train a teacher with cross-entropy from a config or a preset");
  addSourceOptions(teacher, *a);
  teacher->callback([&command, &global, a] {
    if (a->config.empty() && a->preset.empty()) throw CLI::ValidationError("teacher", "give --config FILE or --preset NAME");
    command.action = distributed([&global, a] {
      RunConfig c = configFrom(*a, true);
      services::TrainingService service(global.storePath());
      return exitCodeFor(runWithProgress(service, [&](const TrainerCallbacks& cb) { return service.start(c, cb); }));
    });
  });

  auto* resume = app.add_subcommand("resume", "continue a stopped or interrupted run from its last checkpoint");
  resume->add_option("run", a->resumeRun, "run id (reviewkd runs list)")->required()->check(CLI::PositiveNumber);
  resume->add_option("--epochs", a->epochs, "new total epoch count (to extend a run)")->check(CLI::PositiveNumber);
  resume->callback([&command, &global, a] {
    command.action = distributed([&global, a] {
      services::TrainingService service(global.storePath());
      return exitCodeFor(runWithProgress(
          service, [&](const TrainerCallbacks& cb) { return service.resume(a->resumeRun, a->epochs, cb); }));
    });
  });

  auto* ablation = app.add_subcommand(
      "ablation", "the ablation study of a preset: student alone, Hinton KD and the six switch rows, then a table");
  ablation->add_option("--preset", a->preset, "preset (quick, resnet56-resnet20, ...)")->required();
  ablation->add_option("--set", a->overrides, "override a field of every row, e.g. --set optim.epochs=5");
  ablation->add_option("--teacher-run", a->teacherRun, "use this finished teacher run")->check(CLI::PositiveNumber);
  ablation->callback([&command, &global, a] {
    command.action = distributed([&global, a] {
      const auto start = std::chrono::steady_clock::now();
      RunConfig base = configFrom(*a, false);
      applyTeacherArgs(base, *a);
      services::TrainingService service(global.storePath());
      // One teacher for every row, resolved (and trained, when needed) before the first row.
      std::optional<RunOutcome> teacherStopped;
      runWithProgress(service, [&](const TrainerCallbacks& cb) {
        teacherStopped = service.provideTeacher(base, cb);
        return teacherStopped ? *teacherStopped : RunOutcome{};
      });
      if (teacherStopped) return exitCodeFor(*teacherStopped);
      std::vector<services::AblationResult> results;
      for (auto& row : services::ablationRows(base)) {
        services::AblationResult r;
        r.row = std::move(row);
        results.push_back(std::move(r));
      }
      int failed = 0;
      for (size_t i = 0; i < results.size(); ++i) {
        const services::AblationRow& row = results[i].row;
        std::printf("\n[%zu/%zu] %s: %s\n", i + 1, results.size(), row.label.c_str(), terminalText(row.config.summary()).c_str());
        const RunOutcome o =
            runWithProgress(service, [&](const TrainerCallbacks& cb) { return service.start(row.config, cb); });
        results[i].runId = o.runId;
        results[i].status = o.statusText();
        if (o.runId > 0) {
          results[i].best = o.bestTop1;
          results[i].last = o.lastTop1;
        }
        if (o.status != RunStatus::Finished) ++failed;
        if (o.status == RunStatus::Stopped) break;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("\n%s(%s on %s, %s)\n",
                  services::ablationMarkdown(base.teacher.arch + " -> " + base.student, results).c_str(),
                  base.teacher.arch.c_str(), base.data.kind.c_str(), formatDuration(seconds).c_str());
      return failed == 0 ? kSuccess : kRunFailed;
    });
  });

  auto* presetList = app.add_subcommand("presets", "list the presets (published pairs and the quick CPU demo)");
  presetList->callback([&command] {
    command.action = [] {
      for (const auto& p : presets())
        std::printf("%-24s %s\n", p.name.c_str(), p.description.c_str());
      return kSuccess;
    };
  });
}

}  // namespace rkd::cli
