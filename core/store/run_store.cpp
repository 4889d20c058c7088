#include "core/store/run_store.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <variant>

#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/common/logging.h"
#include "core/common/version.h"
#include "core/store/sqlite_statement.h"

namespace rkd {

namespace fs = std::filesystem;
using store_detail::Statement;
using store_detail::throwSqlite;
using store_detail::Transaction;

namespace {

std::shared_ptr<spdlog::logger> storeLog() { return logger("core.store"); }

// ---- schema ----------------------------------------------------------------------------------------------

/// One step of the schema. Migrations run in order, each at most once, all pending ones in one transaction;
/// never edit a released migration, append a new one.
struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Version 1. Notes on choices:
// - timestamps are INTEGER Unix milliseconds (UTC);
// - metrics hold per-step and epoch-level values in one table, epoch-level rows have step = -1 (kEpochStep);
//   value NULL means NaN (SQLite cannot store NaN);
// - teacher_run is SET NULL when the teacher run is deleted, everything else owned by a run CASCADEs;
// - writer_token is "<boot id>:<process start ticks>" of the writer, so a pid reused after a crash or reboot
//   is not mistaken for the live writer; updated_at is the writer's heartbeat (every write touches it).
const char* const kSchemaV1 = R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('teacher', 'student')),
  method        TEXT    NOT NULL DEFAULT '',
  status        TEXT    NOT NULL CHECK (status IN
                  ('running', 'finished', 'stopped', 'failed', 'diverged', 'interrupted')),
  config        TEXT    NOT NULL DEFAULT '{}',
  teacher_run   INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  teacher_arch  TEXT    NOT NULL DEFAULT '',
  student_arch  TEXT    NOT NULL DEFAULT '',
  dataset       TEXT    NOT NULL DEFAULT '',
  device        TEXT    NOT NULL DEFAULT '',
  seed          INTEGER NOT NULL DEFAULT 0,
  pid           INTEGER NOT NULL DEFAULT 0,
  hostname      TEXT    NOT NULL DEFAULT '',
  writer_token  TEXT    NOT NULL DEFAULT '',
  started_at    INTEGER NOT NULL,
  ended_at      INTEGER,
  updated_at    INTEGER NOT NULL DEFAULT 0,
  best_top1     REAL,
  last_top1     REAL,
  epochs_done   INTEGER NOT NULL DEFAULT 0,
  message       TEXT    NOT NULL DEFAULT '',
  build_version TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_started ON runs(started_at);
CREATE INDEX runs_status ON runs(status);
CREATE INDEX runs_teacher ON runs(teacher_run);

CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch  INTEGER NOT NULL,
  step   INTEGER NOT NULL,
  key    TEXT    NOT NULL,
  value  REAL
);
CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step);

CREATE TABLE checkpoints (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch      INTEGER NOT NULL,
  path       TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('last', 'best', 'epoch')),
  created_at INTEGER NOT NULL
);
CREATE INDEX checkpoints_run ON checkpoints(run_id);

CREATE TABLE tags (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  tag    TEXT    NOT NULL,
  UNIQUE (run_id, tag)
);
CREATE INDEX tags_tag ON tags(tag);

CREATE TABLE notes (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  text       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX notes_run ON notes(run_id);

CREATE TABLE class_accuracy (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch       INTEGER NOT NULL,
  class_index INTEGER NOT NULL,
  class_name  TEXT    NOT NULL DEFAULT '',
  accuracy    REAL,
  PRIMARY KEY (run_id, epoch, class_index)
);
)sql";

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "initial schema: runs, metrics, checkpoints, tags, notes, class accuracy", kSchemaV1},
  };
  return list;
}

const char* const kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '')";

// ---- processes -------------------------------------------------------------------------------------------

