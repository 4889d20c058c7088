#include "core/train/job_channel.h"

#include <algorithm>
#include <map>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/distributed/data_parallel.h"
#include "core/train/trainer_checkpoint.h"
#include "core/train/training_step.h"

namespace rkd {
namespace {

std::string planKey(int64_t plan, const std::string& part) {
  return "rkd/plan/" + std::to_string(plan) + (part.empty() ? "" : "/" + part);
}

nlohmann::json positionJson(const TrainingPosition& p) {
  return {{"epoch", p.epoch}, {"step_in_epoch", p.stepInEpoch}, {"global_step", p.globalStep},
          {"best_top1", p.bestTop1}, {"last_top1", p.lastTop1}, {"epochs_done", p.epochsDone},
          {"loss_sum", p.epochLossSum}, {"correct", p.epochCorrect}, {"seen", p.epochSeen}};
}

TrainingPosition positionFromJson(const nlohmann::json& j) {
  TrainingPosition p;
  p.epoch = j.at("epoch");
  p.stepInEpoch = j.at("step_in_epoch");
  p.globalStep = j.at("global_step");
  p.bestTop1 = j.at("best_top1");
  p.lastTop1 = j.at("last_top1");
  p.epochsDone = j.at("epochs_done");
  p.epochLossSum = j.at("loss_sum");
  p.epochCorrect = j.at("correct");
  p.epochSeen = j.at("seen");
  return p;
}

}  // namespace

JobChannel::JobChannel(std::shared_ptr<dist::ProcessGroup> group) : m_group(std::move(group)) {}

std::string JobChannel::key(const std::string& part) const { return planKey(m_plan, part); }

std::vector<std::string> JobChannel::announce(const RunPlan& plan, const std::string& device) {
  m_plan = m_group->takeMessageNumber();
  const nlohmann::json j{{"config", toJson(plan.config)}, {"channels", plan.channels},
                         {"teacher_arch", plan.teacherArch}};
  m_group->publish(key(), j.dump());
  std::vector<std::string> devices(static_cast<size_t>(m_group->size()), device);
  std::string failures;
  for (int r = 1; r < m_group->size(); ++r) {
    const auto ready = nlohmann::json::parse(m_group->receive(key("ready/" + std::to_string(r))));
    if (ready.value("ok", false)) {
      devices[static_cast<size_t>(r)] = ready.value("device", "");
    } else {
      failures += (failures.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + ": " +
                  ready.value("error", std::string("unknown error"));
    }
  }
  m_group->publish(key("go"), failures.empty() ? "go" : "abort");
  if (!failures.empty())
    throw InputError("not every rank could prepare the run: " + failures,
                     "every rank needs the same dataset path and device kind; fix what the message names");
  return devices;
}

void JobChannel::announceFailure(const std::string& error) {
  if (announced()) return;
  m_plan = m_group->takeMessageNumber();
  m_group->publish(key(), nlohmann::json{{"error", error}}.dump());
}

void JobChannel::acknowledge(const std::string& device) {
  m_answered = true;
  m_group->publish(key("ready/" + std::to_string(m_group->rank())),
                   nlohmann::json{{"ok", true}, {"device", device}}.dump());
  if (m_group->receive(key("go")) != "go")
    throw InputError("rank 0 called the run off: another rank could not prepare it (rank 0 names it)");
}

void JobChannel::refuse(const std::string& error) {
  if (m_answered || !announced()) return;
  m_answered = true;
  m_group->publish(key("ready/" + std::to_string(m_group->rank())),
                   nlohmann::json{{"ok", false}, {"error", error}}.dump());
}

void JobChannel::syncState(TrainingStep& step, TrainingPosition& pos, bool loaded) {
  std::map<std::string, torch::Tensor> momentum = step.optimizer().state();
  if (m_group->primary()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& [name, t] : momentum) names.push_back(name);
    m_group->publish(key("state"),
                     nlohmann::json{{"position", positionJson(pos)}, {"momentum", names}, {"weights", loaded}}.dump());
  } else {
    const auto j = nlohmann::json::parse(m_group->receive(key("state")));
    if (j.contains("error")) throw InputError(j.at("error").get<std::string>());
    loaded = j.at("weights").get<bool>();
    pos = positionFromJson(j.at("position"));
    // The momentum buffers rank 0 has (none before the first step), as zeros to receive its values into.
    std::map<std::string, torch::Tensor> zeros;
    const auto& names = step.parameterNames();
    const auto params = step.optimizer().parameters();
    for (const auto& n : j.at("momentum")) {
      const auto it = std::find(names.begin(), names.end(), n.get<std::string>());
      if (it != names.end()) zeros[*it] = torch::zeros_like(params[static_cast<size_t>(it - names.begin())]);
    }
    step.optimizer().loadState(zeros);
    momentum = step.optimizer().state();
  }
  std::vector<torch::Tensor> tensors;
  if (loaded) {
    tensors = dist::stateTensors(*step.student());
    if (!step.objective().head().is_empty())
      for (auto& t : dist::stateTensors(*step.objective().head())) tensors.push_back(t);
  }
  for (auto& [name, t] : momentum) tensors.push_back(t);
  m_group->broadcast(tensors, 0);
}

void JobChannel::refuseState(const std::string& error) {
  if (m_group->primary() && announced()) m_group->publish(key("state"), nlohmann::json{{"error", error}}.dump());
}

JobChannel::Next JobChannel::receiveNext(std::shared_ptr<dist::ProcessGroup> group, JobChannel& channel) {
  channel = JobChannel(group);
  channel.m_plan = group->takeMessageNumber();
  auto j = nlohmann::json::parse(group->receive(channel.key()));
  Next next;
  if (j.contains("done")) {
    next.kind = Next::Kind::Done;
    next.exitCode = j.at("done").get<int>();
  } else if (j.contains("error")) {
    next.kind = Next::Kind::Skipped;
    next.error = j.at("error").get<std::string>();
  } else {
    next.kind = Next::Kind::Run;
    next.plan = std::move(j);
  }
  return next;
}

RunPlan JobChannel::readPlan(const nlohmann::json& plan) {
  RunPlan p;
  p.config = runConfigFromJson(plan.at("config"), "the run announced by rank 0");
  p.channels = plan.at("channels").get<int64_t>();
  p.teacherArch = plan.at("teacher_arch").get<std::string>();
  return p;
}

void JobChannel::endJob(dist::ProcessGroup& group, int exitCode) {
  try {
    group.publish(planKey(group.takeMessageNumber(), ""), nlohmann::json{{"done", exitCode}}.dump());
  } catch (const std::exception& e) {
    logger("core.train")->warn("could not tell the other ranks that the job ended: {}", e.what());
  }
}

}  // namespace rkd
