// Opening a store (its file, folder and connection settings) and its schema: the migrations, applied in order
// in one transaction, and the schema version checks.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common/files.h"
#include "core/common/version.h"
#include "core/store/run_store.h"
#include "core/store/store_internal.h"

namespace rkd {

namespace fs = std::filesystem;
using namespace store_detail;

namespace {

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

// Version 2: a run trained by several processes (torch.distributed) records how many, the collective backend and
// the device of every rank ("cpu,cpu" or "cuda:0,cuda:1"); a single-process run keeps 1, '' and ''.
const char* const kSchemaV2 = R"sql(
ALTER TABLE runs ADD COLUMN world_size   INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN backend      TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN rank_devices TEXT    NOT NULL DEFAULT '';
)sql";

// Version 3: the store's own random id. A trainer checkpoint records it (with its run id and network), so a
// checkpoint of another store, or of another run, is refused when it is loaded instead of being used silently.
const char* const kSchemaV3 = R"sql(
CREATE TABLE store_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO store_info(key, value) VALUES ('store_id', lower(hex(randomblob(16))));
)sql";

// Version 4: a metric point is logged once. Two resumes of one run used to both train it and log its steps twice;
// the unique index makes any such write fail instead. A store that already holds duplicates keeps the last row
// of each point (the newest write: what the run's checkpoints follow); migrate() reports how many went.
const char* const kSchemaV4 = R"sql(
DELETE FROM metrics WHERE rowid NOT IN (SELECT max(rowid) FROM metrics GROUP BY run_id, key, epoch, step);
CREATE UNIQUE INDEX metrics_point ON metrics(run_id, key, epoch, step);
)sql";

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "initial schema: runs, metrics, checkpoints, tags, notes, class accuracy", kSchemaV1},
      {2, "distributed runs: world_size, backend, rank_devices", kSchemaV2},
      {3, "store identity: store_info.store_id", kSchemaV3},
      {4, "one row per metric point: unique (run_id, key, epoch, step)", kSchemaV4},
  };
  return list;
}

const char* const kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '')";

/// Names the store file for the abandoned-run registry: its canonical path and inode, so that a file replaced at
/// the same path (whose run ids start again at 1) is another store.
std::string fileIdentity(const std::string& path) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  std::string identity = ec ? path : canonical.string();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    identity += "#" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  return identity;
}

}  // namespace

// ---- open / schema ---------------------------------------------------------------------------------------

namespace {

// SQLite's answers when a file or its folder may not be written by this process.
bool cannotWrite(const StoreError& e) {
  const int c = e.sqliteCode();
  return c == SQLITE_READONLY || c == SQLITE_CANTOPEN || c == SQLITE_PERM || c == SQLITE_AUTH;
}

// "file:" URI of a path, for SQLite's URI parameters: every byte but unreserved ones and '/' percent-encoded.
std::string fileUri(const std::string& path) {
  static const char* const hex = "0123456789ABCDEF";
  std::string uri = "file:";
  for (unsigned char c : fs::absolute(path).string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += hex[c >> 4];
      uri += hex[c & 15];
    }
  }
  return uri;
}

}  // namespace

RunStore::RunStore(const std::string& path, const RunStoreOptions& options) : m_path(path), m_options(options) {
  auto attempt = [&] {
    try {
      open(m_options);
    } catch (...) {
      sqlite3_close(m_db);
      m_db = nullptr;
      throw;
    }
  };
  try {
    attempt();
  } catch (const StoreError& e) {
    std::error_code ec;
    if (!options.readOnlyWhenUnwritable || m_options.readOnly || !cannotWrite(e) || !fs::is_regular_file(m_path, ec))
      throw;
    // A store this process may only read (its file, or its folder, is not writable by this user): read it.
    m_options.readOnly = true;
    try {
      attempt();
    } catch (const StoreError& again) {
      if (!cannotWrite(again)) throw;
      // In WAL mode even a reader needs the -shm file, which it cannot make in a folder it may not write. Then
      // nobody but the folder's owner writes the store: read it as an immutable file.
      m_immutable = true;
      attempt();
    }
    storeLog()->warn("run store '{}': this user may not write it{}, so it is open for reading only (changes are "
                     "refused)", m_path, m_immutable ? " nor its folder" : "");
    storeLog()->debug("run store '{}': the read-write open failed with: {}", m_path, e.what());
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
                      "Set XDG_DATA_HOME or HOME, or pass a store file explicitly (--db FILE).");
    base = fs::path(homeDir) / ".local" / "share";
  }
  fs::path dir = base / "reviewkd-studio";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw UserError("cannot create the run store folder '" + dir.string() + "': " +
                        (ec ? ec.message() : std::string("a file of that name is in the way")),
                    "Make the folder writable, set XDG_DATA_HOME to a writable folder, or pass a store file "
                    "explicitly (--db FILE).");
  return (dir / "runs.sqlite").string();
}

