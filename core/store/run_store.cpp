// The run store's runs: create, status and resume claims, epochs, the space reserve, reading and listing, delete.
// What a run holds (metrics, class accuracy, checkpoints, tags, notes) is in run_store_records.cpp; opening and the
// schema in store_schema.cpp, writer liveness and recovery in writer_liveness.cpp, MetricWriter in metric_writer.cpp.
#include "core/store/run_store.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <variant>

#include <fcntl.h>
#include <unistd.h>

#include "core/common/version.h"
#include "core/store/store_internal.h"

namespace rkd {

namespace store_detail {

std::shared_ptr<spdlog::logger> storeLog() { return logger("core.store"); }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string asciiLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void requireBounded(const std::string& text, size_t most, const char* what) {
  if (text.size() > most)
    throw InputError(std::string("the ") + what + " is " + std::to_string(text.size()) + " bytes long, over the " +
                         std::to_string(most) + " a " + what + " may have",
                     "Shorten it.");
}

InputError noSuchRun(int64_t runId, const char* operation) {
  return InputError(std::string(operation) + ": no run with id " + std::to_string(runId) + " in the run store",
                    "Pick a run from the history list (reviewkd runs list).");
}

}  // namespace store_detail

using namespace store_detail;
namespace fs = std::filesystem;

namespace {

bool isTerminal(RunStatus s) { return s != RunStatus::Running; }

std::string dumpConfig(const nlohmann::json& config) {
  return config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parseConfig(const std::string& text, int64_t runId) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    storeLog()->warn("run {}: stored config is not valid JSON; returning it as a string", runId);
    return nlohmann::json(text);
  }
  return j;
}

}  // namespace

void RunStore::requireRun(int64_t runId, const char* operation) {
  Statement q(m_db, m_path, operation, "SELECT 1 FROM runs WHERE id = ?1");
  q.bind(1, runId);
  if (!q.step()) throw noSuchRun(runId, operation);
}

void RunStore::touch(int64_t runId) {
  Statement q(m_db, m_path, "update heartbeat", "UPDATE runs SET updated_at = ?1 WHERE id = ?2");
  q.bind(1, nowUnixMs()).bind(2, runId).run();
}

// ---- runs ------------------------------------------------------------------------------------------------

int64_t RunStore::createRun(const RunRecord& run) {
  std::lock_guard lock(m_mutex);
  if (trim(run.name).empty()) throw InputError("createRun: the run name is empty", "Give the run a name.");
  requireBounded(run.name, kRunNameBytes, "run name");
  if (run.teacherRun) requireRun(*run.teacherRun, "createRun (teacher run)");
  const bool ownProcess = run.pid == 0 || run.pid == getpid();
  const int64_t now = nowUnixMs();
  Statement q(m_db, m_path, "createRun",
              "INSERT INTO runs(name, kind, method, status, config, teacher_run, teacher_arch, student_arch, dataset,"
              " device, seed, pid, hostname, writer_token, started_at, ended_at, updated_at, best_top1, last_top1,"
              " epochs_done, message, build_version, world_size, backend, rank_devices)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
              " ?21, ?22, ?23, ?24, ?25)");
  q.bind(1, trim(run.name))
      .bind(2, toString(run.kind))
      .bind(3, run.method)
      .bind(4, toString(run.status))
      .bind(5, dumpConfig(run.config))
      .bind(6, run.teacherRun)
      .bind(7, run.teacherArch)
      .bind(8, run.studentArch)
      .bind(9, run.dataset)
      .bind(10, run.device)
      .bind(11, run.seed)
      .bind(12, ownProcess ? static_cast<int64_t>(getpid()) : run.pid)
      .bind(13, run.hostname.empty() ? thisHost() : run.hostname)
      .bind(14, ownProcess ? ownToken() : std::string())
      .bind(15, run.startedAt != 0 ? run.startedAt : now)
      .bind(16, run.endedAt)
      .bind(17, run.updatedAt != 0 ? run.updatedAt : now)
      .bind(18, run.bestTop1)
      .bind(19, run.lastTop1)
      .bind(20, run.epochsDone)
      .bind(21, run.message)
      .bind(22, run.buildVersion.empty() ? buildVersion() : run.buildVersion)
      .bind(23, static_cast<int64_t>(run.worldSize))
      .bind(24, run.backend)
      .bind(25, run.rankDevices);
  q.run();
  int64_t id = sqlite3_last_insert_rowid(m_db);
  storeLog()->debug("run store: created run {} '{}'", id, run.name);
  if (run.status == RunStatus::Running && ownProcess) keepSpaceReserve();
  return id;
}

