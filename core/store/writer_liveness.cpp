// Whether a running run's writer is gone, the abandoned-run registry of this process, and the recovery that
// marks runs whose writer is gone as interrupted.
#include <cerrno>
#include <fstream>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/store/run_store.h"
#include "core/store/store_internal.h"

namespace rkd {

namespace store_detail {

namespace {

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

/// Whether the writer recorded as (pid, token) still runs on this host.
bool processAlive(int64_t pid, const std::string& token) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  ProcInfo info = procInfo(pid);
  if (!info.known) return true;  // no /proc: kill() said it exists (or we may not signal it)
  if (info.state == 'Z' || info.state == 'X') return false;  // exited, not yet reaped
  if (!token.empty() && !info.token.empty() && token != info.token) return false;  // pid reused
  return true;
}

std::mutex& registryMutex() {
  static std::mutex m;
  return m;
}

std::map<std::pair<std::string, int64_t>, std::string>& registry() {
  static std::map<std::pair<std::string, int64_t>, std::string> runs;
  return runs;
}

std::optional<std::string> abandonedReason(const std::string& identity, int64_t runId) {
  std::lock_guard lock(registryMutex());
  auto it = registry().find({identity, runId});
  if (it == registry().end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::string thisHost() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

const std::string& ownToken() {
  static const std::string token = procInfo(getpid()).token;
  return token;
}

RunWriter readRunWriter(const Statement& q) {
  RunWriter w;
  w.runId = q.int64(0);
  w.name = q.text(1);
  w.status = q.text(2);
  w.pid = q.int64(3);
  w.host = q.text(4);
  w.token = q.text(5);
  w.lastSeen = q.int64(6);
  return w;
}

WriterLiveness::WriterLiveness(std::string storeIdentity, std::chrono::milliseconds foreignHostStaleAfter)
    : m_identity(std::move(storeIdentity)), m_staleAfter(foreignHostStaleAfter), m_host(thisHost()),
      m_now(nowUnixMs()) {}

std::string WriterLiveness::describe(const RunWriter& writer) {
  return "pid " + std::to_string(writer.pid) + " on host '" + writer.host + "'";
}

std::optional<std::string> WriterLiveness::goneReason(const RunWriter& w) const {
  if (w.host == m_host && w.pid > 0) {
    if (!processAlive(w.pid, w.token))
      return "interrupted: the writer process (" + describe(w) +
             ") ended without finishing the run (crash, kill or power loss); metrics up to its last write are kept";
    const bool thisProcess = w.pid == getpid() && (w.token.empty() || w.token == ownToken());
    if (thisProcess)
      if (auto reason = abandonedReason(m_identity, w.runId))
        return "interrupted: its writer (" + describe(w) + ") could not close the run: " + *reason +
               "; metrics up to its last write are kept";
    return std::nullopt;
  }
  if (m_now - w.lastSeen > m_staleAfter.count())
    return "interrupted: the writer on host '" + w.host + "' has not written for more than " +
           std::to_string(m_staleAfter.count() / 3600000) + " h";
  return std::nullopt;
}

void markAbandoned(const std::string& identity, int64_t runId, const std::string& reason) {
  std::lock_guard lock(registryMutex());
  registry()[{identity, runId}] = reason;
}

std::optional<std::string> takeAbandoned(const std::string& identity, int64_t runId) {
  std::lock_guard lock(registryMutex());
  auto it = registry().find({identity, runId});
  if (it == registry().end()) return std::nullopt;
  std::string reason = std::move(it->second);
  registry().erase(it);
  return reason;
}

}  // namespace store_detail

using namespace store_detail;

namespace {

struct Interrupted {
  int64_t id;
  std::string message;
  int64_t endedAt;
};

/// The running runs whose writer is gone, each with the message it is marked with.
std::vector<Interrupted> runsWithWriterGone(sqlite3* db, const std::string& path, const WriterLiveness& liveness) {
  std::vector<Interrupted> out;
  Statement q(db, path, "recoverInterruptedRuns",
              std::string("SELECT ") + kRunWriterColumns + " FROM runs WHERE status = 'running'");
  while (q.step()) {
    const RunWriter w = readRunWriter(q);
    if (auto reason = liveness.goneReason(w)) out.push_back({w.runId, *reason, w.lastSeen});
  }
  return out;
}

}  // namespace

int RunStore::recoverInterruptedRuns() {
  std::lock_guard lock(m_mutex);
  if (m_options.readOnly) return 0;
  // A first look without the write lock, so that opening a store never waits for a busy writer when there is
  // nothing to recover.
  if (runsWithWriterGone(m_db, m_path, WriterLiveness(m_identity, m_options.foreignHostStaleAfter)).empty()) return 0;
  // The decision that counts is taken again inside one IMMEDIATE transaction: a run that another process resumed
  // after the first look (it is then the run's live writer) must not be marked interrupted under it.
  Transaction tx(m_db, m_path, "recoverInterruptedRuns");
  const std::vector<Interrupted> dead =
      runsWithWriterGone(m_db, m_path, WriterLiveness(m_identity, m_options.foreignHostStaleAfter));
  if (dead.empty()) return 0;
  Statement u(m_db, m_path, "recoverInterruptedRuns",
              "UPDATE runs SET status = 'interrupted', message = ?1, ended_at = COALESCE(ended_at, ?2)"
              " WHERE id = ?3 AND status = 'running'");
  int marked = 0;
  for (const Interrupted& c : dead) {
    u.bind(1, c.message).bind(2, c.endedAt).bind(3, c.id).run();
    marked += sqlite3_changes(m_db);
    u.reset();
  }
  tx.commit();
  for (const Interrupted& c : dead) {
    takeAbandoned(m_identity, c.id);  // settled: the run is no longer running
    storeLog()->warn("run store: run {} {}", c.id, c.message);
  }
  return marked;
}

bool RunStore::abandonRun(int64_t runId, const std::string& reason) {
  std::lock_guard lock(m_mutex);
  markAbandoned(m_identity, runId, reason);
  storeLog()->error("run store '{}': this process gives up run {}, which it could not close: {}", m_path, runId,
                    reason);
  if (m_options.readOnly) return false;
  try {
    recoverInterruptedRuns();
    Statement q(m_db, m_path, "abandonRun", "SELECT status FROM runs WHERE id = ?1");
    q.bind(1, runId);
    return !q.step() || q.text(0) != "running";
  } catch (const std::exception& e) {
    storeLog()->warn("run store '{}': run {} stays marked running until the store can be written: {}", m_path, runId,
                     e.what());
    return false;
  }
}

}  // namespace rkd