std::string RunStore::filesFolder(const std::string& storePath) {
  return fs::absolute(storePath).lexically_normal().string() + ".checkpoints";
}

std::string RunStore::runFolder(const std::string& storePath, int64_t runId) {
  return (fs::path(filesFolder(storePath)) / ("run-" + std::to_string(runId))).string();
}

int RunStore::latestSchemaVersion() { return migrations().back().version; }

void RunStore::open(const RunStoreOptions& options) {
  if (m_path.empty())
    throw InputError("the run store path is empty", "Pass a store file (--db FILE) or use the default.");
  // What the path names is checked before SQLite sees it: SQLite would open a device or a FIFO and leave its
  // journal beside it, and a missing store must not be made by a command that only reads.
  std::string reachError;
  const FileKind kind = fileKind(m_path, &reachError);
  if (kind == FileKind::Directory)
    throw InputError("the run store path '" + m_path + "' is a folder, not a file",
                     "Pass a file inside it instead, e.g. '" + (fs::path(m_path) / "runs.sqlite").string() + "'.");
  if (kind == FileKind::Unreachable)
    throw InputError("cannot reach the run store '" + m_path + "': " + reachError,
                     "Check the path and its folders' permissions (--db FILE).");
  if (kind != FileKind::Regular && kind != FileKind::Missing)
    throw InputError("the run store path '" + m_path + "' is " + describeFileKind(kind) + ", not a store file",
                     "Pass the path of an SQLite store file, or of a new one to create (--db FILE).");
  if (kind == FileKind::Missing && (options.mustExist || options.readOnly))
    throw InputError("there is no run store at '" + m_path + "'",
                     "Check the path (--db FILE or $REVIEWKD_DB); a store is made by the first reviewkd train or "
                     "teacher run, or by the studio.");
  fs::path parent = fs::path(m_path).parent_path();
  if (!options.readOnly && !parent.empty()) {
    const FileKind parentKind = fileKind(parent.string());
    if (parentKind != FileKind::Directory && parentKind != FileKind::Missing)
      throw InputError("cannot make the run store '" + m_path + "': '" + parent.string() + "' is " +
                           describeFileKind(parentKind) + ", not a folder",
                       "Choose a store file in a folder (--db FILE).");
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec || !fs::is_directory(parent))
      throw InputError("cannot create the folder '" + parent.string() + "' for the run store '" + m_path + "': " +
                           (ec ? ec.message() : std::string("a file of that name is in the way")),
                       "Choose a store file in a folder you can write (--db FILE), or create the folder.");
  }

  int flags = options.readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // calls are serialized by m_mutex
  const std::string name = m_immutable ? fileUri(m_path) + "?immutable=1" : m_path;
  if (m_immutable) flags |= SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(name.c_str(), &m_db, flags, nullptr);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, "open");
  sqlite3_extended_result_codes(m_db, 1);

  refuseForeignOrNewer();
  configure();
  migrate();
  m_folder = fs::absolute(m_path).lexically_normal().parent_path().string();
  {
    Statement q(m_db, m_path, "open: read the store id", "SELECT value FROM store_info WHERE key = 'store_id'");
    if (q.step()) m_storeId = q.text(0);
  }
  if (m_storeId.empty())
    throw StoreError("run store '" + m_path + "' has no store id (table store_info, key store_id)",
                     "the file was edited outside ReviewKD Studio; restore it from a backup or use a new store "
                     "file (--db FILE)",
                     0);
  m_identity = fileIdentity(m_path);
  if (options.recoverInterrupted && !options.readOnly) {
    try {
      int n = recoverInterruptedRuns();
      if (n > 0) storeLog()->info("run store '{}': marked {} run(s) whose writer is gone as interrupted", m_path, n);
    } catch (const StoreError& e) {
      // A full disk or a file this process may not write: the store can still be read (runs list, show, export).
      // What writes to it later fails with its own error.
      const int code = e.sqliteCode();
      if (code != SQLITE_FULL && code != SQLITE_READONLY && code != SQLITE_IOERR && code != SQLITE_CANTOPEN &&
          code != SQLITE_PERM)
        throw;
      storeLog()->warn("run store '{}': runs whose writer is gone could not be marked interrupted (they show as "
                       "running until the store can be written): {}", m_path, e.what());
    }
  }
  storeLog()->debug("run store '{}' open (schema {}, WAL {})", m_path, latestSchemaVersion(), m_walEnabled);
}