void RunStore::updateRunStatus(int64_t runId, RunStatus status, const std::string& message) {
  setStatus(runId, status, message, std::nullopt);
}

void RunStore::resumeRunAt(int64_t runId, int64_t epoch, int64_t globalStep, const std::string& message,
                           const RunRecord* layout) {
  setStatus(runId, RunStatus::Running, message, std::make_pair(epoch, globalStep), layout);
}

void RunStore::setStatus(int64_t runId, RunStatus status, const std::string& message,
                         std::optional<std::pair<int64_t, int64_t>> truncateAt, const RunRecord* layout) {
  std::lock_guard lock(m_mutex);
  // Setting a run running again (a resume) makes this process its writer, so that the crash recovery of
  // other connections checks this process and not the one that wrote the run before.
  Transaction tx(m_db, m_path, "updateRunStatus");
  if (truncateAt) {
    // The claim: inside this IMMEDIATE transaction no other connection can claim the run between the check and
    // the mark. A run marked running whose writer is gone (crashed, abandoned) may be taken over.
    Statement w(m_db, m_path, "resume: claim the run", std::string("SELECT ") + kRunWriterColumns + " FROM runs WHERE id = ?1");
    w.bind(1, runId);
    if (!w.step()) throw noSuchRun(runId, "resume");
    const RunWriter writer = readRunWriter(w);
    if (writer.status == toString(RunStatus::Running) &&
        !WriterLiveness(m_identity, m_options.foreignHostStaleAfter).goneReason(writer))
      throw InputError("run " + std::to_string(runId) + " is still running (" + WriterLiveness::describe(writer) +
                           "): another process resumed or trains it",
                       "Stop it first (Ctrl-C, or Stop in the studio), or wait for it to end.");
  }
  if (layout) {
    Statement l(m_db, m_path, "resume: record the layout",
                "UPDATE runs SET device = ?1, world_size = ?2, backend = ?3, rank_devices = ?4 WHERE id = ?5");
    l.bind(1, layout->device)
        .bind(2, static_cast<int64_t>(layout->worldSize))
        .bind(3, layout->backend)
        .bind(4, layout->rankDevices)
        .bind(5, runId)
        .run();
  }
  if (truncateAt) {
    Statement m(m_db, m_path, "resume: drop metrics after the checkpoint",
                "DELETE FROM metrics WHERE run_id = ?1 AND ((step >= 0 AND step >= ?3) OR (step < 0 AND epoch >= ?2))");
    m.bind(1, runId).bind(2, truncateAt->first).bind(3, truncateAt->second).run();
    const int dropped = sqlite3_changes(m_db);
    Statement c(m_db, m_path, "resume: drop per-class accuracy after the checkpoint",
                "DELETE FROM class_accuracy WHERE run_id = ?1 AND epoch >= ?2");
    c.bind(1, runId).bind(2, truncateAt->first).run();
    if (dropped > 0)
      storeLog()->info("run store '{}': run {} resumes at epoch {}, step {}: {} metric rows logged after that dropped",
                       m_path, runId, truncateAt->first, truncateAt->second, dropped);
  }
  Statement q(m_db, m_path, "updateRunStatus",
              "UPDATE runs SET status = ?1, message = ?2, updated_at = ?3,"
              " ended_at = CASE WHEN ?1 = 'running' THEN NULL ELSE COALESCE(ended_at, ?3) END,"
              " pid = CASE WHEN ?1 = 'running' THEN ?5 ELSE pid END,"
              " hostname = CASE WHEN ?1 = 'running' THEN ?6 ELSE hostname END,"
              " writer_token = CASE WHEN ?1 = 'running' THEN ?7 ELSE writer_token END WHERE id = ?4");
  q.bind(1, toString(status))
      .bind(2, message)
      .bind(3, nowUnixMs())
      .bind(4, runId)
      .bind(5, static_cast<int64_t>(getpid()))
      .bind(6, thisHost())
      .bind(7, ownToken())
      .run();
  if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, "updateRunStatus");
  if (status != RunStatus::Running) {
    tx.commit();
    return;
  }
  // This process writes the run again: it is no longer abandoned. Taken out of the registry inside the
  // transaction, so no recovery sees the new writer as gone; put back if the commit fails.
  const std::optional<std::string> abandoned = takeAbandoned(m_identity, runId);
  try {
    tx.commit();
  } catch (...) {
    if (abandoned) markAbandoned(m_identity, runId, *abandoned);
    throw;
  }
  keepSpaceReserve();
}