std::string thisHost() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::string readFirstLine(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

/// What /proc says about a process: its state letter and "<boot id>:<start ticks>" (empty when unknown).
struct ProcInfo {
  bool known = false;
  char state = '?';
  std::string token;
};

ProcInfo procInfo(int64_t pid) {
  ProcInfo info;
  std::string stat = readFirstLine("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) S ppid ... starttime(field 22)": comm may hold spaces and parentheses, so parse after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return info;
  std::vector<std::string> fields;  // fields[0] = state (field 3)
  size_t pos = close + 1;
  while (pos < stat.size() && fields.size() < 20) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    size_t end = stat.find(' ', pos);
    if (end == std::string::npos) end = stat.size();
    if (end > pos) fields.push_back(stat.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() < 20) return info;
  info.known = true;
  info.state = fields[0].empty() ? '?' : fields[0][0];
  std::string boot = readFirstLine("/proc/sys/kernel/random/boot_id");
  info.token = boot + ":" + fields[19];
  return info;
}

const std::string& ownToken() {
  static const std::string token = procInfo(getpid()).token;
  return token;
}

/// Whether the writer recorded as (pid, token) still runs on this host.
bool writerAlive(int64_t pid, const std::string& token) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  ProcInfo info = procInfo(pid);
  if (!info.known) return true;  // no /proc: kill() said it exists (or we may not signal it)
  if (info.state == 'Z' || info.state == 'X') return false;  // exited, not yet reaped
  if (!token.empty() && !info.token.empty() && token != info.token) return false;  // pid reused
  return true;
}

// ---- misc ------------------------------------------------------------------------------------------------

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

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string formatDouble(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

InputError noSuchRun(int64_t runId, const char* operation) {
  return InputError(std::string(operation) + ": no run with id " + std::to_string(runId) + " in the run store",
                    "Pick a run from the history list (reviewkd runs list).");
}

}  // namespace

// ---- open / schema ---------------------------------------------------------------------------------------

RunStore::RunStore(const std::string& path, const RunStoreOptions& options) : m_path(path), m_options(options) {
  try {
    open(options);
  } catch (...) {
    sqlite3_close(m_db);
    m_db = nullptr;
    throw;
  }
}

RunStore::~RunStore() {
  if (!m_db) return;
  int rc = sqlite3_close(m_db);
  if (rc != SQLITE_OK) storeLog()->warn("run store '{}': close failed: {}", m_path, sqlite3_errstr(rc));
}

std::string RunStore::defaultPath() {
  fs::path base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg && fs::path(xdg).is_absolute()) {
    base = xdg;  // the XDG spec says to ignore relative values
  } else {
    const char* home = std::getenv("HOME");
    std::string homeDir = home && *home ? home : "";
    if (homeDir.empty()) {
      if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) homeDir = pw->pw_dir;
    }
    if (homeDir.empty())
      throw UserError("cannot find a folder for the run store: neither XDG_DATA_HOME nor HOME is set",
                      "Set XDG_DATA_HOME or HOME, or pass a store file explicitly (--store PATH).");
    base = fs::path(homeDir) / ".local" / "share";
  }
  fs::path dir = base / "reviewkd-studio";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw UserError("cannot create the run store folder '" + dir.string() + "': " +
                        (ec ? ec.message() : std::string("a file of that name is in the way")),
                    "Make the folder writable, set XDG_DATA_HOME to a writable folder, or pass a store file "
                    "explicitly (--store PATH).");
  return (dir / "runs.sqlite").string();
}

int RunStore::latestSchemaVersion() { return migrations().back().version; }

