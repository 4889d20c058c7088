// `reviewkd runs list|show|export|weights|export-onnx|delete|tag|note`: the run history in the store.
#include <cstdio>
#include <filesystem>
#include <ctime>
#include <iostream>
#include <map>

#include "app/cli/commands.h"
#include "app/cli/table_cell.h"
#include "app/cli/progress_printer.h"
#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/services/run_history.h"
#include "core/vocabulary/metric_keys.h"

namespace rkd::cli {
namespace {

struct RunsArgs {
  std::string status, kind, tag, text, teacher, student;
  int limit = 0;
  int64_t run = 0;
  std::vector<int64_t> runs;
  std::string csv;
  std::string tagValue;
  bool remove = false;
  bool yes = false;
  std::string note;
  std::string weightsFile;
  bool last = false;
  bool force = false;
  std::string batch = "1";
};

// What an export says when --force replaced a file that was there.
const char* replacedText(bool replaced) { return replaced ? " (replaced the file that was there)" : ""; }

std::string dateText(int64_t unixMs) {
  std::time_t t = static_cast<std::time_t>(unixMs / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&t));
  return buf;
}

std::string top1Text(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", *v);
  return buf;
}

// --batch of export-onnx: a positive integer, or "dynamic" (returned as 0).
int64_t onnxBatch(const std::string& text) {
  if (text == "dynamic") return 0;
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1)
    throw InputError("--batch must be a positive integer or 'dynamic', got '" + text + "'",
                     "give e.g. --batch 1, or --batch dynamic for a batch chosen at run time");
  return value;
}

std::string opCountsText(const std::map<std::string, int64_t>& counts) {
  std::string s;
  for (const auto& [op, n] : counts) s += (s.empty() ? "" : ", ") + op + " " + std::to_string(n);
  return s;
}

RunRecord requireRun(services::RunHistory& store, int64_t id) {
  auto r = store.run(id);
  if (!r) throw InputError("run " + std::to_string(id) + " does not exist in " + store.path(), "see: reviewkd runs list");
  return *r;
}
}  // namespace

