#include "core/train/trainer_checkpoint.h"

#include <cmath>

#include <cstring>
#include <map>
#include <optional>

#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/io/checkpoint.h"
#include "core/io/tensor_file.h"

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

// Text in a tensor map: its bytes as a uint8 tensor (torch.save keeps it; Python reads it with bytes(t.tolist())).
torch::Tensor textTensor(const std::string& text) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  if (!text.empty()) std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}

std::optional<std::string> textValue(const TensorMap& m, const std::string& key, const std::string& file) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  const torch::Tensor& t = it->second;
  if (t.scalar_type() != torch::kUInt8 || t.dim() != 1 || t.numel() > 256)
    throw InputError("checkpoint '" + file + "': '" + key + "' is not a short text (a 1-D uint8 tensor)",
                     "the file was damaged or edited; resume from another checkpoint");
  const torch::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()));
}

}  // namespace

void checkCheckpointOwner(const TensorMap& m, const std::string& path, const CheckpointOwner& expected) {
  const std::optional<std::string> store = textValue(m, "meta.store_id", path);
  if (!store) {
    logger("core.train")->warn("checkpoint '{}' does not say which store and run it belongs to (written before "
                               "ReviewKD Studio recorded it); loading it for run {}", path, expected.runId);
    return;
  }
  const std::string network = textValue(m, "meta.network", path).value_or("");
  const int64_t run = countValue(m, "meta.run_id", path);
  std::string wrong;
  if (*store != expected.storeId)
    wrong = "it was written by another run store (store id " + *store + ", this store's is " + expected.storeId + ")";
  else if (run != expected.runId)
    wrong = "it belongs to run " + std::to_string(run) + ", not run " + std::to_string(expected.runId);
  else if (network != expected.network)
    wrong = "it holds a " + network + ", but run " + std::to_string(expected.runId) + " trains a " + expected.network;
  if (!wrong.empty())
    throw InputError("checkpoint '" + path + "' is not run " + std::to_string(expected.runId) + "'s: " + wrong,
                     "its run folder was overwritten or copied from elsewhere; restore the run's own checkpoint, "
                     "or start the run again");
}

void checkCheckpointOwner(const std::string& path, const CheckpointOwner& expected) {
  checkCheckpointOwner(readTensorFile(path), path, expected);
}

void saveTrainerCheckpoint(TrainingStep& step, const TrainingPosition& position, int64_t seed,
                           const CheckpointOwner& owner, const std::string& path) {
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
  m["meta.store_id"] = textTensor(owner.storeId);
  m["meta.run_id"] = scalarTensor(static_cast<double>(owner.runId));
  m["meta.network"] = textTensor(owner.network);
  writeTensorFile(path, m);
}

TrainingPosition loadTrainerCheckpoint(TrainingStep& step, const CheckpointOwner& owner, const std::string& path) {
  TensorMap m = readTensorFile(path);
  checkCheckpointOwner(m, path, owner);
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