void RunStore::open(const RunStoreOptions& options) {
  if (m_path.empty())
    throw InputError("the run store path is empty", "Pass a store file (--store PATH) or use the default.");
  fs::path parent = fs::path(m_path).parent_path();
  if (!options.readOnly && !parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec || !fs::is_directory(parent))
      throw UserError("cannot create the folder '" + parent.string() + "' for the run store '" + m_path + "': " +
                          (ec ? ec.message() : std::string("a file of that name is in the way")),
                      "Choose a store file in a folder you can write (--store PATH), or create the folder.");
  }
  if (fs::is_directory(m_path))
    throw UserError("the run store path '" + m_path + "' is a folder, not a file",
                    "Pass a file inside it instead, e.g. '" + (fs::path(m_path) / "runs.sqlite").string() + "'.");

  int flags = options.readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // calls are serialized by m_mutex
  int rc = sqlite3_open_v2(m_path.c_str(), &m_db, flags, nullptr);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, "open");
  sqlite3_extended_result_codes(m_db, 1);

  configure();
  migrate();
  if (options.recoverInterrupted && !options.readOnly) {
    int n = recoverInterruptedRuns();
    if (n > 0) storeLog()->info("run store '{}': marked {} run(s) whose writer is gone as interrupted", m_path, n);
  }
  storeLog()->debug("run store '{}' open (schema {}, WAL {})", m_path, latestSchemaVersion(), m_walEnabled);
}

void RunStore::configure() {
  sqlite3_busy_timeout(m_db, m_options.busyTimeoutMs);
  if (!m_options.readOnly) {
    // Reading the journal mode back also validates the file: a non-database fails here with SQLITE_NOTADB.
    Statement wal(m_db, m_path, "open: enable WAL", "PRAGMA journal_mode=WAL");
    std::string mode = wal.step() ? asciiLower(wal.text(0)) : "";
    m_walEnabled = mode == "wal";
    if (!m_walEnabled)
      storeLog()->warn("run store '{}': the file system refused WAL mode (journal mode '{}'); readers will block the "
                  "writer. Keep the store on a local disk.", m_path, mode);
  } else {
    Statement probe(m_db, m_path, "open: read journal mode", "PRAGMA journal_mode");
    m_walEnabled = probe.step() && asciiLower(probe.text(0)) == "wal";
  }
  execute("PRAGMA synchronous=NORMAL", "open: set synchronous");
  execute("PRAGMA foreign_keys=ON", "open: enable foreign keys");
  Statement check(m_db, m_path, "open: read schema", "SELECT count(*) FROM sqlite_master");
  check.step();
}

int RunStore::readSchemaVersion() {
  Statement exists(m_db, m_path, "read schema version",
                   "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'");
  if (!exists.step()) return 0;
  Statement v(m_db, m_path, "read schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  return v.step() ? v.int32(0) : 0;
}

int RunStore::schemaVersion() {
  std::lock_guard lock(m_mutex);
  return readSchemaVersion();
}

void RunStore::migrate() {
  const int latest = latestSchemaVersion();
  auto newerError = [&](int found) {
    return StoreError("run store '" + m_path + "' has schema version " + std::to_string(found) +
                          ", but this build of ReviewKD Studio (" + buildVersion() + ") knows schema versions up to " +
                          std::to_string(latest),
                      "Open it with a newer ReviewKD Studio, or choose another store file (--store PATH); do not "
                      "let an older build write to a newer history.",
                      0);
  };
  int version = readSchemaVersion();
  if (version > latest) throw newerError(version);
  if (version == latest) return;
  if (m_options.readOnly)
    throw StoreError("run store '" + m_path + "' has schema version " + std::to_string(version) + ", older than " +
                         std::to_string(latest) + ", and was opened read-only",
                     "Open it once for writing (e.g. start ReviewKD Studio) so it is upgraded.", 0);

  Transaction tx(m_db, m_path, "migrate schema");
  execute(kCreateVersionTable, "migrate schema: create schema_version");
  version = readSchemaVersion();  // another process may have migrated while we waited for the lock
  if (version > latest) throw newerError(version);
  for (const Migration& m : migrations()) {
    if (m.version <= version) continue;
    execute(m.sql, ("migrate schema to version " + std::to_string(m.version)).c_str());
    Statement mark(m_db, m_path, "migrate schema: record version",
                   "INSERT INTO schema_version(version, applied_at, description) VALUES (?1, ?2, ?3)");
    mark.bind(1, m.version).bind(2, nowUnixMs()).bind(3, m.description).run();
    storeLog()->info("run store '{}': applied schema migration {} ({})", m_path, m.version, m.description);
  }
  tx.commit();
}

void RunStore::execute(const std::string& sql, const char* operation) {
  char* err = nullptr;
  int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg still holds the message
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, operation, sql);
}

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
  if (run.teacherRun) requireRun(*run.teacherRun, "createRun (teacher run)");
  const bool ownProcess = run.pid == 0 || run.pid == getpid();
  const int64_t now = nowUnixMs();
  Statement q(m_db, m_path, "createRun",
              "INSERT INTO runs(name, kind, method, status, config, teacher_run, teacher_arch, student_arch, dataset,"
              " device, seed, pid, hostname, writer_token, started_at, ended_at, updated_at, best_top1, last_top1,"
              " epochs_done, message, build_version)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
              " ?21, ?22)");
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
      .bind(22, run.buildVersion.empty() ? buildVersion() : run.buildVersion);
  q.run();
  int64_t id = sqlite3_last_insert_rowid(m_db);
  storeLog()->debug("run store: created run {} '{}'", id, run.name);
  return id;
}

