#pragma once
// Internal to core/store: a small RAII layer over the sqlite3 C API. Every error it throws is a StoreError whose
// message names the store file, the operation and the statement.
#include <cstdint>
#include <optional>
#include <string>

#include <sqlite3.h>

#include "core/store/run_store.h"

namespace rkd::store_detail {

/// Throws a StoreError for SQLite result code rc: "run store 'path': operation [sql]: sqlite message".
[[noreturn]] void throwSqlite(sqlite3* db, int rc, const std::string& path, const std::string& operation,
                              const std::string& sql = {});
/// The fix text shown for a SQLite result code.
std::string fixFor(int rc, const std::string& path);

/// One prepared statement, finalized on destruction. Bind indexes are 1-based, column indexes 0-based.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* operation, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  /// NaN binds as NULL (SQLite's own behaviour, made explicit).
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bindNull(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bindNull(index);
  }

  /// Steps once: true when a row is available, false when done. Throws on error.
  bool step();
  /// Steps to completion of a statement that returns no rows.
  void run();
  /// Resets for another execution and clears the bindings.
  void reset();

  bool isNull(int column) const;
  int64_t int64(int column) const;
  int int32(int column) const { return static_cast<int>(int64(column)); }
  /// NULL reads as NaN.
  double real(int column) const;
  std::optional<double> optionalReal(int column) const;
  std::optional<int64_t> optionalInt64(int column) const;
  std::string text(int column) const;

 private:
  sqlite3* m_db;
  const std::string& m_path;
  const char* m_operation;
  std::string m_sql;
  sqlite3_stmt* m_stmt = nullptr;
};

/// BEGIN IMMEDIATE on construction (takes the write lock at once, so a busy writer is waited for with the busy
/// timeout instead of failing on lock upgrade); ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path, const char* operation);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  sqlite3* m_db;
  const std::string& m_path;
  const char* m_operation;
  bool m_done = false;
};

}  // namespace rkd::store_detail