void RunStore::finishRun(int64_t runId, RunStatus status, const std::string& message) {
  std::lock_guard lock(m_mutex);
  if (!isTerminal(status))
    throw InputError("finishRun: status 'running' does not end a run",
                     "Use finished, stopped, failed, diverged or interrupted.");
  usingSpaceReserve("finishRun", [&] {
    const int64_t now = nowUnixMs();
    Statement q(m_db, m_path, "finishRun",
                "UPDATE runs SET status = ?1, message = ?2, updated_at = ?3, ended_at = ?3 WHERE id = ?4");
    q.bind(1, toString(status)).bind(2, message).bind(3, now).bind(4, runId).run();
    if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, "finishRun");
  });
}

// ---- the space reserve -----------------------------------------------------------------------------------

std::string RunStore::reservePath() const { return filesFolder(m_path) + "/space.reserve"; }

void RunStore::keepSpaceReserve() {
  if (m_options.readOnly) return;

  const std::string file = reservePath();
  std::error_code ec;
  if (fs::file_size(file, ec) == kSpaceReserveBytes && !ec) return;
  fs::create_directories(fs::path(file).parent_path(), ec);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int err = fd < 0 ? errno : ::posix_fallocate(fd, 0, static_cast<off_t>(kSpaceReserveBytes));
  if (fd >= 0) ::close(fd);
  if (err != 0) {
    ::unlink(file.c_str());
    storeLog()->warn("run store '{}': could not set aside {} KiB for recording a run's end on a full disk ({}): {}",
                     m_path, kSpaceReserveBytes / 1024, file, std::strerror(err));
  }
}

void RunStore::usingSpaceReserve(const char* operation, const std::function<void()>& write) {
  try {
    write();
  } catch (const StoreError& e) {
    if (e.sqliteCode() != SQLITE_FULL || ::unlink(reservePath().c_str()) != 0) throw;
    storeLog()->warn("run store '{}': {}: the disk is full; released the {} KiB set aside in '{}' to record it",
                     m_path, operation, kSpaceReserveBytes / 1024, reservePath());
    write();
  }
}

template <typename T>
void RunStore::setRunColumn(int64_t runId, const char* column, const T& value, const char* operation) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, operation,
              std::string("UPDATE runs SET ") + column + " = ?1, updated_at = ?2 WHERE id = ?3");
  q.bind(1, value).bind(2, nowUnixMs()).bind(3, runId).run();
  if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, operation);
}

void RunStore::setBestTop1(int64_t runId, double top1) { setRunColumn(runId, "best_top1", top1, "setBestTop1"); }

void RunStore::setLastTop1(int64_t runId, double top1) { setRunColumn(runId, "last_top1", top1, "setLastTop1"); }

void RunStore::setEpochsDone(int64_t runId, int epochsDone) {
  setRunColumn(runId, "epochs_done", epochsDone, "setEpochsDone");
}

void RunStore::recordEpoch(int64_t runId, int epochsDone, double top1) {
  std::lock_guard lock(m_mutex);
  // max() of SQLite returns NULL when an argument is NULL, hence the COALESCE; a NaN top1 binds as NULL and
  // leaves best_top1 unchanged.
  Statement q(m_db, m_path, "recordEpoch",
              "UPDATE runs SET last_top1 = ?1, epochs_done = ?2, updated_at = ?3,"
              " best_top1 = CASE WHEN ?1 IS NULL THEN best_top1 WHEN best_top1 IS NULL THEN ?1"
              " ELSE max(best_top1, ?1) END WHERE id = ?4");
  q.bind(1, top1).bind(2, epochsDone).bind(3, nowUnixMs()).bind(4, runId).run();
  if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, "recordEpoch");
}

