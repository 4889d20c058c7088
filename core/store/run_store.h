#pragma once
// The run store: every run ever made (teachers and students), its full config, metrics as they are logged,
// checkpoints, tags, notes and per-class accuracy, in one SQLite file. Plain C++ types only (no torch, no Qt),
// so the studio facade, the CLI and the GUI can all use it.
//
// Concurrency model: SQLite in WAL mode. One RunStore object is one connection; its methods are serialized by
// an internal mutex, so one writer thread (the trainer) and other threads may share it. Any number of other
// connections (other RunStore objects, other processes) read consistent snapshots while one writer appends.
#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/errors.h"
#include "core/vocabulary/run_records.h"

struct sqlite3;

namespace rkd {

/// A failed SQLite call, or a file that is no store of this build: the message names the store file, the operation
/// and the statement, and fix() says what to do. Its own kind of UserError with its own exit code (see exitCode).
class StoreError : public UserError {
 public:
  StoreError(const std::string& what, const std::string& fix, int sqliteCode)
      : UserError(what, fix), m_sqliteCode(sqliteCode) {}
  /// The primary SQLite result code (SQLITE_BUSY, SQLITE_NOTADB, ...), 0 when the error is not SQLite's own.
  int sqliteCode() const { return m_sqliteCode; }
  /// A failing database is not bad input: kExitStoreFailed. A file that is no store of this build (another
  /// program's database, a newer schema, not a database at all) is the wrong file given: kExitBadInput.
  int exitCode() const override;

 private:
  int m_sqliteCode = 0;
};

/// Bounds the store keeps on the text it is given (README, "Reliability"): a run's name is one line of the history,
/// a tag one word of a filter, a note a paragraph. Far above real use; far below what makes the store, an export
/// or a history view grow without end.
inline constexpr size_t kRunNameBytes = 256;
inline constexpr size_t kTagBytes = 64;
inline constexpr size_t kNoteBytes = 16384;

/// How to open a store.
struct RunStoreOptions {
  /// Open without writing: no migrations (an outdated file is an error), no interrupted-run recovery.
  bool readOnly = false;
  /// When the file exists but this user may not write it (or its folder), open it read-only instead of failing
  /// (for commands that only read: runs list, show, export). Writes then fail with SQLite's read-only error.
  bool readOnlyWhenUnwritable = false;
  /// Refuse (InputError) a path where no store exists instead of creating one: nothing is made, not even the
  /// folder (for commands that only read, change or delete what a store holds).
  bool mustExist = false;
  /// At open, mark runs whose writer is gone as interrupted (see RunStore::recoverInterruptedRuns).
  bool recoverInterrupted = true;
  /// How long a statement waits for another connection's write lock before failing with SQLITE_BUSY.
  int busyTimeoutMs = 5000;
  /// A run still "running" that was written on another host is only marked interrupted after its writer has
  /// been silent (no heartbeat) this long, because its process cannot be checked from here.
  std::chrono::milliseconds foreignHostStaleAfter = std::chrono::hours(24);
};

/// The run store on SQLite. See the file comment for the concurrency model.
class RunStore {
 public:
  /// Opens (creating it and its folder when missing) the store at path, configures WAL, applies pending
  /// migrations in one transaction and, unless disabled, recovers interrupted runs.
  /// Throws UserError naming the path and a fix when the folder cannot be created, the file cannot be opened,
  /// is not an SQLite database, or was written by a newer ReviewKD Studio (newer schema).
  explicit RunStore(const std::string& path, const RunStoreOptions& options = {});
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  /// $XDG_DATA_HOME/reviewkd-studio/runs.sqlite, else ~/.local/share/reviewkd-studio/runs.sqlite; creates the
  /// folder. Throws UserError when no home folder is known or the folder cannot be created.
  static std::string defaultPath();
  /// The folder of a store's own files: "<store file>.checkpoints" beside it (absolute), so two stores in one
  /// folder never share checkpoints.
  static std::string filesFolder(const std::string& storePath);
  /// The folder of a run's files (checkpoints, the latest feature snapshot): <filesFolder>/run-<id>.
  static std::string runFolder(const std::string& storePath, int64_t runId);
  /// The schema version this build writes (the last migration).
  static int latestSchemaVersion();

