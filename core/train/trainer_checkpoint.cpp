#include "core/train/trainer_checkpoint.h"

#include <map>

#include "core/common/errors.h"
#include "core/io/checkpoint.h"

namespace rkd {
namespace {

// Tensor map entry holding one double (checkpoint metadata).
torch::Tensor scalarTensor(double v) { return torch::tensor({v}, torch::kDouble); }

double scalarValue(const TensorMap& m, const std::string& key, const std::string& file) {
  auto it = m.find(key);
  if (it == m.end())
    throw InputError("checkpoint '" + file + "' has no '" + key + "' entry", "it was not written by this studio's trainer");
  return it->second.item<double>();
}

}  // namespace

void saveTrainerCheckpoint(TrainingStep& step, const TrainingPosition& position, int64_t seed,
                           const std::string& path) {
  TensorMap m;
  for (const auto& [k, v] : stateDict(*step.student())) m["model." + k] = v;
  if (!step.objective().head().is_empty())
    for (const auto& [k, v] : stateDict(*step.objective().head())) m["head." + k] = v;
  for (const auto& [k, v] : step.optimizer().state()) m["optim." + k] = v;
  m["meta.epoch"] = scalarTensor(static_cast<double>(position.epoch));
  m["meta.step_in_epoch"] = scalarTensor(static_cast<double>(position.stepInEpoch));
  m["meta.global_step"] = scalarTensor(static_cast<double>(position.globalStep));
  m["meta.best_top1"] = scalarTensor(position.bestTop1);
  m["meta.last_top1"] = scalarTensor(position.lastTop1);
  m["meta.epochs_done"] = scalarTensor(static_cast<double>(position.epochsDone));
  m["meta.epoch_loss_sum"] = scalarTensor(position.epochLossSum);
  m["meta.epoch_correct"] = scalarTensor(position.epochCorrect);
  m["meta.epoch_seen"] = scalarTensor(position.epochSeen);
  m["meta.seed"] = scalarTensor(static_cast<double>(seed));
  writeTensorFile(path, m);
}

TrainingPosition loadTrainerCheckpoint(TrainingStep& step, const std::string& path) {
  TensorMap m = readTensorFile(path);
  TensorMap model = withPrefix(m, "model.");
  loadStateDictStrict(*step.student(), model, path);
  if (!step.objective().head().is_empty()) loadStateDictStrict(*step.objective().head(), withPrefix(m, "head."), path);
  TensorMap optim = withPrefix(m, "optim.");
  step.optimizer().loadState(std::map<std::string, torch::Tensor>(optim.begin(), optim.end()));
  if (step.options().channelsLast) {
    convertToChannelsLast(*step.student());
    if (!step.objective().head().is_empty()) convertToChannelsLast(*step.objective().head());
  }
  TrainingPosition p;
  p.epoch = static_cast<int64_t>(scalarValue(m, "meta.epoch", path));
  p.stepInEpoch = static_cast<int64_t>(scalarValue(m, "meta.step_in_epoch", path));
  p.globalStep = static_cast<int64_t>(scalarValue(m, "meta.global_step", path));
  p.bestTop1 = scalarValue(m, "meta.best_top1", path);
  p.lastTop1 = scalarValue(m, "meta.last_top1", path);
  p.epochsDone = static_cast<int64_t>(scalarValue(m, "meta.epochs_done", path));
  p.epochLossSum = scalarValue(m, "meta.epoch_loss_sum", path);
  p.epochCorrect = scalarValue(m, "meta.epoch_correct", path);
  p.epochSeen = scalarValue(m, "meta.epoch_seen", path);
  return p;
}

}  // namespace rkd
