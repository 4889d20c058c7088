#include "core/train/trainer_checkpoint.h"

#include <cmath>

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
  if (it->second.numel() != 1)
    throw InputError("checkpoint '" + file + "': '" + key + "' holds " + std::to_string(it->second.numel()) +
                         " values, not one", "the file was damaged or edited; resume from another checkpoint");
  const double v = it->second.item<double>();
  if (!std::isfinite(v))
    throw InputError("checkpoint '" + file + "': '" + key + "' is " + (std::isnan(v) ? "NaN" : "infinite"),
                     "the file was damaged or edited; resume from another checkpoint or start the run again");
  return v;
}

// A count of the position (epoch, steps): a whole number from 0 to 2^53.
int64_t countValue(const TensorMap& m, const std::string& key, const std::string& file) {
  const double v = scalarValue(m, key, file);
  if (v < 0 || v > 9007199254740992.0 || std::floor(v) != v)
    throw InputError("checkpoint '" + file + "': '" + key + "' is " + std::to_string(v) + ", not a count",
                     "the file was damaged or edited; resume from another checkpoint or start the run again");
  return static_cast<int64_t>(v);
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
  p.epoch = countValue(m, "meta.epoch", path);
  p.stepInEpoch = countValue(m, "meta.step_in_epoch", path);
  p.globalStep = countValue(m, "meta.global_step", path);
  p.bestTop1 = scalarValue(m, "meta.best_top1", path);
  p.lastTop1 = scalarValue(m, "meta.last_top1", path);
  p.epochsDone = countValue(m, "meta.epochs_done", path);
  p.epochLossSum = scalarValue(m, "meta.epoch_loss_sum", path);
  p.epochCorrect = scalarValue(m, "meta.epoch_correct", path);
  p.epochSeen = scalarValue(m, "meta.epoch_seen", path);
  return p;
}

}  // namespace rkd