void RunStore::setConfig(int64_t runId, const nlohmann::json& config) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "setConfig", "UPDATE runs SET config = ?1, updated_at = ?2 WHERE id = ?3");
  q.bind(1, dumpConfig(config)).bind(2, nowUnixMs()).bind(3, runId).run();
  if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, "setConfig");
}

std::optional<RunRecord> RunStore::getRun(int64_t runId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "getRun",
              "SELECT id, name, kind, method, status, config, teacher_run, teacher_arch, student_arch, dataset, device,"
              " seed, pid, hostname, started_at, ended_at, updated_at, best_top1, last_top1, epochs_done, message,"
              " build_version, world_size, backend, rank_devices FROM runs WHERE id = ?1");
  q.bind(1, runId);
  if (!q.step()) return std::nullopt;
  RunRecord r;
  r.id = q.int64(0);
  r.name = q.text(1);
  r.kind = runKindFromString(q.text(2));
  r.method = q.text(3);
  r.status = runStatusFromString(q.text(4));
  r.config = parseConfig(q.text(5), r.id);
  r.teacherRun = q.optionalInt64(6);
  r.teacherArch = q.text(7);
  r.studentArch = q.text(8);
  r.dataset = q.text(9);
  r.device = q.text(10);
  r.seed = q.int64(11);
  r.pid = q.int64(12);
  r.hostname = q.text(13);
  r.startedAt = q.int64(14);
  r.endedAt = q.optionalInt64(15);
  r.updatedAt = q.int64(16);
  r.bestTop1 = q.optionalReal(17);
  r.lastTop1 = q.optionalReal(18);
  r.epochsDone = q.int32(19);
  r.message = q.text(20);
  r.buildVersion = q.text(21);
  r.worldSize = q.int32(22);
  r.backend = q.text(23);
  r.rankDevices = q.text(24);
  return r;
}

std::vector<RunSummary> RunStore::listRuns(const RunFilter& filter) {
  std::lock_guard lock(m_mutex);
  std::string sql =
      "SELECT r.id, r.name, r.kind, r.method, r.status, r.teacher_run, r.teacher_arch, r.student_arch, r.dataset,"
      " r.device, r.started_at, r.ended_at, r.best_top1, r.last_top1, r.epochs_done, r.message,"
      " (SELECT group_concat(t.tag, char(10)) FROM tags t WHERE t.run_id = r.id),"
      // The history table's config fields, in this query (17..29): no per-run read, no JSON parsed in C++.
      " json_valid(r.config) AND json_type(r.config, '$.optim.epochs') IS NOT NULL,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.kind') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.method') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.student') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.teacher.arch') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.review.review') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.review.residual') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.review.abf') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.review.hcl') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.review.weight') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.kd_weight') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.kd_temperature') END,"
      " CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.optim.epochs') END,"
      " r.world_size, r.backend"
      " FROM runs r WHERE 1";
  std::vector<std::variant<int64_t, std::string>> params;
  auto param = [&](std::variant<int64_t, std::string> v) {
    params.push_back(std::move(v));
    return "?" + std::to_string(params.size());
  };
  if (filter.status) sql += " AND r.status = " + param(toString(*filter.status));
  if (filter.kind) sql += " AND r.kind = " + param(toString(*filter.kind));
  if (!filter.teacherArch.empty()) sql += " AND r.teacher_arch = " + param(filter.teacherArch);
  if (!filter.studentArch.empty()) sql += " AND r.student_arch = " + param(filter.studentArch);
  if (!filter.tag.empty())
    sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.tag = " + param(trim(filter.tag)) + ")";
  if (!trim(filter.text).empty()) {
    // lower() of SQLite folds ASCII only; the needle is folded the same way, so the match is consistent.
    const std::string p = param(asciiLower(trim(filter.text)));
    sql += " AND (instr(lower(r.name), " + p + ") OR instr(lower(r.method), " + p + ") OR instr(lower(r.teacher_arch), " +
           p + ") OR instr(lower(r.student_arch), " + p + ") OR instr(lower(r.dataset), " + p +
           ") OR instr(lower(r.message), " + p + ") OR EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND " +
           "instr(lower(t.tag), " + p + ")) OR EXISTS (SELECT 1 FROM notes n WHERE n.run_id = r.id AND " +
           "instr(lower(n.text), " + p + ")))";
  }
  sql += " ORDER BY r.started_at DESC, r.id DESC";
  if (filter.limit > 0) sql += " LIMIT " + param(static_cast<int64_t>(filter.limit));

  Statement q(m_db, m_path, "listRuns", sql);
  for (size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    std::visit([&](const auto& v) { q.bind(index, v); }, params[i]);
  }
  std::vector<RunSummary> out;
  while (q.step()) {
    RunSummary s;
    s.id = q.int64(0);
    s.name = q.text(1);
    s.kind = runKindFromString(q.text(2));
    s.method = q.text(3);
    s.status = runStatusFromString(q.text(4));
    s.teacherRun = q.optionalInt64(5);
    s.teacherArch = q.text(6);
    s.studentArch = q.text(7);
    s.dataset = q.text(8);
    s.device = q.text(9);
    s.startedAt = q.int64(10);
    s.endedAt = q.optionalInt64(11);
    s.bestTop1 = q.optionalReal(12);
    s.lastTop1 = q.optionalReal(13);
    s.epochsDone = q.int32(14);
    s.message = q.text(15);
    ConfigDigest& d = s.config;
    d.valid = q.int64(17) != 0;
    if (d.valid) {
      d.kind = q.text(18);
      d.method = q.text(19);
      d.student = q.text(20);
      d.teacherArch = q.text(21);
      d.review = q.optionalInt64(22).value_or(1) != 0;
      d.residual = q.optionalInt64(23).value_or(1) != 0;
      d.abf = q.optionalInt64(24).value_or(1) != 0;
      d.hcl = q.optionalInt64(25).value_or(1) != 0;
      d.reviewWeight = q.optionalReal(26).value_or(0);
      d.kdWeight = q.optionalReal(27).value_or(0);
      d.kdTemperature = q.optionalReal(28).value_or(0);
      d.epochs = q.optionalInt64(29).value_or(0);
    }
    s.worldSize = q.int32(30);
    s.backend = q.text(31);
    std::string tagList = q.text(16);
    size_t pos = 0;
    while (!tagList.empty() && pos <= tagList.size()) {
      size_t end = tagList.find('\n', pos);
      if (end == std::string::npos) end = tagList.size();
      s.tags.push_back(tagList.substr(pos, end - pos));
      pos = end + 1;
    }
    std::sort(s.tags.begin(), s.tags.end());
    out.push_back(std::move(s));
  }
  return out;
}

