#include "core/services/catalog.h"
#include "core/services/training_service.h"

#include <algorithm>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/common/version.h"
#include "core/models/backbone.h"
#include "core/store/run_store.h"
#include "core/distributed/environment.h"
#include "core/distributed/process_group.h"
#include "core/runtime/device.h"
#include "core/runtime/threads.h"
#include "core/train/trainer.h"

namespace rkd::services {

// --- teachers -------------------------------------------------------------------------------------------------

RunConfig teacherRecipe(const RunConfig& student) {
  RunConfig teacher;
  const Preset* match = nullptr;
  // The first preset whose teacher is this network, on the student's dataset kind when one is.
  for (const auto& p : presets())
    if (!match && p.teacher.student == student.teacher.arch && p.teacher.data.kind == student.data.kind) match = &p;
  for (const auto& p : presets())
    if (!match && p.teacher.student == student.teacher.arch) match = &p;
  if (match) {
    teacher = match->teacher;
    teacher.data.kind = student.data.kind;
    teacher.data.path = student.data.path;
    teacher.data.padTo = student.data.padTo;
    teacher.data.imageSize = student.data.imageSize;
    teacher.data.channels = student.data.channels;
  } else {
    teacher = student;
    teacher.kind = "teacher";
    teacher.method = "ce";
    teacher.student = student.teacher.arch;
    teacher.teacher = TeacherSource{};
    teacher.kdWeight = 0;
    teacher.ceWeight = 1;
    teacher.snapshotEvery = 0;
  }
  teacher.name.clear();
  teacher.device = student.device;
  teacher.threads = student.threads;
  return teacher;
}

namespace {

// The newest finished teacher run trained with exactly this config (its name aside).
std::optional<int64_t> findFinishedTeacher(RunStore& store, const RunConfig& teacherConfig) {
  nlohmann::json want = toJson(teacherConfig);
  want.erase("name");
  RunFilter f;
  f.kind = RunKind::Teacher;
  f.status = RunStatus::Finished;
  f.studentArch = teacherConfig.student;
  for (const auto& r : store.listRuns(f)) {
    auto rec = store.getRun(r.id);
    if (!rec) continue;
    // Compared through the field table, so a run recorded before a field existed matches with its default.
    nlohmann::json have;
    try {
      have = toJson(runConfigFromJson(rec->config, "run " + std::to_string(r.id) + " config"));
    } catch (const std::exception&) {
      continue;
    }
    have.erase("name");
    if (have == want) return r.id;
  }
  return std::nullopt;
}

}  // namespace

// --- training -------------------------------------------------------------------------------------------------

TrainingService::TrainingService(std::string storePath) : m_storePath(std::move(storePath)) {}
TrainingService::~TrainingService() = default;

void TrainingService::requestStop() { m_stop.store(true); }
bool TrainingService::stopRequested() const { return m_stop.load(); }
void TrainingService::clearStop() { m_stop.store(false); }
void TrainingService::setProbeIndex(int64_t index) { m_probe.store(std::max<int64_t>(0, index)); }
int64_t TrainingService::probeIndex() const { return m_probe.load(); }

namespace {

RunOutcome failedOutcome(const std::string& message) {
  RunOutcome o;
  o.status = RunStatus::Failed;
  o.message = message;
  return o;
}

// Runs `body`; any exception becomes a failed outcome with its message (bad input flagged as such). The body
// returns a RunOutcome, or an optional one (provideTeacher).
template <typename F>
auto guardedRun(F&& body) -> decltype(body()) {
  ErrorReport report;
  try {
    return body();
  } catch (...) {
    report = describeCurrentError();
  }
  logger("core.services")->error("{}", report.full());
  RunOutcome failed = failedOutcome(report.full());
  failed.badInput = report.badInput();
  if (report.exitCode != kExitRunFailed) failed.refusedWith = report.exitCode;
  return failed;
}

TeacherPlan planTeacherIn(RunStore& store, const RunConfig& student) {
  TeacherPlan plan;
  if (student.kind != "student" || student.method == "student-alone") {
    plan.description = "no teacher needed";
    return plan;
  }
  if (student.teacher.run > 0) {
    plan.source = TeacherPlan::Source::Run;
    plan.run = student.teacher.run;
    plan.description = "teacher run " + std::to_string(plan.run);
    return plan;
  }
  if (!student.teacher.checkpoint.empty()) {
    plan.source = TeacherPlan::Source::Checkpoint;
    plan.checkpoint = student.teacher.checkpoint;
    plan.description = "teacher checkpoint " + plan.checkpoint;
    return plan;
  }
  // Names first: a teacher that cannot exist must not start a teacher run.
  student.validate();
  for (const auto& [field, name] : {std::pair<std::string, std::string>{"teacher.arch", student.teacher.arch},
                                    {"student", student.student}})
    if (!findZooEntry(name)) {
      std::string names;
      for (const auto& e : zooEntries()) names += (names.empty() ? "" : ", ") + e.name;
      throw InputError(field + " '" + name + "' is not a network of the zoo", "use one of: " + names);
    }
  plan.recipe = teacherRecipe(student);
  plan.recipe.validate();
  if (auto id = findFinishedTeacher(store, plan.recipe)) {
    plan.source = TeacherPlan::Source::Reuse;
    plan.run = *id;
    plan.description = "reusing finished teacher run " + std::to_string(*id) + " (" + plan.recipe.summary() + ")";
  } else {
    plan.source = TeacherPlan::Source::Train;
    plan.description = "no finished " + plan.recipe.student + " teacher yet: training it first (" +
                       plan.recipe.summary() + ")";
  }
  return plan;
}

}  // namespace

TeacherPlan TrainingService::planTeacher(const RunConfig& student) {
  RunStore store(m_storePath);
  return planTeacherIn(store, student);
}

namespace {

// Resolves the student's teacher in `store`, training it first when the plan says so, and writes it into
// student.teacher.run. An outcome when the student must not start (the teacher run did not finish, or a stop
// was asked for). Throws for bad input.
std::optional<RunOutcome> provideTeacherIn(RunStore& store, RunConfig& student, const TrainerCallbacks& callbacks,
                                           std::atomic<bool>& stop, std::atomic<int64_t>& probe) {
  const TeacherPlan plan = planTeacherIn(store, student);
  if (plan.source != TeacherPlan::Source::Reuse && plan.source != TeacherPlan::Source::Train) return std::nullopt;
  if (callbacks.onStatus) callbacks.onStatus(plan.description);
  if (plan.source == TeacherPlan::Source::Reuse) {
    student.teacher.run = plan.run;
    return std::nullopt;
  }
  Trainer trainer(store, callbacks, &stop);
  trainer.setProbe(&probe);
  const RunOutcome t = trainer.start(plan.recipe);
  if (t.status != RunStatus::Finished) {
    RunOutcome o = t;
    o.message = "the teacher run " + std::to_string(t.runId) + " ended " + t.statusText() +
                (t.message.empty() ? "" : ": " + t.message) + "; the student was not started";
    return o;
  }
  if (stop.load()) return t;
  student.teacher.run = t.runId;
  return std::nullopt;
}

}  // namespace

std::optional<RunOutcome> TrainingService::provideTeacher(RunConfig& student, const TrainerCallbacks& callbacks) {
  return guardedRun([&]() -> std::optional<RunOutcome> {
    RunStore store(m_storePath);
    return provideTeacherIn(store, student, callbacks, m_stop, m_probe);
  });
}

// One store connection for the teacher and the student.
RunOutcome TrainingService::start(RunConfig config, const TrainerCallbacks& callbacks) {
  return guardedRun([&] {
    RunStore store(m_storePath);
    if (auto stopped = provideTeacherIn(store, config, callbacks, m_stop, m_probe)) return *stopped;
    config.validate();
    Trainer trainer(store, callbacks, &m_stop);
    trainer.setProbe(&m_probe);
    return trainer.start(config);
  });
}

RunOutcome TrainingService::resume(int64_t runId, int64_t epochs, const TrainerCallbacks& callbacks) {
  return guardedRun([&] {
    RunStore store(m_storePath);
    Trainer trainer(store, callbacks, &m_stop);
    trainer.setProbe(&m_probe);
    return trainer.resume(runId, epochs);
  });
}

void prepareProcess() { retainFreedMemory(); }

DistributedRole joinDistributedJob() {
  DistributedRole role;
  const std::optional<dist::Environment> env = dist::readEnvironment();
  if (!env) return role;
  dist::setCurrent(dist::ProcessGroup::join(*env));
  role.distributed = true;
  role.primary = env->primary();
  role.rank = env->rank;
  role.worldSize = env->worldSize;
  logger("core.train")->info("joined a distributed job as rank {} of {}", env->rank, env->worldSize);
  return role;
}

int followDistributedJob(const std::atomic<bool>* stop) { return rkd::followDistributedJob(stop); }

void endDistributedJob(int exitCode) { rkd::endDistributedJob(exitCode); }

std::string versionText(const std::string& program) {
  return program + " " + buildVersion() + " (LibTorch " + torchVersion() + ")";
}

}  // namespace rkd::services