  /// The file this store was opened on.
  const std::string& path() const { return m_path; }
  /// True when the store was opened read-only (asked for, or because this user may not write it).
  bool readOnly() const { return m_options.readOnly; }
  /// The store's random id (32 hex digits), made when the file was created (or upgraded to schema 3). Trainer
  /// checkpoints record it, so a checkpoint of another store is recognised.
  const std::string& storeId() const { return m_storeId; }
  /// The schema version of the open file.
  int schemaVersion();
  /// False when the file system refused WAL mode (a network share): readers then block the writer.
  bool walEnabled() const { return m_walEnabled; }

  // --- runs ---------------------------------------------------------------------------------------------
  /// Inserts a run (see RunRecord for the fields filled in) and returns its id. Throws InputError for an empty
  /// name or an unknown teacherRun.
  int64_t createRun(const RunRecord& run);
  /// Sets status and message. A terminal status also sets ended_at (once); Running clears it and makes this
  /// process the run's writer (resume), taking back a run this process had abandoned.
  void updateRunStatus(int64_t runId, RunStatus status, const std::string& message = {});
  /// A resume from a checkpoint at (epoch, globalStep): in the transaction that marks the run running again
  /// (as updateRunStatus), the metrics logged after that position go (per-step rows from globalStep on, epoch
  /// rows and per-class accuracy from epoch on), so the resumed run does not log them twice.
  /// It is also the claim of the run: one IMMEDIATE transaction checks that no live writer has it (refused with
  /// InputError naming that writer otherwise), then marks it running with this process as its writer, so two
  /// resumes of one run cannot both train it. `layout` (device, world size, backend, rank devices) replaces the
  /// recorded one when given: a run resumed by another number of processes or on another device says so.
  void resumeRunAt(int64_t runId, int64_t epoch, int64_t globalStep, const std::string& message,
                   const RunRecord* layout = nullptr);
  /// Ends a run: status must be terminal (not Running); sets ended_at = now and the message.
  void finishRun(int64_t runId, RunStatus status = RunStatus::Finished, const std::string& message = {});
  void setBestTop1(int64_t runId, double top1);
  void setLastTop1(int64_t runId, double top1);
  void setEpochsDone(int64_t runId, int epochsDone);
  /// After an evaluation: last_top1 = top1, best_top1 = max(best_top1, top1), epochs_done = epochsDone.
  void recordEpoch(int64_t runId, int epochsDone, double top1);
  /// Replaces the stored config (e.g. after a resume changed the epoch count).
  void setConfig(int64_t runId, const nlohmann::json& config);
  /// The full record, or nullopt when no run has this id.
  std::optional<RunRecord> getRun(int64_t runId);
  /// Runs matching filter, newest first.
  std::vector<RunSummary> listRuns(const RunFilter& filter = {});
  /// Deletes a run with its metrics, checkpoints rows, tags, notes and class accuracy (checkpoint files on
  /// disk are left alone). Student runs that named it as teacherRun keep their data with teacherRun cleared.
  /// Returns false when no run had this id. Throws InputError (naming the run, its pid and host) when the run
  /// is still running with a live writer (the rule of recoverInterruptedRuns), checked in the delete's own
  /// transaction; a run marked running whose writer is gone is interrupted and may be deleted.
  bool deleteRun(int64_t runId);

