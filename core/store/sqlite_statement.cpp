#include "core/store/sqlite_statement.h"

#include <cmath>
#include <limits>

#include "core/common/logging.h"

namespace rkd {

int StoreError::exitCode() const {
  // Refusals of this store's own (sqliteCode 0: another program's database, a newer schema) and a file that is no
  // database at all say the wrong file was given; anything else SQLite failed at is the database failing.
  return m_sqliteCode == 0 || m_sqliteCode == SQLITE_NOTADB ? kExitBadInput : kExitStoreFailed;
}

}  // namespace rkd

namespace rkd::store_detail {

namespace {
/// Statements are quoted in messages on one line and shortened: enough to recognise them.
std::string shortSql(const std::string& sql) {
  std::string out;
  out.reserve(sql.size());
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == '\t' || c == ' ' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  constexpr size_t kMax = 120;
  if (out.size() > kMax) out = out.substr(0, kMax) + "...";
  return out;
}
}  // namespace

std::string fixFor(int rc, const std::string& path) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "Another process is writing to the run store; wait for it to finish, or close the other "
             "ReviewKD Studio / reviewkd process using '" + path + "'.";
    case SQLITE_FULL:
      return "The disk holding '" + path + "' is full; free some space and try again.";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      return "Check that '" + path + "' and its folder exist and are writable by you, or choose another "
             "store file (--db FILE).";
    case SQLITE_NOTADB:
      return "'" + path + "' is not a ReviewKD run store; move it away or choose another store file (--db FILE).";
    case SQLITE_CORRUPT:
      return "The run store '" + path + "' is damaged; restore it from a backup, or move it away to start a "
             "new history.";
    case SQLITE_IOERR:
      return "Reading or writing '" + path + "' failed at the file system level; check the disk and try again.";
    case SQLITE_CONSTRAINT:
      return "The value breaks a rule of the store (unknown run, duplicate, or invalid field); check the input.";
    default:
      return "Check that '" + path + "' is a ReviewKD run store on a local disk; if the problem persists, move "
             "it away to start a new history.";
  }
}

void throwSqlite(sqlite3* db, int rc, const std::string& path, const std::string& operation,
                 const std::string& sql) {
  std::string msg = "run store '" + path + "': " + operation;
  if (!sql.empty()) msg += " [" + shortSql(sql) + "]";
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (SQLite code " + std::to_string(rc) + ")";
  throw StoreError(msg, fixFor(rc, path), rc & 0xff);
}

Statement::Statement(sqlite3* db, const std::string& path, const char* operation, const std::string& sql)
    : m_db(db), m_path(path), m_operation(operation), m_sql(sql) {
  int rc = sqlite3_prepare_v2(m_db, sql.c_str(), static_cast<int>(sql.size()), &m_stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(m_stmt);
    m_stmt = nullptr;
    throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": prepare", m_sql);
  }
}

Statement::~Statement() { sqlite3_finalize(m_stmt); }

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(m_stmt, index, value);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": bind", m_sql);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (std::isnan(value)) return bindNull(index);
  int rc = sqlite3_bind_double(m_stmt, index, value);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": bind", m_sql);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  int rc = sqlite3_bind_text(m_stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": bind", m_sql);
  return *this;
}

Statement& Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(m_stmt, index);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": bind", m_sql);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset so the statement does not keep a read transaction (or its lock) open after the failure.
  sqlite3_reset(m_stmt);
  throwSqlite(m_db, rc, m_path, m_operation, m_sql);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

bool Statement::isNull(int column) const { return sqlite3_column_type(m_stmt, column) == SQLITE_NULL; }

int64_t Statement::int64(int column) const { return sqlite3_column_int64(m_stmt, column); }

double Statement::real(int column) const {
  if (isNull(column)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(m_stmt, column);
}

std::optional<double> Statement::optionalReal(int column) const {
  if (isNull(column)) return std::nullopt;
  return sqlite3_column_double(m_stmt, column);
}

std::optional<int64_t> Statement::optionalInt64(int column) const {
  if (isNull(column)) return std::nullopt;
  return sqlite3_column_int64(m_stmt, column);
}

std::string Statement::text(int column) const {
  const unsigned char* t = sqlite3_column_text(m_stmt, column);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(m_stmt, column)));
}

Transaction::Transaction(sqlite3* db, const std::string& path, const char* operation)
    : m_db(db), m_path(path), m_operation(operation) {
  int rc = sqlite3_exec(m_db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": begin transaction");
}

Transaction::~Transaction() {
  if (m_done) return;
  // After some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...) SQLite has rolled the transaction back
  // itself: there is nothing left to roll back, and saying that it failed would hide the error that counts.
  if (sqlite3_get_autocommit(m_db)) return;
  int rc = sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    logger("core.store")->warn("run store '{}': {}: rollback failed: {}", m_path, m_operation, sqlite3_errmsg(m_db));
  }
}

void Transaction::commit() {
  int rc = sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throwSqlite(m_db, rc, m_path, std::string(m_operation) + ": commit");
  m_done = true;
}

}  // namespace rkd::store_detail
