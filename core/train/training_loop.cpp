// The training loop: from the run's position to the end of its epochs, a stop request or a divergence. It
// trains, evaluates, writes the run folder's files (checkpoints, the latest feature snapshot) and tells its
// observers what happened; what reaches the store is the recorder's business (run_recorder.cpp).
#include <cmath>
#include <filesystem>

#include "core/common/files.h"
#include "core/common/logging.h"
#include "core/common/memory.h"
#include "core/runtime/device.h"
#include "core/train/trainer_run.h"
#include "core/vocabulary/snapshot_codec.h"

namespace rkd {
namespace fs = std::filesystem;

std::string Trainer::Impl::saveCheckpoint(const std::string& name) {
  const std::string dir = owner.checkpointDir(runId);
  fs::create_directories(dir);
  const std::string path = dir + "/" + name + ".pt";
  saveTrainerCheckpoint(*step, pos, config.seed, checkpointOwner(), path);
  return path;
}

// Rank 0: the probe image through the networks; the latest snapshot is also kept beside the checkpoints, so a
// studio following the run from the store shows it (a failed write costs the follower a picture, nothing else).
void Trainer::Impl::snapshot() {
  if (!primary() || !probe->available()) return;
  const int64_t wanted = owner.m_probe ? owner.m_probe->load() : 0;
  std::optional<FeatureSnapshot> s = probe->take(wanted, runId, static_cast<int>(pos.epoch), pos.globalStep);
  if (!s) return;
  lastProbe = wanted;
  try {
    const std::string dir = owner.checkpointDir(runId);
    fs::create_directories(dir);
    const std::string bytes = encodeSnapshot(*s);
    writeFileAtomically(dir + "/" + kSnapshotFileName, bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    logger("core.train")->warn("run {}: the feature snapshot could not be saved: {}", runId, e.what());
  }
  notify([&](LoopObserver& o) { o.snapshotTaken(*s); });
}

RunOutcome Trainer::Impl::finish(RunStatus st, const std::string& message) {
  RunOutcome o;
  o.runId = runId;
  o.status = st;
  o.message = message;
  o.epochsDone = static_cast<int>(pos.epochsDone);
  o.bestTop1 = pos.bestTop1;
  o.lastTop1 = pos.lastTop1;
  o.seconds = secondsSince(started);
  if (!primary() || !recorder) return o;  // rank 0 records the run's end
  if (const std::optional<std::string> storeError = recorder->close(st, message)) {
    // This process gives the run up, so that it ends interrupted (now, or at the next open, recovery or resume)
    // and stays resumable. The outcome says why the run ended first, then why it could not be closed.
    const bool marked = recorder->abandon(*storeError);
    if (st == RunStatus::Finished || st == RunStatus::Stopped) o.status = RunStatus::Failed;
    const std::string resumeHint = "reviewkd resume " + std::to_string(runId);
    o.message = (message.empty() ? "the run " + toString(st) : message) +
                "\nthe run could not be closed in the run store: " + *storeError + "\nit " +
                (marked ? "is marked interrupted" : "will show as interrupted once the store can be written") +
                (message.find(resumeHint) == std::string::npos ? "; resume it with: " + resumeHint : "");
  }
  status("run " + std::to_string(runId) + " " + toString(o.status) + (o.message.empty() ? "" : ": " + o.message));
  return o;
}

// One step whose scalars were read (v points at them): divergence check, epoch sums, throughput, and the step
// event. Returns the outcome when the loss is not finite.
std::optional<RunOutcome> Trainer::Impl::report(const PendingStep& q, const double* v, double lr, int64_t perEpoch,
                                                int64_t totalSteps, int64_t stepsAtStart,
                                                TrainerClock::time_point& rateMark, int64_t& rateImages) {
  const double loss = v[0];
  const int ep = static_cast<int>(q.epoch);
  if (!std::isfinite(loss)) {
    const std::string msg = "loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at epoch " +
                            std::to_string(q.epoch) + ", step " + std::to_string(q.stepInEpoch) + " (global step " +
                            std::to_string(q.globalStep) + "); lower optim.lr or review.weight";
    notify([&](LoopObserver& o) { o.diverged(ep, q.globalStep, loss); });
    return finish(RunStatus::Diverged, msg);
  }
  const int64_t n = q.images;
  pos.epochLossSum += loss * static_cast<double>(n);
  pos.epochCorrect += v[4];
  pos.epochSeen += static_cast<double>(n);
  rateImages += n;
  const double dt = secondsSince(rateMark);
  if (dt > 0.5) {
    const double rate = static_cast<double>(rateImages) / dt;
    smoothedImagesPerSecond = smoothedImagesPerSecond == 0 ? rate : 0.7 * smoothedImagesPerSecond + 0.3 * rate;
    rateMark = TrainerClock::now();
    rateImages = 0;
  }
  const int64_t epochs = config.optim.epochs;
  StepProgress p;
  p.runId = runId;
  p.epoch = ep;
  p.epochs = static_cast<int>(epochs);
  p.step = q.globalStep;
  p.stepInEpoch = q.stepInEpoch;
  p.stepsPerEpoch = perEpoch;
  p.loss = loss;
  p.ce = v[1];
  p.review = v[2];
  p.kd = v[3];
  p.reviewFactor = q.reviewFactor;
  p.levelLosses.assign(v + 5, v + q.values.size(0));
  p.levelLabels = q.levelLabels;
  p.lr = lr;
  p.imagesPerSecond = smoothedImagesPerSecond;
  const double done = static_cast<double>(q.globalStep + 1 - stepsAtStart);
  const double elapsed = secondsSince(started);
  const double remainingSteps = static_cast<double>(totalSteps - q.globalStep - 1);
  p.etaSeconds = done > 0 ? elapsed / done * remainingSteps + evalSeconds * static_cast<double>(epochs - q.epoch - 1) : 0;
  const StepEvent event{p, q.logReview, step->objective().settings().kdWeight > 0};
  notify([&](LoopObserver& o) { o.stepDone(event); });
  return std::nullopt;
}

// A step's scalars stay on the device until `readEvery` steps have queued up (or a snapshot, a stop or the
// epoch's end needs them): then one device-to-host copy reads them all. On a GPU this keeps the launch queue full
// instead of synchronising after every step.
std::optional<RunOutcome> Trainer::Impl::drain(double lr, int64_t perEpoch, int64_t totalSteps, int64_t stepsAtStart,
                                               TrainerClock::time_point& rateMark, int64_t& rateImages) {
  if (pending.empty()) return std::nullopt;
  std::vector<torch::Tensor> all;
  for (const auto& q : pending) all.push_back(q.values);
  torch::Tensor host;
  if (group) {
    // One all-reduce for the queued steps' scalars and the stop requests: every rank then reports the global
    // batch's loss and stops at the same step.
    all.push_back(torch::full({1}, stopRequested() ? 1.0 : 0.0, all.front().options()));
    torch::Tensor summed = torch::cat(all);
    group->allReduceSum(summed);
    host = summed.cpu();
    collectiveStop = host[host.size(0) - 1].item<double>() > 0;
    const double w = static_cast<double>(worldSize());
    int64_t at = 0;
    for (auto& q : pending) {
      // Means of the loss parts over the ranks; index 4 (correct predictions) stays a sum.
      auto row = host.narrow(0, at, q.values.size(0));
      row.div_(w);
      row[4].mul_(w);
      q.images *= worldSize();
      at += q.values.size(0);
    }
  } else {
    host = torch::cat(all).cpu();
  }
  const double* v = host.data_ptr<double>();
  std::vector<PendingStep> steps;
  std::swap(steps, pending);
  for (const auto& q : steps) {
    if (auto diverged = report(q, v, lr, perEpoch, totalSteps, stepsAtStart, rateMark, rateImages)) return diverged;
    v += q.values.size(0);
  }
  return std::nullopt;
}

// The step just run, queued with its scalars still on the device: total, ce, review, kd, correct predictions,
// then the level losses, as one double tensor.
void Trainer::Impl::queueStep(const LossParts& parts, const Batch& batch) {
  const auto scalar = [&](const torch::Tensor& t) {
    return t.defined() ? t.detach().reshape({}).to(torch::kDouble)
                       : torch::zeros({}, parts.total.options().dtype(torch::kDouble));
  };
  std::vector<torch::Tensor> values{scalar(parts.total), scalar(parts.ce), scalar(parts.review), scalar(parts.kd),
                                    scalar(step->lastLogits().argmax(1).eq(batch.labels).sum())};
  for (const auto& l : parts.levelLosses) values.push_back(scalar(l));
  PendingStep q;
  q.values = torch::stack(values);
  q.images = batch.labels.size(0);
  q.epoch = pos.epoch;
  q.stepInEpoch = pos.stepInEpoch;
  q.globalStep = pos.globalStep;
  q.reviewFactor = parts.reviewFactor;
  q.levelLabels = parts.levelLabels;
  q.logReview = parts.review.defined() && step->objective().settings().method == Method::ReviewKD;
  pending.push_back(std::move(q));
}

// The finished epoch: evaluation, the position after it in last.pt (and best.pt when it improved), the events.
// Returns the outcome when a stop was asked for during it and epochs remain.
std::optional<RunOutcome> Trainer::Impl::endEpoch(double lr, TrainerClock::time_point epochStart) {
  const int64_t epochs = config.optim.epochs;
  const TrainerClock::time_point evalStart = TrainerClock::now();
  const bool lastEpoch = pos.epoch + 1 == epochs;
  Evaluation test = evaluateStudent(*step, splits.test, splits.normalization, lastEpoch);
  Evaluation val = evaluateStudent(*step, splits.val, splits.normalization, false);
  evalSeconds = secondsSince(evalStart);
  pos.lastTop1 = test.top1;
  const bool improved = pos.epochsDone == 0 || test.top1 > pos.bestTop1;
  if (improved) pos.bestTop1 = test.top1;
  ++pos.epochsDone;
  EpochProgress ep;
  ep.runId = runId;
  ep.epoch = static_cast<int>(pos.epoch);
  ep.epochs = static_cast<int>(epochs);
  ep.trainLoss = pos.epochSeen > 0 ? pos.epochLossSum / pos.epochSeen : 0;
  ep.trainTop1 = pos.epochSeen > 0 ? 100.0 * pos.epochCorrect / pos.epochSeen : 0;
  ep.testLoss = test.loss;
  ep.testTop1 = test.top1;
  ep.testTop5 = test.top5;
  ep.valTop1 = splits.val.size() > 0 ? val.top1 : -1;
  ep.bestTop1 = pos.bestTop1;
  ep.lr = lr;
  ep.seconds = secondsSince(epochStart);
  notify([&](LoopObserver& o) { o.epochEvaluated(ep); });
  // The checkpoint holds the position *after* this epoch; the store records the epoch after that.
  const int e = ep.epoch;
  ++pos.epoch;
  pos.stepInEpoch = 0;
  pos.epochLossSum = pos.epochCorrect = pos.epochSeen = 0;
  if (primary()) {
    EpochEvent done{ep, pos.epochsDone, saveCheckpoint("last"), "", {}};
    if (improved) {
      done.bestCheckpoint = owner.checkpointDir(runId) + "/best.pt";
      fs::copy_file(done.lastCheckpoint, done.bestCheckpoint + ".tmp", fs::copy_options::overwrite_existing);
      fs::rename(done.bestCheckpoint + ".tmp", done.bestCheckpoint);
    }
    if (lastEpoch) {
      for (size_t c = 0; c < test.classTotal.size(); ++c) {
        ClassAccuracy a;
        a.classIndex = static_cast<int>(c);
        a.className = c < splits.test.classNames.size() ? splits.test.classNames[c] : std::to_string(c);
        a.accuracy = test.classTotal[c] > 0
                         ? 100.0 * static_cast<double>(test.classCorrect[c]) / static_cast<double>(test.classTotal[c])
                         : 0;
        done.classes.push_back(a);
      }
    }
    notify([&](LoopObserver& o) { o.epochDone(done); });
  }
  if ((group ? collectiveStop : stopRequested()) && pos.epoch < epochs)
    return finish(RunStatus::Stopped, "stopped on request after epoch " + std::to_string(e) +
                                          "; resume with: reviewkd resume " + std::to_string(runId));
  return std::nullopt;
}

RunOutcome Trainer::Impl::loop() {
  const int64_t epochs = config.optim.epochs;
  const int64_t perEpoch = trainLoader->batchesPerEpoch();
  const int64_t totalSteps = epochs * perEpoch;
  TrainerClock::time_point rateMark = TrainerClock::now();
  int64_t rateImages = 0;
  const int64_t stepsAtStart = pos.globalStep;
  status("training " + config.summary() + " on " + deviceText(device) + ", " + std::to_string(perEpoch) +
         " steps per epoch");
  while (pos.epoch < epochs) {
    const TrainerClock::time_point epochStart = TrainerClock::now();
    const double lr = scheduledLr(config.optim, pos.epoch);
    step->optimizer().setLr(lr);
    trainLoader->startEpoch(pos.epoch);
    Batch batch;
    for (int64_t skip = 0; skip < pos.stepInEpoch; ++skip) trainLoader->next(batch);  // resume mid-epoch
    if (pos.stepInEpoch == 0) pos.epochLossSum = pos.epochCorrect = pos.epochSeen = 0;
    const auto drainNow = [&] { return drain(lr, perEpoch, totalSteps, stepsAtStart, rateMark, rateImages); };
    while (trainLoader->next(batch)) {
      queueStep(step->run(batch.images, batch.labels, static_cast<int>(pos.epoch)), batch);
      ++pos.stepInEpoch;
      ++pos.globalStep;
      const bool probeMoved = owner.m_probe && owner.m_probe->load() != lastProbe;
      const bool snapshotDue = config.snapshotEvery > 0 && (pos.globalStep % config.snapshotEvery == 0 || probeMoved);
      // Several processes drain at the same steps on every rank (the drain is a collective).
      if (static_cast<int64_t>(pending.size()) >= readEvery || (!group && (snapshotDue || stopRequested())))
        if (auto diverged = drainNow()) return *diverged;
      if (snapshotDue) snapshot();
      // Read again: a step callback that just ran may have asked to stop at this step.
      if (group ? collectiveStop : stopRequested()) {
        if (auto diverged = drainNow()) return *diverged;
        if (primary()) {
          const std::string path = saveCheckpoint("last");
          notify([&](LoopObserver& o) { o.stoppedMidEpoch(static_cast<int>(pos.epoch), path); });
        }
        return finish(RunStatus::Stopped, "stopped on request at epoch " + std::to_string(pos.epoch) + ", step " +
                                              std::to_string(pos.stepInEpoch) + "; resume with: reviewkd resume " +
                                              std::to_string(runId));
      }
    }
    if (auto diverged = drainNow()) return *diverged;
    if (auto stopped = endEpoch(lr, epochStart)) return *stopped;
  }
  return finish(RunStatus::Finished, "");
}

RunOutcome Trainer::Impl::guardedLoop() {
  try {
    return loop();
  } catch (const dist::CollectiveError& e) {
    // Another rank is gone: the run ends interrupted (resumable), naming the rank when rank 0 can tell.
    const std::string report = group->failureReport(e.what());
    return finish(RunStatus::Interrupted, "the distributed job lost a process: " + report + " (" + e.what() +
                                              "); resume with: reviewkd resume " + std::to_string(runId) +
                                              " under the same launch");
  } catch (const std::exception& e) {
    if (const std::optional<uint64_t> bytes = failedAllocation(e))
      return finish(RunStatus::Failed,
                    outOfMemory(config, *bytes, e, "at epoch " + std::to_string(pos.epoch + 1) + ", step " +
                                                       std::to_string(pos.stepInEpoch + 1)).full());
    return finish(RunStatus::Failed, describeError(e).full());  // the one boundary's message
  }
}

}  // namespace rkd
