#include "core/train/teacher_loader.h"

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/models/zoo_match.h"
#include "core/train/trainer_checkpoint.h"

namespace rkd {

TeacherLoader::TeacherLoader(RunStore& store, TeacherSource& teacher, const std::string& method)
    : m_arch(teacher.arch), m_file(teacher.checkpoint) {
  if (teacher.run <= 0 && m_file.empty())
    throw InputError("method " + method + " needs a teacher, and the config names none",
                     "set teacher.run to a finished teacher run (reviewkd runs list --kind teacher) or "
                     "teacher.checkpoint to a PyTorch or studio checkpoint file");
  if (teacher.run > 0) {
    auto rec = store.getRun(teacher.run);
    if (!rec)
      throw InputError("teacher.run " + std::to_string(teacher.run) + " does not exist in " + store.path(),
                       "list finished teacher runs with: reviewkd runs list --kind teacher");
    if (rec->status != RunStatus::Finished && rec->status != RunStatus::Stopped)
      throw InputError("teacher run " + std::to_string(rec->id) + " is " + toString(rec->status),
                       "pick a finished (or stopped) teacher run, or resume this one first");
    if (m_arch.empty()) m_arch = rec->studentArch;
    if (m_arch != rec->studentArch)
      throw InputError("teacher.arch is " + m_arch + " but teacher run " + std::to_string(rec->id) + " trained " +
                           rec->studentArch,
                       "leave teacher.arch empty or set it to " + rec->studentArch);
    m_file = store.checkpointPath(rec->id, CheckpointKind::Best);
    if (m_file.empty()) m_file = store.checkpointPath(rec->id, CheckpointKind::Last);
    if (m_file.empty())
      throw InputError("teacher run " + std::to_string(rec->id) + " has no checkpoint", "train the teacher again");
    checkCheckpointOwner(m_file, CheckpointOwner{store.storeId(), rec->id, rec->studentArch});
    teacher.arch = m_arch;
  }
  m_weights = readStateDict(m_file);
}

int64_t TeacherLoader::autoInputChannels(const DataConfig& data) const {
  if (data.channels != "auto") return 0;
  // A teacher trained on grey images replicated to RGB (or the other way) decides the input channels.
  const int64_t wanted = inputChannelsFor(m_weights.tensors, m_arch);
  return wanted == 1 || wanted == 3 ? wanted : 0;
}

Backbone TeacherLoader::load(int64_t numClasses, int64_t inChannels) const {
  Backbone teacher = createBackbone({m_arch, numClasses, inChannels});
  LoadReport report = loadStateDict(*teacher, m_weights.tensors);
  std::string notes;
  for (const auto& c : m_weights.conversions) notes += ", " + c;
  logger("core.io")->info("imported '{}' ({} format, {}{}{}): {}", m_file, m_weights.format, m_weights.layout,
                          m_weights.strippedModulePrefix ? ", 'module.' prefix stripped" : "", notes,
                          report.describe());
  if (!report.ok()) {
    const std::string fit = zooFitSentence(m_weights.tensors);
    throw InputError("teacher checkpoint '" + m_file + "' does not fit " + m_arch + " with " +
                         std::to_string(numClasses) + " classes and " + std::to_string(inChannels) +
                         " input channels: " + report.describe() + (fit.empty() ? "" : "\n" + fit),
                     fit.rfind("it fits ", 0) == 0
                         ? "set the teacher's network (teacher.arch) and the dataset to what the file fits"
                         : "pick the teacher's network and the dataset it was trained on");
  }
  return teacher;
}

std::string weakTeacherWarning(RunStore& store, const RunConfig& config) {
  if (config.teacher.run <= 0) return "";
  auto teacher = store.getRun(config.teacher.run);
  if (!teacher || !teacher->bestTop1) return "";
  RunFilter f;
  f.studentArch = config.student;
  f.status = RunStatus::Finished;
  for (const auto& r : store.listRuns(f)) {
    if (r.method != "student-alone" || r.dataset != config.data.kind || !r.bestTop1) continue;
    if (*r.bestTop1 >= *teacher->bestTop1)
      return "warning: teacher run " + std::to_string(teacher->id) + " (best top-1 " +
             std::to_string(*teacher->bestTop1) + ") is not above the student alone (run " + std::to_string(r.id) +
             ", " + std::to_string(*r.bestTop1) + "): distillation is likely to pull the student down";
  }
  return "";
}

}  // namespace rkd
