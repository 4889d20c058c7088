// What a run holds in the store: its metrics (appended, read as series, visited), per-class accuracy, checkpoints
// (recorded relative to the store, resolved when read), tags and notes. The runs themselves are in run_store.cpp.
#include <filesystem>

#include "core/store/run_store.h"
#include "core/store/store_internal.h"

namespace rkd {

using namespace store_detail;
namespace fs = std::filesystem;

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

void RunStore::visitMetrics(int64_t runId, const std::function<void(const MetricPoint&)>& visit) {
  std::lock_guard lock(m_mutex);
  requireRun(runId, "visitMetrics");
  Statement q(m_db, m_path, "visitMetrics",
              "SELECT epoch, step, key, value FROM metrics WHERE run_id = ?1 ORDER BY key, epoch, step, rowid");
  q.bind(1, runId);
  MetricPoint p;
  while (q.step()) {
    p.epoch = static_cast<int>(q.int64(0));
    p.step = q.int64(1);
    p.key = q.text(2);
    p.value = q.isNull(3) ? std::numeric_limits<double>::quiet_NaN() : q.real(3);
    visit(p);
  }
}

int64_t RunStore::visitMetricsSince(int64_t runId, int64_t afterRow,
                                    const std::function<void(const MetricPoint&)>& visit) {
  std::lock_guard lock(m_mutex);
  requireRun(runId, "visitMetricsSince");
  // A range scan of the table from afterRow (the newest rows, of every run), not of the run's index entries.
  Statement q(m_db, m_path, "visitMetricsSince",
              "SELECT rowid, epoch, step, key, value FROM metrics NOT INDEXED WHERE rowid > ?2 AND run_id = ?1"
              " ORDER BY rowid");
  q.bind(1, runId).bind(2, afterRow);
  MetricPoint p;
  int64_t last = afterRow;
  while (q.step()) {
    last = q.int64(0);
    p.epoch = static_cast<int>(q.int64(1));
    p.step = q.int64(2);
    p.key = q.text(3);
    p.value = q.isNull(4) ? std::numeric_limits<double>::quiet_NaN() : q.real(4);
    visit(p);
  }
  return last;
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
  std::string recorded = std::filesystem::absolute(path).lexically_normal().string();
  const std::filesystem::path inside = std::filesystem::path(recorded).lexically_relative(m_folder);
  if (!inside.empty() && *inside.begin() != "..") recorded = inside.string();
  Statement ins(m_db, m_path, "addCheckpoint",
                "INSERT INTO checkpoints(run_id, epoch, path, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  ins.bind(1, runId).bind(2, epoch).bind(3, recorded).bind(4, toString(kind)).bind(5, nowUnixMs()).run();
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
    out.push_back(CheckpointRecord{q.int64(0), q.int64(1), q.int32(2), resolveCheckpointPath(runId, q.text(3)),
                                   checkpointKindFromString(q.text(4)), q.int64(5)});
  return out;
}

std::string RunStore::resolveCheckpointPath(int64_t runId, const std::string& recorded) const {

  const fs::path p(recorded);
  if (p.is_absolute()) return recorded;
  const fs::path inFolder = (fs::path(m_folder) / p).lexically_normal();
  std::error_code ec;
  if (fs::exists(inFolder, ec)) return inFolder.string();
  const fs::path legacy = fs::path(m_folder) / "checkpoints" / ("run-" + std::to_string(runId)) / p.filename();
  if (fs::exists(legacy, ec)) return legacy.string();
  return inFolder.string();
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
  requireBounded(t, kTagBytes, "tag");
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
  requireBounded(text, kNoteBytes, "note");
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

}  // namespace rkd