void RunStore::updateRunStatus(int64_t runId, RunStatus status, const std::string& message) {
  std::lock_guard lock(m_mutex);
  // Setting a run running again (a resume) makes this process its writer, so that the crash recovery of
  // other connections checks this process and not the one that wrote the run before.
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
}

void RunStore::finishRun(int64_t runId, RunStatus status, const std::string& message) {
  std::lock_guard lock(m_mutex);
  if (!isTerminal(status))
    throw InputError("finishRun: status 'running' does not end a run",
                     "Use finished, stopped, failed, diverged or interrupted.");
  const int64_t now = nowUnixMs();
  Statement q(m_db, m_path, "finishRun",
              "UPDATE runs SET status = ?1, message = ?2, updated_at = ?3, ended_at = ?3 WHERE id = ?4");
  q.bind(1, toString(status)).bind(2, message).bind(3, now).bind(4, runId).run();
  if (sqlite3_changes(m_db) == 0) throw noSuchRun(runId, "finishRun");
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
              " build_version FROM runs WHERE id = ?1");
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
  return r;
}

std::vector<RunSummary> RunStore::listRuns(const RunFilter& filter) {
  std::lock_guard lock(m_mutex);
  std::string sql =
      "SELECT r.id, r.name, r.kind, r.method, r.status, r.teacher_run, r.teacher_arch, r.student_arch, r.dataset,"
      " r.device, r.started_at, r.ended_at, r.best_top1, r.last_top1, r.epochs_done, r.message,"
      " (SELECT group_concat(t.tag, char(10)) FROM tags t WHERE t.run_id = r.id)"
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
  Statement q(m_db, m_path, "deleteRun", "DELETE FROM runs WHERE id = ?1");
  q.bind(1, runId).run();
  const bool deleted = sqlite3_changes(m_db) > 0;
  if (deleted) storeLog()->info("run store: deleted run {}", runId);
  return deleted;
}

// ---- metrics ---------------------------------------------------------------------------------------------

void RunStore::appendMetrics(int64_t runId, const std::vector<MetricPoint>& points) {
  if (points.empty()) return;
  std::lock_guard lock(m_mutex);
  Transaction tx(m_db, m_path, "appendMetrics");
  requireRun(runId, "appendMetrics");
  Statement q(m_db, m_path, "appendMetrics",
              "INSERT INTO metrics(run_id, epoch, step, key, value) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const MetricPoint& p : points) {
    q.bind(1, runId).bind(2, p.epoch).bind(3, p.step).bind(4, p.key).bind(5, p.value);
    q.run();
    q.reset();
  }
  touch(runId);
  tx.commit();
}

MetricSeries RunStore::metrics(int64_t runId, const std::string& key) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "metrics",
              "SELECT epoch, step, value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY epoch, step, rowid");
  q.bind(1, runId).bind(2, key);
  MetricSeries s;
  s.key = key;
  while (q.step()) {
    s.epochs.push_back(q.int32(0));
    s.steps.push_back(q.int64(1));
    s.values.push_back(q.real(2));
  }
  return s;
}