void addRunsCommand(CLI::App& app, Command& command, const GlobalOptions& global) {
  auto a = std::make_shared<RunsArgs>();
  auto* runs = app.add_subcommand("runs", "the run history: list, show, export, weights, export-onnx, delete, tag, note");
  runs->require_subcommand(1);

  auto* list = runs->add_subcommand("list", "every run, newest first");
  list->add_option("--status", a->status, "running, finished, stopped, failed, diverged, interrupted");
  list->add_option("--kind", a->kind, "teacher or student");
  list->add_option("--tag", a->tag, "runs with this tag");
  list->add_option("--text", a->text, "substring of name, method, networks, dataset, tags, notes");
  list->add_option("--teacher", a->teacher, "teacher network");
  list->add_option("--student", a->student, "student (trained) network");
  list->add_option("--limit", a->limit, "at most this many")->check(CLI::NonNegativeNumber);
  list->callback([&command, &global, a] {
    command.action = [&global, a] {
      const std::string path = global.storePath();
      if (fileKind(path) == FileKind::Missing) {
        // Listing reads: it never makes a store (nor its folder) where there is none. A path through a file is
        // no store path at all.
        for (std::filesystem::path up = std::filesystem::path(path).parent_path(); !up.empty(); up = up.parent_path()) {
          const FileKind kind = fileKind(up.string());
          if (kind == FileKind::Missing && up != up.parent_path()) continue;
          if (kind != FileKind::Directory)
            throw InputError("'" + path + "' is no store path: '" + up.string() + "' is " + describeFileKind(kind) +
                                 ", not a folder",
                             "give a store file in a folder (--db FILE)");
          break;
        }
        std::printf("0 runs: no run store at %s yet (the first reviewkd train or teacher run makes it)\n",
                    terminalText(path).c_str());
        return kSuccess;
      }
      services::RunHistory store(path, /*mustExist=*/true);
      RunFilter f;
      f.text = a->text;
      if (!a->status.empty()) f.status = runStatusFromString(a->status);
      if (!a->kind.empty()) f.kind = runKindFromString(a->kind);
      f.tag = a->tag;
      f.teacherArch = a->teacher;
      f.studentArch = a->student;
      f.limit = a->limit;
      auto rows = store.list(f);
      std::printf("%5s  %-34s %-24s %-13s %-11s %7s %7s %6s %-14s %-16s %s\n", "id", "name", "teacher -> student",
                  "method", "status", "best", "last", "epochs", "device", "started", "tags");
      for (const auto& r : rows) {
        std::string pair = r.teacherArch.empty() ? r.studentArch : r.teacherArch + " -> " + r.studentArch;
        std::string tags;
        for (const auto& t : r.tags) tags += (tags.empty() ? "" : ",") + t;
        // Names, tags and the rest are the user's text: one line per run, columns counted in characters.
        std::printf("%5lld  %s %s %s %-11s %7s %7s %6d %s %-16s %s\n", static_cast<long long>(r.id),
                    tableCell(r.name, 34).c_str(), tableCell(pair, 24).c_str(), tableCell(r.method, 13).c_str(),
                    toString(r.status).c_str(), top1Text(r.bestTop1).c_str(), top1Text(r.lastTop1).c_str(),
                    r.epochsDone,
                    tableCell(r.worldSize > 1 ? r.device + " x" + std::to_string(r.worldSize) + " " + r.backend : r.device, 14)
                        .c_str(),
                    dateText(r.startedAt).c_str(),
                    tableCell(tags, displayWidth(tags)).c_str());
      }
      std::printf("%zu runs in %s\n", rows.size(), terminalText(store.path()).c_str());
      return kSuccess;
    };
  });

  auto* show = runs->add_subcommand("show", "one run: record, config, epoch metrics, checkpoints, tags, notes");
  show->add_option("run", a->run, "run id")->required();
  show->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      RunRecord r = requireRun(store, a->run);
      // Everything below comes from the store, and so from whoever wrote it: printed through terminalText.
      const auto t = [](const std::string& text) { return terminalText(text); };
      std::printf("run %lld: %s\n", static_cast<long long>(r.id), t(r.name).c_str());
      std::printf("  kind %s, method %s, status %s%s\n", toString(r.kind).c_str(), t(r.method).c_str(),
                  toString(r.status).c_str(), r.message.empty() ? "" : (" (" + terminalText(r.message, true) + ")").c_str());
      std::printf("  %s%s%s on %s, device %s, seed %lld, build %s\n", t(r.teacherArch).c_str(),
                  r.teacherArch.empty() ? "" : " -> ", t(r.studentArch).c_str(), t(r.dataset).c_str(), t(r.device).c_str(),
                  static_cast<long long>(r.seed), t(r.buildVersion).c_str());
      if (r.teacherRun) std::printf("  teacher run %lld\n", static_cast<long long>(*r.teacherRun));
      std::printf("  started %s%s, %d epochs done, best top-1 %s, last top-1 %s\n", dateText(r.startedAt).c_str(),
                  r.endedAt ? (", ended " + dateText(*r.endedAt)).c_str() : "", r.epochsDone,
                  top1Text(r.bestTop1).c_str(), top1Text(r.lastTop1).c_str());
      auto top1 = store.metrics(r.id, metric::kTestTop1);
      auto loss = store.metrics(r.id, metric::kEpochTrainLoss);
      if (!top1.empty()) {
        std::printf("  epoch  train loss  test top-1\n");
        for (size_t i = 0; i < top1.size(); ++i)
          std::printf("  %5d  %10.4f  %10.2f\n", top1.epochs[i] + 1, i < loss.size() ? loss.values[i] : 0.0,
                      top1.values[i]);
      }
      auto classes = store.classAccuracy(r.id);
      if (!classes.empty()) {
        std::printf("  per-class top-1 (last evaluation):");
        for (const auto& c : classes) std::printf(" %s %.1f;", t(c.className).c_str(), c.accuracy);
        std::printf("\n");
      }
      for (const auto& c : store.checkpoints(r.id))
        std::printf("  checkpoint %-5s epoch %d: %s\n", toString(c.kind).c_str(), c.epoch + 1, t(c.path).c_str());
      auto tags = store.tags(r.id);
      if (!tags.empty()) {
        std::printf("  tags:");
        for (const auto& tagText : tags) std::printf(" %s", t(tagText).c_str());
        std::printf("\n");
      }
      for (const auto& n : store.notes(r.id))
        std::printf("  note (%s): %s\n", dateText(n.createdAt).c_str(), t(n.text).c_str());
      std::printf("  config: %s\n",
                  t(r.config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).c_str());
      return kSuccess;
    };
  });

  auto* exp = runs->add_subcommand("export", "write the metrics of runs as CSV");
  exp->add_option("--csv", a->csv, "output file ('-' = standard output)")->required();
  exp->add_option("runs", a->runs, "run ids")->required();
  exp->add_flag("--force", a->force, "replace FILE when it exists (a regular file; anything else is refused)");
  exp->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      for (int64_t id : a->runs) requireRun(store, id);
      if (a->csv == "-")
        store.writeCsv(a->runs, std::cout);
      else {
        const bool replaced = store.writeCsv(a->runs, a->csv, a->force);
        std::printf("wrote %s%s\n", terminalText(a->csv).c_str(), replacedText(replaced));
      }
      return kSuccess;
    };
  });

  auto* weights = runs->add_subcommand(
      "weights", "write a run's trained network (no review head) as a PyTorch state dict: torch.load reads it");
  weights->add_option("run", a->run, "run id")->required();
  weights->add_option("file", a->weightsFile, "output file (.pt)")->required();
  weights->add_flag("--last", a->last, "the last checkpoint instead of the best");
  weights->add_flag("--force", a->force, "replace FILE when it exists (a regular file; anything else is refused)");
  weights->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      requireRun(store, a->run);  // an unknown run is said first, before anything about the file
      const services::WeightsExport e = store.exportWeights(a->run, a->weightsFile, !a->last, a->force);
      if (!e.ok) {
        std::fprintf(stderr, "error: %s\n", terminalText(e.error, true).c_str());
        return kBadInput;
      }
      std::printf("wrote %s%s: %lld tensors of %s from %s\n", terminalText(a->weightsFile).c_str(),
                  replacedText(e.replaced), static_cast<long long>(e.entries), e.arch.c_str(),
                  terminalText(e.source).c_str());
      return kSuccess;
    };
  });

  auto* onnx = runs->add_subcommand(
      "export-onnx", "write a run's trained network as an ONNX model for inference (BatchNorms folded into the convs)");
  onnx->add_option("run", a->run, "run id")->required();
  onnx->add_option("file", a->weightsFile, "output file (.onnx)")->required();
  onnx->add_flag("--last", a->last, "the last checkpoint instead of the best");
  onnx->add_option("--batch", a->batch, "batch size of the input: a positive integer, or 'dynamic' (default 1)");
  onnx->add_flag("--force", a->force, "replace FILE when it exists (a regular file; anything else is refused)");
  onnx->callback([&command, &global, a] {
    command.action = [&global, a] {
      const int64_t batch = onnxBatch(a->batch);
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      requireRun(store, a->run);
      const services::OnnxExport e = store.exportOnnx(a->run, a->weightsFile, !a->last, batch, a->force);
      if (!e.ok) {
        std::fprintf(stderr, "error: exporting run %lld to %s: %s\n", static_cast<long long>(a->run),
                     terminalText(a->weightsFile).c_str(), terminalText(e.error, true).c_str());
        return kBadInput;
      }
      const std::string batchText = e.inputShape.front() < 0 ? "N" : std::to_string(e.inputShape.front());
      std::printf("wrote %s%s: %s from %s\n", terminalText(a->weightsFile).c_str(), replacedText(e.replaced),
                  e.arch.c_str(), terminalText(e.source).c_str());
      std::printf("  input 'input' %s float (normalised as in training), output 'logits' %sx%lld\n",
                  e.inputShapeText().c_str(), batchText.c_str(), static_cast<long long>(e.outputShape.back()));
      std::printf("  %lld nodes (%s), %lld BatchNorms folded into convolutions\n", static_cast<long long>(e.nodes),
                  opCountsText(e.opCounts).c_str(), static_cast<long long>(e.foldedBatchNorms));
      return kSuccess;
    };
  });

  auto* del = runs->add_subcommand("delete", "delete a run: its records, metrics and its folder of checkpoint files");
  del->add_option("run", a->run, "run id")->required();
  del->add_flag("--yes", a->yes, "do not ask");
  del->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      RunRecord r = requireRun(store, a->run);
      if (!a->yes) {
        std::printf("delete run %lld (%s)? [y/N] ", static_cast<long long>(r.id), terminalText(r.name).c_str());
        std::fflush(stdout);
        std::string answer;
        if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
          std::printf("kept.\n");
          return kSuccess;
        }
      }
      store.deleteRun(r.id);
      std::printf("deleted run %lld\n", static_cast<long long>(r.id));
      return kSuccess;
    };
  });

  auto* tag = runs->add_subcommand("tag", "add (or --remove) a tag");
  tag->add_option("run", a->run, "run id")->required();
  tag->add_option("tag", a->tagValue, "tag text")->required();
  tag->add_flag("--remove", a->remove, "remove the tag instead");
  tag->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      requireRun(store, a->run);
      if (a->remove) {
        if (!store.removeTag(a->run, a->tagValue))
          throw InputError("run " + std::to_string(a->run) + " has no tag '" + terminalText(a->tagValue) + "'", "see: reviewkd runs show " + std::to_string(a->run));
      } else {
        store.addTag(a->run, a->tagValue);
      }
      return kSuccess;
    };
  });

  auto* note = runs->add_subcommand("note", "add a note to a run");
  note->add_option("run", a->run, "run id")->required();
  note->add_option("text", a->note, "note text")->required();
  note->callback([&command, &global, a] {
    command.action = [&global, a] {
      services::RunHistory store(global.storePath(), /*mustExist=*/true);
      requireRun(store, a->run);
      store.addNote(a->run, a->note);
      return kSuccess;
    };
  });
}

}  // namespace rkd::cli
