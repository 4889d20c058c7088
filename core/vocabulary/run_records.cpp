#include "core/vocabulary/run_records.h"

#include <chrono>

#include "core/common/errors.h"

namespace rkd {
namespace {

template <typename Enum, size_t N>
Enum parseEnum(const std::string& text, const char* what, const std::pair<const char*, Enum> (&table)[N]) {
  std::string allowed;
  for (const auto& [name, value] : table) {
    if (text == name) return value;
    allowed += allowed.empty() ? "" : ", ";
    allowed += name;
  }
  throw InputError("unknown " + std::string(what) + " '" + text + "'", "Use one of: " + allowed + ".");
}

const std::pair<const char*, RunKind> kKinds[] = {{"teacher", RunKind::Teacher}, {"student", RunKind::Student}};
const std::pair<const char*, RunStatus> kStatuses[] = {
    {"running", RunStatus::Running}, {"finished", RunStatus::Finished},       {"stopped", RunStatus::Stopped},
    {"failed", RunStatus::Failed},   {"diverged", RunStatus::Diverged},       {"interrupted", RunStatus::Interrupted}};
const std::pair<const char*, CheckpointKind> kCheckpointKinds[] = {
    {"last", CheckpointKind::Last}, {"best", CheckpointKind::Best}, {"epoch", CheckpointKind::Epoch}};

template <typename Enum, size_t N>
std::string enumName(Enum e, const std::pair<const char*, Enum> (&table)[N]) {
  for (const auto& [name, value] : table)
    if (value == e) return name;
  return "unknown";
}

}  // namespace

std::string toString(RunKind kind) { return enumName(kind, kKinds); }
std::string toString(RunStatus status) { return enumName(status, kStatuses); }
std::string toString(CheckpointKind kind) { return enumName(kind, kCheckpointKinds); }
RunKind runKindFromString(const std::string& text) { return parseEnum(text, "run kind", kKinds); }
RunStatus runStatusFromString(const std::string& text) { return parseEnum(text, "run status", kStatuses); }
CheckpointKind checkpointKindFromString(const std::string& text) {
  return parseEnum(text, "checkpoint kind", kCheckpointKinds);
}

int64_t nowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace rkd