std::vector<std::string> RunStore::textColumn(const char* operation, const char* sql, std::optional<int64_t> runId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, operation, sql);
  if (runId) q.bind(1, *runId);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::vector<std::string> RunStore::metricKeys(int64_t runId) {
  return textColumn("metricKeys", "SELECT DISTINCT key FROM metrics WHERE run_id = ?1 ORDER BY key", runId);
}

int64_t RunStore::metricCount(int64_t runId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "metricCount", "SELECT count(*) FROM metrics WHERE run_id = ?1");
  q.bind(1, runId);
  return q.step() ? q.int64(0) : 0;
}

void RunStore::exportCsv(const std::vector<int64_t>& runIds, std::ostream& out) {
  std::lock_guard lock(m_mutex);
  out << "run_id,run_name,epoch,step,key,value\n";
  for (int64_t runId : runIds) {
    Statement name(m_db, m_path, "exportCsv", "SELECT name FROM runs WHERE id = ?1");
    name.bind(1, runId);
    if (!name.step()) throw noSuchRun(runId, "exportCsv");
    const std::string prefix = std::to_string(runId) + "," + csvField(name.text(0)) + ",";
    Statement q(m_db, m_path, "exportCsv",
                "SELECT epoch, step, key, value FROM metrics WHERE run_id = ?1 ORDER BY key, epoch, step, rowid");
    q.bind(1, runId);
    while (q.step()) {
      out << prefix << q.int64(0) << ',' << q.int64(1) << ',' << csvField(q.text(2)) << ','
          << formatDouble(q.real(3)) << '\n';
    }
  }
}

void RunStore::exportCsv(const std::vector<int64_t>& runIds, const std::string& csvPath) {
  std::ofstream out(csvPath, std::ios::binary | std::ios::trunc);
  if (!out)
    throw UserError("cannot write the CSV file '" + csvPath + "'",
                    "Check that its folder exists and is writable, or choose another file.");
  exportCsv(runIds, static_cast<std::ostream&>(out));
  out.flush();
  if (!out)
    throw UserError("writing the CSV file '" + csvPath + "' failed", "Check the free disk space and try again.");
}

// ---- class accuracy --------------------------------------------------------------------------------------

void RunStore::setClassAccuracy(int64_t runId, int epoch, const std::vector<ClassAccuracy>& classes) {
  std::lock_guard lock(m_mutex);
  Transaction tx(m_db, m_path, "setClassAccuracy");
  requireRun(runId, "setClassAccuracy");
  Statement del(m_db, m_path, "setClassAccuracy", "DELETE FROM class_accuracy WHERE run_id = ?1 AND epoch = ?2");
  del.bind(1, runId).bind(2, epoch).run();
  Statement ins(m_db, m_path, "setClassAccuracy",
                "INSERT OR REPLACE INTO class_accuracy(run_id, epoch, class_index, class_name, accuracy)"
                " VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const ClassAccuracy& c : classes) {
    ins.bind(1, runId).bind(2, epoch).bind(3, c.classIndex).bind(4, c.className).bind(5, c.accuracy);
    ins.run();
    ins.reset();
  }
  touch(runId);
  tx.commit();
}

std::vector<ClassAccuracy> RunStore::classAccuracy(int64_t runId, int epoch) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "classAccuracy",
              "SELECT class_index, class_name, accuracy FROM class_accuracy WHERE run_id = ?1 AND epoch ="
              " CASE WHEN ?2 >= 0 THEN ?2 ELSE (SELECT MAX(epoch) FROM class_accuracy WHERE run_id = ?1) END"
              " ORDER BY class_index");
  q.bind(1, runId).bind(2, epoch);
  std::vector<ClassAccuracy> out;
  while (q.step()) out.push_back(ClassAccuracy{q.int32(0), q.text(1), q.real(2)});
  return out;
}

// ---- checkpoints -----------------------------------------------------------------------------------------