  // --- metrics ------------------------------------------------------------------------------------------
  /// Appends points in one transaction (also refreshes the run's heartbeat). For per-step logging use a
  /// MetricWriter, which batches.
  void appendMetrics(int64_t runId, const std::vector<MetricPoint>& points);
  /// One metric's values, ordered by epoch, step, insertion.
  MetricSeries metrics(int64_t runId, const std::string& key);
  /// The metric keys logged for a run, sorted.
  std::vector<std::string> metricKeys(int64_t runId);
  /// Number of metric rows of a run (all keys).
  int64_t metricCount(int64_t runId);
  /// Every metric point of a run, ordered by key, epoch, step and insertion, one at a time (a long run's
  /// metrics are never all in memory); NULL values come back as NaN. Throws InputError for an unknown run.
  void visitMetrics(int64_t runId, const std::function<void(const MetricPoint&)>& visit);
  /// The metric points of a run written after row `afterRow` (0: all), in the order they were written; returns
  /// the last row visited (afterRow when none). For following a run another process writes: each poll reads
  /// only the new rows. Throws InputError for an unknown run.
  int64_t visitMetricsSince(int64_t runId, int64_t afterRow, const std::function<void(const MetricPoint&)>& visit);

  // --- per-class accuracy -------------------------------------------------------------------------------
  /// Stores (replacing) the per-class accuracy of one evaluation.
  void setClassAccuracy(int64_t runId, int epoch, const std::vector<ClassAccuracy>& classes);
  /// Per-class accuracy of one epoch; epoch < 0 = the latest stored epoch. Empty when none.
  std::vector<ClassAccuracy> classAccuracy(int64_t runId, int epoch = -1);

  // --- checkpoints --------------------------------------------------------------------------------------
  /// Records a checkpoint file. Last and Best replace the run's previous row of that kind; Epoch rows
  /// accumulate. Returns the row id. A file inside the store's folder is recorded relative to that folder, so
  /// the store and its files can move together and a relative --db means the same files from any directory.
  int64_t addCheckpoint(int64_t runId, int epoch, const std::string& path, CheckpointKind kind);
  /// Checkpoints of a run ordered by epoch, then id, with absolute paths (see resolveCheckpointPath).
  std::vector<CheckpointRecord> listCheckpoints(int64_t runId);
  /// The path of the run's newest checkpoint of `kind` ("" when it has none).
  std::string checkpointPath(int64_t runId, CheckpointKind kind);

  // --- tags and notes -----------------------------------------------------------------------------------
  /// Adds a tag (trimmed; adding an existing tag does nothing). Throws InputError for an empty tag.
  void addTag(int64_t runId, const std::string& tag);
  /// Returns false when the run did not have the tag.
  bool removeTag(int64_t runId, const std::string& tag);
  /// A run's tags, sorted.
  std::vector<std::string> tags(int64_t runId);
  /// Every tag in the store, sorted, each once.
  std::vector<std::string> allTags();
  /// Adds a note and returns its id. Throws InputError for an empty note.
  int64_t addNote(int64_t runId, const std::string& text);
  /// A run's notes, oldest first.
  std::vector<Note> notes(int64_t runId);
  /// Returns false when no note had this id.
  bool removeNote(int64_t noteId);

  // --- maintenance --------------------------------------------------------------------------------------
  /// Marks as interrupted every run still "running" whose writer is gone: written on this host by a process
  /// that no longer exists (or whose pid was reused by another process), or written on another host and
  /// silent for longer than RunStoreOptions::foreignHostStaleAfter, or given up by this process (abandonRun).
  /// The runs are read, checked and marked in one IMMEDIATE transaction, so a run another process resumes
  /// meanwhile is never marked. Called at open; returns how many it marked.
  int recoverInterruptedRuns();
  /// For a writer that could not close its run (finishRun kept failing): this process gives the run up, and from
  /// now on its liveness treats this process as gone for it, so that the run is marked interrupted (here at
  /// once if the store can be written, else by the next recovery, open or resume in this process) and can be
  /// resumed or deleted. `reason` (the store error) goes into the interrupted message. Never throws; returns
  /// true when the run is no longer marked running. Resuming the run (updateRunStatus Running) takes it back.
  bool abandonRun(int64_t runId, const std::string& reason);
  /// PRAGMA integrity_check: "ok", or the problems found, one per line.
  std::string integrityCheck();
  /// Metric rows the schema-4 migration dropped when this connection applied it (points logged twice), else 0.
  int64_t duplicateMetricRowsDropped() const { return m_lastMigrationDropped; }

