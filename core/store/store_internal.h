#pragma once
// Internal to core/store: what the store's source files share. Text helpers and the store logger
// (run_store.cpp), and the rule that says whether a run's writer is gone (writer_liveness.cpp), which crash
// recovery and deleteRun must apply the same way.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/store/sqlite_statement.h"

namespace rkd::store_detail {

/// The "core.store" logger.
std::shared_ptr<spdlog::logger> storeLog();
/// s without leading and trailing white space.
std::string trim(const std::string& s);
/// s with ASCII letters folded to lower case (what SQLite's lower() does).
std::string asciiLower(std::string s);
/// "<operation>: no run with id N in the run store", with the fix.
InputError noSuchRun(int64_t runId, const char* operation);
/// Refuses (InputError) a text longer than `most` bytes, naming what it is (`what`: "run name", "tag", ...).
void requireBounded(const std::string& text, size_t most, const char* what);

// ---- writer liveness (writer_liveness.cpp) ---------------------------------------------------------------

/// The name of this host, as runs record it.
std::string thisHost();
/// "<boot id>:<process start ticks>" of this process: tells a live writer from a pid reused after a crash.
const std::string& ownToken();

/// Who writes a run, as its row says.
struct RunWriter {
  int64_t runId = 0;
  std::string name;
  std::string status;
  int64_t pid = 0;
  std::string host;
  std::string token;
  int64_t lastSeen = 0;  ///< Unix ms of its last write (heartbeat), or of its start
};
/// The columns readRunWriter reads, in its order; select them first.
inline constexpr const char* kRunWriterColumns =
    "id, name, status, pid, hostname, writer_token, max(started_at, updated_at)";
/// Reads a RunWriter from columns 0.. of a statement that selected kRunWriterColumns.
RunWriter readRunWriter(const Statement& q);

/// The one liveness rule. A run marked running keeps its writer while that writer may still write: a process
/// alive on this host (the same process, not a reused pid) that has not abandoned the run, or a writer on
/// another host heard from within the stale limit (its process cannot be checked from here).
class WriterLiveness {
 public:
  /// storeIdentity names the store file for the abandoned-run registry (see markAbandoned).
  WriterLiveness(std::string storeIdentity, std::chrono::milliseconds foreignHostStaleAfter);
  /// Why the writer of a running run is gone (the message an interrupted run keeps), nullopt while it lives.
  std::optional<std::string> goneReason(const RunWriter& writer) const;
  /// "pid 1234 on host 'name'", to name a writer in messages.
  static std::string describe(const RunWriter& writer);

 private:
  std::string m_identity;
  std::chrono::milliseconds m_staleAfter;
  std::string m_host;
  int64_t m_now;
};

/// The abandoned-run registry of this process: runs of the store `identity` that this process was writing and
/// could not close (RunStore::abandonRun). Liveness treats this process as gone for them, so any recovery in the
/// process marks them interrupted, and they can be resumed or deleted.
void markAbandoned(const std::string& identity, int64_t runId, const std::string& reason);
/// Removes a run from the registry and returns the reason it was there for (nullopt when it was not).
std::optional<std::string> takeAbandoned(const std::string& identity, int64_t runId);

}  // namespace rkd::store_detail