int64_t RunStore::addCheckpoint(int64_t runId, int epoch, const std::string& path, CheckpointKind kind) {
  std::lock_guard lock(m_mutex);
  if (path.empty()) throw InputError("addCheckpoint: the checkpoint path is empty", "Pass the checkpoint file.");
  Transaction tx(m_db, m_path, "addCheckpoint");
  requireRun(runId, "addCheckpoint");
  if (kind != CheckpointKind::Epoch) {
    Statement del(m_db, m_path, "addCheckpoint", "DELETE FROM checkpoints WHERE run_id = ?1 AND kind = ?2");
    del.bind(1, runId).bind(2, toString(kind)).run();
  }
  Statement ins(m_db, m_path, "addCheckpoint",
                "INSERT INTO checkpoints(run_id, epoch, path, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  ins.bind(1, runId).bind(2, epoch).bind(3, path).bind(4, toString(kind)).bind(5, nowUnixMs()).run();
  const int64_t id = sqlite3_last_insert_rowid(m_db);
  touch(runId);
  tx.commit();
  return id;
}

std::vector<CheckpointRecord> RunStore::listCheckpoints(int64_t runId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "listCheckpoints",
              "SELECT id, run_id, epoch, path, kind, created_at FROM checkpoints WHERE run_id = ?1 ORDER BY epoch, id");
  q.bind(1, runId);
  std::vector<CheckpointRecord> out;
  while (q.step())
    out.push_back(CheckpointRecord{q.int64(0), q.int64(1), q.int32(2), q.text(3), checkpointKindFromString(q.text(4)),
                                   q.int64(5)});
  return out;
}

std::string RunStore::checkpointPath(int64_t runId, CheckpointKind kind) {
  std::string path;
  for (const auto& c : listCheckpoints(runId))
    if (c.kind == kind) path = c.path;  // ordered by epoch: the last match is the newest
  return path;
}

// ---- tags and notes --------------------------------------------------------------------------------------

void RunStore::addTag(int64_t runId, const std::string& tag) {
  std::lock_guard lock(m_mutex);
  const std::string t = trim(tag);
  if (t.empty()) throw InputError("addTag: the tag is empty", "Type a tag name.");
  requireRun(runId, "addTag");
  Statement q(m_db, m_path, "addTag", "INSERT OR IGNORE INTO tags(run_id, tag) VALUES (?1, ?2)");
  q.bind(1, runId).bind(2, t).run();
}

bool RunStore::removeTag(int64_t runId, const std::string& tag) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "removeTag", "DELETE FROM tags WHERE run_id = ?1 AND tag = ?2");
  q.bind(1, runId).bind(2, trim(tag)).run();
  return sqlite3_changes(m_db) > 0;
}

std::vector<std::string> RunStore::tags(int64_t runId) {
  return textColumn("tags", "SELECT tag FROM tags WHERE run_id = ?1 ORDER BY tag", runId);
}

std::vector<std::string> RunStore::allTags() {
  return textColumn("allTags", "SELECT DISTINCT tag FROM tags ORDER BY tag", std::nullopt);
}

int64_t RunStore::addNote(int64_t runId, const std::string& text) {
  std::lock_guard lock(m_mutex);
  if (trim(text).empty()) throw InputError("addNote: the note is empty", "Type the note's text.");
  requireRun(runId, "addNote");
  Statement q(m_db, m_path, "addNote", "INSERT INTO notes(run_id, text, created_at) VALUES (?1, ?2, ?3)");
  q.bind(1, runId).bind(2, text).bind(3, nowUnixMs()).run();
  return sqlite3_last_insert_rowid(m_db);
}

std::vector<Note> RunStore::notes(int64_t runId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "notes",
              "SELECT id, run_id, text, created_at FROM notes WHERE run_id = ?1 ORDER BY created_at, id");
  q.bind(1, runId);
  std::vector<Note> out;
  while (q.step()) out.push_back(Note{q.int64(0), q.int64(1), q.text(2), q.int64(3)});
  return out;
}

bool RunStore::removeNote(int64_t noteId) {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "removeNote", "DELETE FROM notes WHERE id = ?1");
  q.bind(1, noteId).run();
  return sqlite3_changes(m_db) > 0;
}