// Before anything is written (WAL mode, migrations): a database of another program, or a store of a newer
// schema, is refused untouched. Reading the table list also rejects a file that is not a database at all.
void RunStore::refuseForeignOrNewer() {
  std::vector<std::string> tables;
  {
    Statement q(m_db, m_path, "open: list tables", "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (q.step()) tables.push_back(q.text(0));
  }
  if (tables.empty()) return;  // a new file
  const bool ours = std::find(tables.begin(), tables.end(), "schema_version") != tables.end();
  if (!ours) {
    std::string names;
    for (size_t i = 0; i < tables.size() && i < 6; ++i) names += (i ? ", " : "") + tables[i];
    if (tables.size() > 6) names += ", ...";
    throw StoreError("'" + m_path + "' is an SQLite database of another program (tables: " + names +
                         "), not a ReviewKD run store; it was not changed",
                     "Choose another store file (--db FILE), or a new file name for a new store.", 0);
  }
  const int found = readSchemaVersion();
  if (found > latestSchemaVersion())
    throw StoreError("run store '" + m_path + "' has schema version " + std::to_string(found) +
                         ", but this build of ReviewKD Studio (" + buildVersion() + ") knows schema versions up to " +
                         std::to_string(latestSchemaVersion()) + "; it was not changed",
                     "Open it with a newer ReviewKD Studio, or choose another store file (--db FILE); do not let "
                     "an older build write to a newer history.",
                     0);
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
                      "Open it with a newer ReviewKD Studio, or choose another store file (--db FILE); do not "
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
    const int64_t changesBefore = sqlite3_total_changes64(m_db);
    execute(m.sql, ("migrate schema to version " + std::to_string(m.version)).c_str());
    // Rows a migration removed (version 4: duplicate metric rows) are reported, and recorded with the version.
    const int64_t removed = sqlite3_total_changes64(m_db) - changesBefore;
    std::string description = m.description;
    if (m.version == 4 && removed > 0) {
      description += "; " + std::to_string(removed) + " duplicate metric rows dropped, the last of each point kept";
      storeLog()->warn("run store '{}': {} metric rows logged twice (by two resumes of one run) were dropped; the "
                       "last row of each point is kept",
                       m_path, removed);
    }
    m_lastMigrationDropped += m.version == 4 ? removed : 0;
    Statement mark(m_db, m_path, "migrate schema: record version",
                   "INSERT INTO schema_version(version, applied_at, description) VALUES (?1, ?2, ?3)");
    mark.bind(1, m.version).bind(2, nowUnixMs()).bind(3, description).run();
    storeLog()->info("run store '{}': applied schema migration {} ({})", m_path, m.version, description);
  }
  tx.commit();
}

void RunStore::execute(const std::string& sql, const char* operation) {
  char* err = nullptr;
  int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg still holds the message
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, operation, sql);
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

}  // namespace rkd