 private:
  void open(const RunStoreOptions& options);
  void refuseForeignOrNewer();
  void setStatus(int64_t runId, RunStatus status, const std::string& message,
                 std::optional<std::pair<int64_t, int64_t>> truncateAt, const RunRecord* layout = nullptr);
  void configure();
  void migrate();
  int readSchemaVersion();
  void requireRun(int64_t runId, const char* operation);
  void execute(const std::string& sql, const char* operation);
  void touch(int64_t runId);
  /// UPDATE runs SET <column> = value (and the heartbeat); throws for an unknown run.
  /// The first column of every row of `sql` (which may bind the run id as ?1).
  std::vector<std::string> textColumn(const char* operation, const char* sql, std::optional<int64_t> runId);
  template <typename T>
  void setRunColumn(int64_t runId, const char* column, const T& value, const char* operation);

  /// A recorded checkpoint path as a file: absolute paths as they are; a relative one against the store's folder.
  /// Stores written before schema 3 recorded paths relative to the writer's working directory; for those, the
  /// run's folder of that time (<store folder>/checkpoints/run-<id>) is tried when the first guess is absent.
  std::string resolveCheckpointPath(int64_t runId, const std::string& recorded) const;
  /// A writer keeps kSpaceReserveBytes allocated in <filesFolder>/space.reserve (made when a run starts or
  /// resumes; best effort), so that when the disk fills up the end of a run can still be recorded:
  /// usingSpaceReserve runs `write`, and when it fails with SQLITE_FULL, deletes the reserve and runs it again.
  static constexpr uint64_t kSpaceReserveBytes = 1u << 20;
  std::string reservePath() const;
  void keepSpaceReserve();
  void usingSpaceReserve(const char* operation, const std::function<void()>& write);

  std::string m_path;
  /// The absolute folder of the store file: relative checkpoint paths are relative to it.
  std::string m_folder;
  std::string m_storeId;
  /// The file's canonical path and inode: the key of this store in the process's abandoned-run registry.
  std::string m_identity;
  RunStoreOptions m_options;
  sqlite3* m_db = nullptr;
  bool m_walEnabled = false;
  /// Opened as an immutable file: read-only, and no -shm file (its folder may not be written).
  bool m_immutable = false;
  int64_t m_lastMigrationDropped = 0;  ///< see duplicateMetricRowsDropped
  std::recursive_mutex m_mutex;
};

/// Buffers metric points of one run and writes them in one transaction every flushEvery points or every
/// flushInterval (checked when a point is added), on flush(), and on destruction. A step's logging then costs
/// a vector push; the transaction cost is shared by the whole batch. Use from one thread.
class MetricWriter {
 public:
  MetricWriter(RunStore& store, int64_t runId, size_t flushEvery = 512,
               std::chrono::milliseconds flushInterval = std::chrono::milliseconds(1000));
  /// Flushes what is buffered; a failure is logged (core.store), not thrown.
  ~MetricWriter();
  MetricWriter(const MetricWriter&) = delete;
  MetricWriter& operator=(const MetricWriter&) = delete;

  void add(MetricPoint point);
  void add(int epoch, int64_t step, const std::string& key, double value);
  /// Writes the buffer now (call at epoch end so epoch-level values are visible at once). Throws StoreError;
  /// the points stay buffered when the write failed.
  void flush();
  size_t pending() const { return m_buffer.size(); }
  int64_t runId() const { return m_runId; }

 private:
  RunStore& m_store;
  int64_t m_runId;
  size_t m_flushEvery;
  std::chrono::milliseconds m_flushInterval;
  std::chrono::steady_clock::time_point m_lastFlush;
  std::vector<MetricPoint> m_buffer;
};

}  // namespace rkd
