// `reviewkd train | teacher | resume | ablation`: the training commands.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "core/common/errors.h"
#include "core/store/run_store.h"
#include "core/studio/studio.h"
#include "core/services/run_config.h"
#include "core/train/trainer.h"

namespace rkd::cli {
namespace {

StopFlag g_stop{false};

extern "C" void onInterrupt(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
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

int exitCodeFor(const RunOutcome& o) {
  if (o.status == RunStatus::Finished) return kSuccess;
  std::fprintf(stderr, "run %lld %s: %s\n", static_cast<long long>(o.runId), o.statusText().c_str(), o.message.c_str());
  return kRunFailed;
}

RunOutcome runWithProgress(RunStore& store, const std::function<RunOutcome(Trainer&)>& body) {
  ProgressPrinter printer;
  g_stop.store(false);
  auto previous = std::signal(SIGINT, onInterrupt);
  Trainer trainer(store, printer.callbacks(), &g_stop);
  RunOutcome o;
  try {
    o = body(trainer);
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);
  std::printf("run %lld %s: best top-1 %.2f, last top-1 %.2f, %d epochs, %s\n", static_cast<long long>(o.runId),
              o.statusText().c_str(), o.bestTop1, o.lastTop1, o.epochsDone, formatDuration(o.seconds).c_str());
  return o;
}

// A student config needs a teacher: the one given, else the preset's teacher (reused or trained now).
bool ensureTeacher(RunStore& store, RunConfig& student, const Preset* preset, const TrainArgs& a) {
  if (student.kind == "teacher" || student.method == "student-alone") return true;
  if (a.teacherRun > 0) {
    student.teacher.run = a.teacherRun;
    student.teacher.checkpoint.clear();
  } else if (!a.teacherCheckpoint.empty()) {
    student.teacher.checkpoint = a.teacherCheckpoint;
    student.teacher.run = 0;
  }
  if (student.teacher.run > 0 || !student.teacher.checkpoint.empty()) return true;
  if (!preset)
    throw InputError("the config names no teacher (teacher.run or teacher.checkpoint)",
                     "add --teacher-run ID (reviewkd runs list --kind teacher) or --teacher-checkpoint FILE");
  RunConfig teacher = preset->teacher;
  // Data and device choices of the student apply to its teacher too.
  teacher.data.kind = student.data.kind;
  teacher.data.path = student.data.path;
  teacher.data.channels = student.data.channels;
  teacher.device = student.device;
  teacher.threads = student.threads;
  if (auto id = studio::findFinishedTeacher(store, teacher)) {
    std::printf("teacher: reusing finished run %lld (%s)\n", static_cast<long long>(*id), teacher.summary().c_str());
    student.teacher.run = *id;
    return true;
  }
  std::printf("teacher: no finished run of this preset's teacher yet; training it first (%s)\n",
              teacher.summary().c_str());
  RunOutcome o = runWithProgress(store, [&](Trainer& t) { return t.start(teacher); });
  if (o.status != RunStatus::Finished) return exitCodeFor(o) == kSuccess;
  student.teacher.run = o.runId;
  return true;
}

RunConfig configFrom(const TrainArgs& a, bool teacherRun, const Preset** presetOut) {
  RunConfig c;
  *presetOut = nullptr;
  if (!a.config.empty()) {
    c = loadRunConfig(a.config);
  } else {
    const Preset& p = findPreset(a.preset);
    *presetOut = &p;
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

void printAblation(const RunConfig& base, const std::vector<std::pair<std::string, RunOutcome>>& rows,
                   const std::vector<std::pair<std::string, RunConfig>>& grid, double seconds) {
  auto published = publishedNumbers(base.teacher.arch, base.student);
  double alone = 0;
  for (const auto& [label, o] : rows)
    if (label == "student alone") alone = o.bestTop1;
  std::printf("\nablation: %s -> %s on %s (%s)\n", base.teacher.arch.c_str(), base.student.c_str(),
              base.data.kind.c_str(), formatDuration(seconds).c_str());
  std::printf("| %-26s | run | status   | best top-1 | last top-1 | vs alone |%s\n", "row",
              published ? " paper (CIFAR-100) |" : "");
  std::printf("|%s|-----|----------|------------|------------|----------|%s\n", std::string(28, '-').c_str(),
              published ? "-------------------|" : "");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [label, o] = rows[i];
    std::string paper;
    if (published) {
      const RunConfig& c = grid[i].second;
      double v = -1;
      if (c.method == "student-alone") v = published->student;
      else if (c.method == "kd") v = published->kd;
      else
        for (const auto& [sw, top1] : published->ablation)
          if (sw == std::vector<bool>{c.review.review, c.review.residual, c.review.abf, c.review.hcl}) v = top1;
      if (v < 0 && c.method == "reviewkd" && c.review.review && c.review.residual && c.review.abf && c.review.hcl)
        v = published->reviewkd;
      char buf[32];
      std::snprintf(buf, sizeof buf, " %17s |", v < 0 ? "-" : std::to_string(v).substr(0, 5).c_str());
      paper = buf;
    }
    std::printf("| %-26s | %3lld | %-8s | %10.2f | %10.2f | %+8.2f |%s\n", label.c_str(),
                static_cast<long long>(o.runId), o.statusText().c_str(), o.bestTop1, o.lastTop1, o.bestTop1 - alone,
                paper.c_str());
  }
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
    command.action = [&global, a] {
      const Preset* preset = nullptr;
      RunConfig c = configFrom(*a, false, &preset);
      RunStore store(global.storePath());
      if (!ensureTeacher(store, c, preset, *a)) return kRunFailed;
      return exitCodeFor(runWithProgress(store, [&](Trainer& t) { return t.start(c); }));
    };
  });

  auto* teacher = app.add_subcommand("teacher", "train a teacher with cross-entropy from a config or a preset");
  addSourceOptions(teacher, *a);
  teacher->callback([&command, &global, a] {
    if (a->config.empty() && a->preset.empty()) throw CLI::ValidationError("teacher", "give --config FILE or --preset NAME");
    command.action = [&global, a] {
      const Preset* preset = nullptr;
      RunConfig c = configFrom(*a, true, &preset);
      RunStore store(global.storePath());
      return exitCodeFor(runWithProgress(store, [&](Trainer& t) { return t.start(c); }));
    };
  });

  auto* resume = app.add_subcommand("resume", "continue a stopped or interrupted run from its last checkpoint");
  resume->add_option("run", a->resumeRun, "run id (reviewkd runs list)")->required()->check(CLI::PositiveNumber);
  resume->add_option("--epochs", a->epochs, "new total epoch count (to extend a run)")->check(CLI::PositiveNumber);
  resume->callback([&command, &global, a] {
    command.action = [&global, a] {
      RunStore store(global.storePath());
      return exitCodeFor(runWithProgress(store, [&](Trainer& t) { return t.resume(a->resumeRun, a->epochs); }));
    };
  });

  auto* ablation = app.add_subcommand(
      "ablation", "the ablation study of a preset: student alone, Hinton KD and the six switch rows, then a table");
  ablation->add_option("--preset", a->preset, "preset (quick, resnet56-resnet20, ...)")->required();
  ablation->add_option("--set", a->overrides, "override a field of every row, e.g. --set optim.epochs=5");
  ablation->add_option("--teacher-run", a->teacherRun, "use this finished teacher run")->check(CLI::PositiveNumber);
  ablation->callback([&command, &global, a] {
    command.action = [&global, a] {
      const auto start = std::chrono::steady_clock::now();
      const Preset* preset = nullptr;
      RunConfig base = configFrom(*a, false, &preset);
      RunStore store(global.storePath());
      if (!ensureTeacher(store, base, preset, *a)) return kRunFailed;
      auto grid = ablationGrid(base);
      std::vector<std::pair<std::string, RunOutcome>> rows;
      int failed = 0;
      for (size_t i = 0; i < grid.size(); ++i) {
        std::printf("\n[%zu/%zu] %s: %s\n", i + 1, grid.size(), grid[i].first.c_str(), grid[i].second.summary().c_str());
        RunOutcome o = runWithProgress(store, [&](Trainer& t) { return t.start(grid[i].second); });
        rows.emplace_back(grid[i].first, o);
        if (o.status != RunStatus::Finished) ++failed;
        if (o.status == RunStatus::Stopped) break;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      printAblation(base, rows, grid, seconds);
      return failed == 0 ? kSuccess : kRunFailed;
    };
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