bool RunStore::deleteRun(int64_t runId) {
  std::lock_guard lock(m_mutex);
  // The liveness check and the delete are one IMMEDIATE transaction: no other process can resume the run
  // (becoming its live writer) between them.
  Transaction tx(m_db, m_path, "deleteRun");
  {
    Statement q(m_db, m_path, "deleteRun", std::string("SELECT ") + kRunWriterColumns + " FROM runs WHERE id = ?1");
    q.bind(1, runId);
    if (!q.step()) return false;
    const RunWriter writer = readRunWriter(q);
    // A run marked running whose writer is gone is an interrupted run: it may go.
    if (writer.status == toString(RunStatus::Running) &&
        !WriterLiveness(m_identity, m_options.foreignHostStaleAfter).goneReason(writer))
      throw InputError("cannot delete run " + std::to_string(runId) + " '" + writer.name +
                           "': it is still running (" + WriterLiveness::describe(writer) + ")",
                       "Stop it first (Ctrl-C or Stop in the studio), or wait for it to finish.");
  }
  Statement del(m_db, m_path, "deleteRun", "DELETE FROM runs WHERE id = ?1");
  del.bind(1, runId).run();
  tx.commit();
  storeLog()->info("run store: deleted run {}", runId);
  // Its files go once its rows are gone (a failure to commit keeps both): the run's own folder, and the folder a
  // store of schema 2 kept beside itself. Nothing else is touched.
  for (const fs::path& folder : {fs::path(runFolder(m_path, runId)),
                                 fs::path(m_folder) / "checkpoints" / ("run-" + std::to_string(runId))}) {
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(folder, ec))) continue;
    fs::remove_all(folder, ec);
    if (ec)
      storeLog()->warn("run store: run {} is deleted, but its folder '{}' could not be removed: {}", runId,
                       folder.string(), ec.message());
  }
  return true;
}

}  // namespace rkd