// ---- maintenance -----------------------------------------------------------------------------------------

int RunStore::recoverInterruptedRuns() {
  std::lock_guard lock(m_mutex);
  if (m_options.readOnly) return 0;
  struct Candidate {
    int64_t id;
    std::string message;
    int64_t endedAt;
  };
  std::vector<Candidate> dead;
  const std::string host = thisHost();
  const int64_t now = nowUnixMs();
  {
    Statement q(m_db, m_path, "recoverInterruptedRuns",
                "SELECT id, pid, hostname, writer_token, started_at, updated_at FROM runs WHERE status = 'running'");
    while (q.step()) {
      const int64_t id = q.int64(0), pid = q.int64(1);
      const std::string runHost = q.text(2), token = q.text(3);
      const int64_t lastSeen = std::max(q.int64(4), q.int64(5));
      if (runHost == host && pid > 0) {
        if (!writerAlive(pid, token))
          dead.push_back({id,
                          "interrupted: the writer process (pid " + std::to_string(pid) + " on " + runHost +
                              ") ended without finishing the run (crash, kill or power loss); metrics up to its last "
                              "write are kept",
                          lastSeen});
      } else if (now - lastSeen > m_options.foreignHostStaleAfter.count()) {
        dead.push_back({id,
                        "interrupted: the writer on host '" + runHost + "' has not written for more than " +
                            std::to_string(m_options.foreignHostStaleAfter.count() / 3600000) + " h",
                        lastSeen});
      }
    }
  }
  if (dead.empty()) return 0;
  Transaction tx(m_db, m_path, "recoverInterruptedRuns");
  Statement u(m_db, m_path, "recoverInterruptedRuns",
              "UPDATE runs SET status = 'interrupted', message = ?1, ended_at = COALESCE(ended_at, ?2)"
              " WHERE id = ?3 AND status = 'running'");
  int marked = 0;
  for (const Candidate& c : dead) {
    u.bind(1, c.message).bind(2, c.endedAt).bind(3, c.id).run();
    marked += sqlite3_changes(m_db);
    u.reset();
    storeLog()->warn("run store: run {} {}", c.id, c.message);
  }
  tx.commit();
  return marked;
}

std::string RunStore::integrityCheck() {
  std::lock_guard lock(m_mutex);
  Statement q(m_db, m_path, "integrityCheck", "PRAGMA integrity_check");
  std::string out;
  while (q.step()) {
    if (!out.empty()) out += '\n';
    out += q.text(0);
  }
  return out;
}

// ---- MetricWriter ----------------------------------------------------------------------------------------

MetricWriter::MetricWriter(RunStore& store, int64_t runId, size_t flushEvery, std::chrono::milliseconds flushInterval)
    : m_store(store),
      m_runId(runId),
      m_flushEvery(std::max<size_t>(flushEvery, 1)),
      m_flushInterval(flushInterval),
      m_lastFlush(std::chrono::steady_clock::now()) {
  m_buffer.reserve(m_flushEvery);
}

MetricWriter::~MetricWriter() {
  try {
    flush();
  } catch (const std::exception& e) {
    storeLog()->error("run {}: {} metric point(s) lost at close: {}", m_runId, m_buffer.size(), e.what());
  }
}

void MetricWriter::add(MetricPoint point) {
  m_buffer.push_back(std::move(point));
  // steady_clock::now() is a vDSO read (tens of ns), cheap beside the rest of a training step.
  if (m_buffer.size() >= m_flushEvery || std::chrono::steady_clock::now() - m_lastFlush >= m_flushInterval) flush();
}

void MetricWriter::add(int epoch, int64_t step, const std::string& key, double value) {
  add(MetricPoint{epoch, step, key, value});
}

void MetricWriter::flush() {
  m_lastFlush = std::chrono::steady_clock::now();
  if (m_buffer.empty()) return;
  m_store.appendMetrics(m_runId, m_buffer);
  m_buffer.clear();
}

}  // namespace rkd
