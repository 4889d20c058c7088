#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/common/memory.h"
#include "core/services/snapshot_codec.h"
#include "core/common/logging.h"
#include "core/common/version.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/dist/process_group.h"
#include "core/models/generator_scope.h"
#include "core/train/device.h"
#include "core/train/feature_probe.h"
#include "core/train/run_setup.h"
#include "core/train/teacher_loader.h"
#include "core/train/threads.h"
#include "core/train/trainer_checkpoint.h"
#include "core/train/training_step.h"

namespace rkd {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Messages of a distributed job go through the rendezvous store under numbered keys; every rank counts the
// plans it sent or received, so rank 0 and the followers always agree on the next key.
int64_t g_planCount = 0;
std::string planKey(int64_t plan, const std::string& part = "") {
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

double scheduledLr(const OptimConfig& optim, int64_t epoch) {
  if (optim.schedule == "cosine")
    return optim.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(optim.epochs)));
  double lr = optim.lr;
  for (int64_t m : optim.milestones)
    if (epoch > m) lr *= optim.gamma;
  return lr;
}

// Everything one run needs while it trains.
namespace {

// Running out of memory, said as what it is, with the settings that size a step; not the allocator's message.
InputError outOfMemory(const RunConfig& c, uint64_t bytes, const std::exception& e, const std::string& when) {
  const bool gpu = std::string(e.what()).find("CUDA") != std::string::npos;
  std::string what = std::string(gpu ? "the GPU ran out of memory " : "out of memory ") + when;
  if (bytes > 0) what += ": an allocation of " + memoryText(bytes) + " failed";
  if (!gpu) what += "; " + memoryFacts();
  what += " (batch " + std::to_string(c.optim.batchSize) +
          (c.data.padTo > 0 ? ", images padded to " + std::to_string(c.data.padTo) : std::string()) + ")";
  std::string fix = "lower optim.batch_size (now " + std::to_string(c.optim.batchSize) + ")";
  if (c.data.padTo > 32) fix += " or data.pad_to (now " + std::to_string(c.data.padTo) + "; 0 keeps the images' size)";
  fix += ", or close what else uses the memory";
  return InputError(what, fix);
}

}  // namespace

struct Trainer::Impl {
  Trainer& owner;
  RunConfig config;
  int64_t runId = 0;
  torch::Device device = torch::kCPU;
  DatasetSplits splits;
  std::unique_ptr<TrainingStep> step;
  std::unique_ptr<BatchLoader> trainLoader;
  std::unique_ptr<FeatureProbe> probe;
  std::unique_ptr<MetricWriter> writer;
  TrainingPosition pos;       // checkpointed
  std::vector<int64_t> classCorrect, classTotal;
  Clock::time_point started = Clock::now();
  int64_t lastProbe = 0;      // probe index of the last snapshot
  int64_t readEvery = 1;      // steps whose scalars are read from the device together
  // A step whose scalars are still on the device.
  struct PendingStep {
    torch::Tensor values;     // double: total, ce, review, kd, correct, level losses...
    int64_t images = 0;
    int64_t epoch = 0, stepInEpoch = 0, globalStep = 0;
    double reviewFactor = 0;
    std::vector<std::string> levelLabels;
    bool logReview = false;
  };
  std::vector<PendingStep> pending;
  double smoothedImagesPerSecond = 0;
  double evalSeconds = 0;
  // Distributed: the job's group (null for one process), this run's plan number, the devices of all ranks and
  // the stop decision of the last all-reduce (every rank stops at the same step).
  std::shared_ptr<dist::ProcessGroup> group = dist::current();
  int64_t plan = -1;
  std::vector<std::string> rankDevices;
  bool collectiveStop = false;
  // A follower's announced run: the resolved input channels and the teacher network.
  int64_t plannedChannels = 0;
  std::string plannedTeacherArch;

  explicit Impl(Trainer& t) : owner(t) {}

  bool primary() const { return !group || group->primary(); }
  int worldSize() const { return group ? group->size() : 1; }

  void status(const std::string& s) {
    if (!primary()) {
      logger("core.train")->debug("rank {}: {}", group->rank(), s);
      return;
    }
    logger("core.train")->info("{}", s);
    if (owner.m_callbacks.onStatus) owner.m_callbacks.onStatus(s);
  }

  // Rank 0, once its part of build() succeeded: announces the run and waits until every follower has prepared
  // it (its data shard, its teacher network); a follower that cannot is named in the error.
  void announce() {
    plan = g_planCount++;
    nlohmann::json j{{"config", toJson(config)}, {"channels", plannedChannels},
                     {"teacher_arch", plannedTeacherArch}};
    group->publish(planKey(plan), j.dump());
    rankDevices.assign(static_cast<size_t>(worldSize()), deviceText(device));
    std::string failures;
    for (int r = 1; r < worldSize(); ++r) {
      const auto ready = nlohmann::json::parse(group->receive(planKey(plan, "ready/" + std::to_string(r))));
      if (ready.value("ok", false)) {
        rankDevices[static_cast<size_t>(r)] = ready.value("device", "");
      } else {
        failures += (failures.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + ": " +
                    ready.value("error", std::string("unknown error"));
      }
    }
    group->publish(planKey(plan, "go"), failures.empty() ? "go" : "abort");
    if (!failures.empty())
      throw InputError("not every rank could prepare the run: " + failures,
                       "every rank needs the same dataset path and device kind; fix what the message names");
  }

  // Rank 0: the run could not be prepared; the followers skip the plan.
  void announceFailure(const std::string& error) {
    if (!group || plan >= 0) return;
    plan = g_planCount++;
    group->publish(planKey(plan), nlohmann::json{{"error", error}}.dump());
  }

  // Every rank, once its step exists: rank 0's position and momentum buffers become every rank's, and its
  // weights too when rank 0 loaded them from a checkpoint (`loaded`; at a start the step's construction already
  // copied rank 0's initial weights).
  void syncState(bool loaded) {
    if (!group) return;
    std::map<std::string, torch::Tensor> momentum = step->optimizer().state();
    if (primary()) {
      nlohmann::json names = nlohmann::json::array();
      for (const auto& [name, t] : momentum) names.push_back(name);
      group->publish(planKey(plan, "state"),
                     nlohmann::json{{"position", positionJson(pos)}, {"momentum", names}, {"weights", loaded}}.dump());
    } else {
      const auto j = nlohmann::json::parse(group->receive(planKey(plan, "state")));
      if (j.contains("error")) throw InputError(j.at("error").get<std::string>());
      loaded = j.at("weights").get<bool>();
      pos = positionFromJson(j.at("position"));
      std::map<std::string, torch::Tensor> zeros;
      const auto& names = step->parameterNames();
      const auto params = step->optimizer().parameters();
      for (const auto& n : j.at("momentum")) {
        const auto it = std::find(names.begin(), names.end(), n.get<std::string>());
        if (it != names.end()) zeros[*it] = torch::zeros_like(params[static_cast<size_t>(it - names.begin())]);
      }
      step->optimizer().loadState(zeros);
      momentum = step->optimizer().state();
    }
    std::vector<torch::Tensor> tensors;
    if (loaded) {
      tensors = dist::stateTensors(*step->student());
      if (!step->objective().head().is_empty())
        for (auto& t : dist::stateTensors(*step->objective().head())) tensors.push_back(t);
    }
    for (auto& [name, t] : momentum) tensors.push_back(t);
    group->broadcast(tensors, 0);
  }

  // Rank 0, when a resume is refused after the run was announced: the followers drop it.
  void refuseState(const std::string& error) {
    if (group && primary() && plan >= 0) group->publish(planKey(plan, "state"), nlohmann::json{{"error", error}}.dump());
  }

  // Builds data, networks and the step from `config`. Throws InputError for bad input. In a distributed job,
  // rank 0 announces the run once its data and teacher are ready, then every rank builds the step together.
  void build() {
    try {
      buildParts();
    } catch (const std::exception& e) {
      if (primary()) announceFailure(firstLine(e.what()));
      else if (!acknowledged) acknowledge(firstLine(e.what()));
      throw;
    }
  }

  // A follower: tells rank 0 whether it prepared the announced run, then waits for rank 0's go.
  bool acknowledged = false;
  void acknowledge(const std::string& error = "") {
    acknowledged = true;
    nlohmann::json j = error.empty() ? nlohmann::json{{"ok", true}, {"device", deviceText(device)}}
                                     : nlohmann::json{{"ok", false}, {"error", error}};
    group->publish(planKey(plan, "ready/" + std::to_string(group->rank())), j.dump());
    if (!error.empty()) return;
    if (group->receive(planKey(plan, "go")) != "go")
      throw InputError("rank 0 called the run off: another rank could not prepare it (rank 0 names it)");
  }

  void buildParts() {
    config.validate();
    const int ranksHere = group ? group->environment().localWorldSize : 1;
    // Workers on one host share its cores: "all cores" means this worker's share of them.
    useThreads(config.threads == 0 && ranksHere > 1
                   ? std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranksHere)
                   : static_cast<int>(config.threads));
    device = parseDevice(config.device);
    if (group && device.is_cuda() && (config.device == "cuda" || config.device == "auto"))
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(group->environment().localRank));
    readEvery = owner.m_readEvery > 0 ? owner.m_readEvery : (device.is_cuda() ? 16 : 1);
    if (config.optim.batchSize % worldSize() != 0)
      throw InputError("optim.batch_size " + std::to_string(config.optim.batchSize) + " is the global batch and does not "
                           "divide among the " + std::to_string(worldSize()) + " processes of this job",
                       "set optim.batch_size to a multiple of " + std::to_string(worldSize()) + " (e.g. " +
                           std::to_string((config.optim.batchSize / worldSize() + 1) * worldSize()) + ")");
    DistillSettings settings = distillSettingsOf(config);
    std::optional<TeacherLoader> teacherSource;
    if (primary() && settings.method != Method::StudentAlone)
      teacherSource.emplace(*owner.m_store, config.teacher, config.method);
    DatasetSpec spec = datasetSpecOf(config.data, config.seed);
    if (teacherSource)
      if (const int64_t channels = teacherSource->autoInputChannels(config.data)) spec.channels = channels;
    if (!primary() && plannedChannels > 0) spec.channels = plannedChannels;
    plannedChannels = spec.channels;
    status("loading " + config.data.kind);
    splits = loadDataset(spec);
    const int64_t numClasses = splits.train.numClasses;
    const int64_t inChannels = splits.train.channels();
    const int64_t imageSize = splits.train.height();
    if (config.data.channels == "auto" && spec.channels > 0)
      status("data.channels auto: the teacher's first convolution takes " + std::to_string(inChannels) +
             " channel" + (inChannels == 1 ? "" : "s") + ", so the images and the student have " +
             std::to_string(inChannels));
    StepOptions opts;
    opts.settings = settings;
    opts.optimizer = {config.optim.lr, config.optim.momentum, config.optim.nesterov, config.optim.weightDecay};
    opts.device = device;
    opts.channelsLast = config.channelsLast == "on" || (config.channelsLast == "auto" && device.is_cpu());
    opts.teacherBatchStats = config.teacher.mode == "batch-stats";
    opts.inputChannels = inChannels;
    opts.imageSize = imageSize;
    opts.group = group;
    opts.syncBatchNorm = config.syncBatchNorm;
    {
      // Everything drawn from LibTorch's global generator (the student's, the teacher's and the review head's
      // initial weights) is drawn in one seeded scope: networks other threads build meanwhile (previews, level
      // tables) wait, so they cannot interleave with these draws. manual_seed also seeds the CUDA generators.
      GeneratorScope scope(static_cast<uint64_t>(config.seed));
      torch::manual_seed(static_cast<uint64_t>(config.seed));
      Backbone student = createBackbone({config.student, numClasses, inChannels});
      Backbone teacher;
      if (teacherSource) teacher = teacherSource->load(numClasses, inChannels);
      // A follower builds the teacher's network; its weights come from rank 0 when the step is built.
      if (!primary() && !plannedTeacherArch.empty()) teacher = createBackbone({plannedTeacherArch, numClasses, inChannels});
      if (group) {
        plannedTeacherArch = teacher ? teacher->options().arch : "";
        if (primary()) announce();
        else acknowledge();
      }
      step = std::make_unique<TrainingStep>(student, teacher, opts);
    }
    if (settings.method == Method::ReviewKD) status(step->levels().describe());
    BatchLoaderOptions lo;
    lo.batchSize = config.optim.batchSize / worldSize();
    lo.shuffle = true;
    lo.augment = augmentationOf(config.data);
    lo.seed = static_cast<uint64_t>(config.seed);
    lo.device = device;
    if (group) {
      lo.rank = group->rank();
      lo.worldSize = group->size();
    }
    trainLoader = std::make_unique<BatchLoader>(splits.train, splits.normalization, lo);
    probe = std::make_unique<FeatureProbe>(*step, splits.test, splits.normalization, device);
  }

  void addMetric(int epoch, int64_t globalStep, const std::string& key, double value) {
    if (writer) writer->add(epoch, globalStep, key, value);
  }
  void addMetric(const MetricPoint& point) {
    if (writer) writer->add(point);
  }

  RunRecord record() const {
    RunRecord r;
    r.name = config.name.empty() ? config.summary() : config.name;
    r.kind = config.kind == "teacher" ? RunKind::Teacher : RunKind::Student;
    r.method = config.method;
    r.config = toJson(config);
    if (config.teacher.run > 0) r.teacherRun = config.teacher.run;
    r.teacherArch = config.kind == "teacher" ? "" : config.teacher.arch;
    r.studentArch = config.student;
    r.dataset = config.data.kind;
    r.device = deviceText(device);
    r.seed = config.seed;
    if (group) {
      r.worldSize = group->size();
      r.backend = group->backend();
      for (const auto& d : rankDevices) r.rankDevices += (r.rankDevices.empty() ? "" : ",") + d;
    }
    return r;
  }

  CheckpointOwner checkpointOwner() const { return {owner.m_store->storeId(), runId, config.student}; }

  // The trainer checkpoint of the current position (see trainer_checkpoint.h), in the run's folder.
  std::string saveCheckpoint(const std::string& name) {
    const std::string dir = owner.checkpointDir(runId);
    fs::create_directories(dir);
    const std::string path = dir + "/" + name + ".pt";
    saveTrainerCheckpoint(*step, pos, config.seed, checkpointOwner(), path);
    return path;
  }

  // Rank 0: the probe image through the networks; the latest snapshot is also kept beside the checkpoints, so a
  // studio following the run from the store shows it (a failed write costs the follower a picture, nothing else).
  void snapshot() {
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
    if (owner.m_callbacks.onSnapshot) owner.m_callbacks.onSnapshot(*s);
  }

  // Records the run's end in the store. A failure is retried briefly (a long write lock of another process, a
  // disk that fills and frees): a run left "running" under this live process would never be recovered, and
  // resume refuses a running run. Returns the store's error when every attempt failed.
  std::optional<std::string> closeRun(RunStatus st, const std::string& message) {
    constexpr int kAttempts = 3;
    std::string error;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      try {
        owner.m_store->finishRun(runId, st, message);
        return std::nullopt;
      } catch (const std::exception& e) {
        error = e.what();
      }
      logger("core.train")->warn("closing run {} failed (attempt {} of {}): {}", runId, attempt, kAttempts, error);
      if (attempt < kAttempts) std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
    }
    return error;
  }

  RunOutcome finish(RunStatus st, const std::string& message) {
    RunOutcome o;
    o.runId = runId;
    o.status = st;
    o.message = message;
    o.epochsDone = static_cast<int>(pos.epochsDone);
    o.bestTop1 = pos.bestTop1;
    o.lastTop1 = pos.lastTop1;
    o.seconds = secondsSince(started);
    if (!primary()) return o;  // rank 0 records the run's end
    try {
      if (writer) writer->flush();
    } catch (const std::exception& e) {
      logger("core.train")->error("metrics flush failed: {}", e.what());
    }
    if (const std::optional<std::string> storeError = closeRun(st, message)) {
      // This process gives the run up, so that it ends interrupted (now, or at the next open, recovery or resume)
      // and stays resumable. The outcome says why the run ended first, then why it could not be closed.
      const bool marked = owner.m_store->abandonRun(runId, *storeError);
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

  // One step whose scalars were read (v points at them): divergence check, epoch sums, throughput, metrics and
  // the step callback. Returns the outcome when the loss is not finite.
  std::optional<RunOutcome> report(const PendingStep& q, const double* v, double lr, int64_t perEpoch, int64_t totalSteps,
                                   int64_t stepsAtStart, Clock::time_point& rateMark, int64_t& rateImages) {
    const double loss = v[0];
    const int ep = static_cast<int>(q.epoch);
    if (!std::isfinite(loss)) {
      const std::string msg = "loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at epoch " +
                              std::to_string(q.epoch) + ", step " + std::to_string(q.stepInEpoch) + " (global step " +
                              std::to_string(q.globalStep) + "); lower optim.lr or review.weight";
      addMetric(ep, q.globalStep, "train/loss", loss);
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
      rateMark = Clock::now();
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
    addMetric(ep, q.globalStep, "train/loss", p.loss);
    addMetric(ep, q.globalStep, "train/ce", p.ce);
    if (q.logReview) {
      addMetric(ep, q.globalStep, "train/review", p.review);
      for (size_t i = 0; i < p.levelLosses.size(); ++i)
        addMetric(ep, q.globalStep, "train/level/" + p.levelLabels[i], p.levelLosses[i]);
    }
    if (step->objective().settings().kdWeight > 0) addMetric(ep, q.globalStep, "train/kd", p.kd);
    addMetric(ep, q.globalStep, "lr", lr);
    if (primary() && owner.m_callbacks.onStep) owner.m_callbacks.onStep(p);
    return std::nullopt;
  }

  // The training loop from the current position to the end, a stop request or a divergence.
  RunOutcome loop() {
    const int64_t epochs = config.optim.epochs;
    const int64_t perEpoch = trainLoader->batchesPerEpoch();
    const int64_t totalSteps = epochs * perEpoch;
    if (primary()) writer = std::make_unique<MetricWriter>(*owner.m_store, runId);
    Clock::time_point rateMark = Clock::now();
    int64_t rateImages = 0;
    const int64_t stepsAtStart = pos.globalStep;
    status("training " + config.summary() + " on " + deviceText(device) + ", " + std::to_string(perEpoch) +
           " steps per epoch");
    for (; pos.epoch < epochs; ++pos.epoch) {
      const Clock::time_point epochStart = Clock::now();
      const double lr = scheduledLr(config.optim, pos.epoch);
      step->optimizer().setLr(lr);
      trainLoader->startEpoch(pos.epoch);
      Batch batch;
      for (int64_t skip = 0; skip < pos.stepInEpoch; ++skip) trainLoader->next(batch);  // resume mid-epoch
      if (pos.stepInEpoch == 0) pos.epochLossSum = pos.epochCorrect = pos.epochSeen = 0;
      // A step's scalars stay on the device until `readEvery` steps have queued up (or a snapshot, a stop or the
      // epoch's end needs them): then one device-to-host copy reads them all. On a GPU this keeps the launch
      // queue full instead of synchronising after every step.
      const auto drain = [&]() -> std::optional<RunOutcome> {
        if (pending.empty()) return std::nullopt;
        std::vector<torch::Tensor> all;
        for (const auto& q : pending) all.push_back(q.values);
        torch::Tensor host;
        if (group) {
          // One all-reduce for the queued steps' scalars and the stop requests: every rank then reports the
          // global batch's loss and stops at the same step.
          const double stopHere = owner.m_stop && owner.m_stop->load() ? 1.0 : 0.0;
          all.push_back(torch::full({1}, stopHere, all.front().options()));
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
      };
      while (trainLoader->next(batch)) {
        LossParts parts = step->run(batch.images, batch.labels, static_cast<int>(pos.epoch));
        // total, ce, review, kd, correct predictions, then the level losses: one double tensor on the device.
        const auto scalar = [&](const torch::Tensor& t) {
          return t.defined() ? t.detach().reshape({}).to(torch::kDouble) : torch::zeros({}, parts.total.options().dtype(torch::kDouble));
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
        ++pos.stepInEpoch;
        ++pos.globalStep;
        const bool probeMoved = owner.m_probe && owner.m_probe->load() != lastProbe;
        const bool snapshotDue = config.snapshotEvery > 0 && (pos.globalStep % config.snapshotEvery == 0 || probeMoved);
        const bool stopNow = owner.m_stop && owner.m_stop->load();
        // Several processes drain at the same steps on every rank (the drain is a collective).
        if (static_cast<int64_t>(pending.size()) >= readEvery || (!group && (snapshotDue || stopNow)))
          if (auto diverged = drain()) return *diverged;
        if (snapshotDue) snapshot();
        // Read again: a step callback that just ran may have asked to stop at this step.
        if (group ? collectiveStop : (owner.m_stop && owner.m_stop->load())) {
          if (auto diverged = drain()) return *diverged;
          if (primary()) {
            const std::string path = saveCheckpoint("last");
            owner.m_store->addCheckpoint(runId, static_cast<int>(pos.epoch), path, CheckpointKind::Last);
          }
          return finish(RunStatus::Stopped, "stopped on request at epoch " + std::to_string(pos.epoch) + ", step " +
                                                std::to_string(pos.stepInEpoch) + "; resume with: reviewkd resume " +
                                                std::to_string(runId));
        }
      }
      if (auto diverged = drain()) return *diverged;
      // Evaluation of the finished epoch.
      const Clock::time_point evalStart = Clock::now();
      const bool lastEpoch = pos.epoch + 1 == epochs;
      Evaluation test = evaluateStudent(*step, splits.test, splits.normalization, lastEpoch);
      Evaluation val = evaluateStudent(*step, splits.val, splits.normalization, false);
      if (lastEpoch) {
        classCorrect = test.classCorrect;
        classTotal = test.classTotal;
      }
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
      const int e = static_cast<int>(pos.epoch);
      addMetric(MetricPoint::epochLevel(e, "epoch/train_loss", ep.trainLoss));
      addMetric(MetricPoint::epochLevel(e, "epoch/train_top1", ep.trainTop1));
      addMetric(MetricPoint::epochLevel(e, "test/loss", ep.testLoss));
      addMetric(MetricPoint::epochLevel(e, "test/top1", ep.testTop1));
      addMetric(MetricPoint::epochLevel(e, "test/top5", ep.testTop5));
      if (ep.valTop1 >= 0) addMetric(MetricPoint::epochLevel(e, "val/top1", ep.valTop1));
      addMetric(MetricPoint::epochLevel(e, "epoch/lr", lr));
      addMetric(MetricPoint::epochLevel(e, "epoch/seconds", ep.seconds));
      if (writer) writer->flush();
      // Checkpoint the position *after* this epoch, then record the epoch: the store never claims an epoch
      // that no checkpoint holds.
      ++pos.epoch;
      pos.stepInEpoch = 0;
      pos.epochLossSum = pos.epochCorrect = pos.epochSeen = 0;
      if (primary()) {
        const std::string last = saveCheckpoint("last");
        owner.m_store->addCheckpoint(runId, e, last, CheckpointKind::Last);
        if (improved) {
          const std::string best = owner.checkpointDir(runId) + "/best.pt";
          fs::copy_file(last, best + ".tmp", fs::copy_options::overwrite_existing);
          fs::rename(best + ".tmp", best);
          owner.m_store->addCheckpoint(runId, e, best, CheckpointKind::Best);
        }
        owner.m_store->recordEpoch(runId, static_cast<int>(pos.epochsDone), test.top1);
      }
      --pos.epoch;  // the for loop increments
      if (primary() && owner.m_callbacks.onEpoch) owner.m_callbacks.onEpoch(ep);
      if (primary() && lastEpoch && !classTotal.empty()) {
        std::vector<ClassAccuracy> classes;
        for (size_t c = 0; c < classTotal.size(); ++c) {
          ClassAccuracy a;
          a.classIndex = static_cast<int>(c);
          a.className = c < splits.test.classNames.size() ? splits.test.classNames[c] : std::to_string(c);
          a.accuracy = classTotal[c] > 0 ? 100.0 * static_cast<double>(classCorrect[c]) / static_cast<double>(classTotal[c]) : 0;
          classes.push_back(a);
        }
        owner.m_store->setClassAccuracy(runId, e, classes);
      }
      if ((group ? collectiveStop : (owner.m_stop && owner.m_stop->load())) && pos.epoch + 1 < epochs) {
        ++pos.epoch;
        return finish(RunStatus::Stopped, "stopped on request after epoch " + std::to_string(e) +
                                              "; resume with: reviewkd resume " + std::to_string(runId));
      }
    }
    return finish(RunStatus::Finished, "");
  }

  // Runs the loop; anything thrown marks the run failed with the message.
  RunOutcome guardedLoop() {
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
};

namespace {

// Builds the run (data, networks, step); an allocation that fails there is a refusal naming the settings.
template <typename Run>
void buildOrRefuse(Run& run) {
  try {
    run.build();
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    if (const std::optional<uint64_t> bytes = failedAllocation(e))
      throw outOfMemory(run.config, *bytes, e, "while loading the data and building the networks");
    throw;
  }
}

}  // namespace

Trainer::Trainer(RunStore& store, TrainerCallbacks callbacks, const StopFlag* stop)
    : m_store(&store), m_callbacks(std::move(callbacks)), m_stop(stop) {}

Trainer::Trainer(TrainerCallbacks callbacks, const StopFlag* stop)
    : m_store(nullptr), m_callbacks(std::move(callbacks)), m_stop(stop) {}

std::string Trainer::checkpointDir(int64_t runId) const {
  return RunStore::runFolder(m_store->path(), runId);
}

namespace {

// A stop asked for while the data and the networks loaded (Ctrl-C, SIGTERM): the run is not created (a start) or
// not claimed (a resume), and the process ends as a stop during training does. A job of several processes
// decides its stops together at the first step instead.
std::optional<RunOutcome> stoppedWhileLoading(const StopFlag* stop, bool distributed, int64_t runId) {
  if (distributed || !stop || !stop->load()) return std::nullopt;
  RunOutcome o;
  o.runId = runId;
  o.status = RunStatus::Stopped;
  o.message = runId > 0 ? "stopped on request while loading, before the resume trained; the run is as it was"
                        : "stopped on request while loading, before training began; no run was recorded";
  logger("core.train")->info("{}", o.message);
  return o;
}

}  // namespace

RunOutcome Trainer::start(const RunConfig& config) {
  Impl run(*this);
  run.config = config;
  buildOrRefuse(run);
  if (auto stopped = stoppedWhileLoading(m_stop, run.group != nullptr, 0)) return *stopped;
  if (const std::string warning = weakTeacherWarning(*m_store, run.config); !warning.empty()) run.status(warning);
  run.runId = m_store->createRun(run.record());
  run.syncState(false);
  run.started = Clock::now();
  return run.guardedLoop();
}

RunOutcome Trainer::resume(int64_t runId, int64_t epochs) {
  // A run left "running" by a writer that is gone (crashed, or gave the run up because it could not close it)
  // is marked interrupted first, so that it can be resumed without reopening the store.
  try {
    m_store->recoverInterruptedRuns();
  } catch (const StoreError& e) {
    logger("core.train")->warn("resume: interrupted runs could not be recovered: {}", e.what());
  }
  auto rec = m_store->getRun(runId);
  if (!rec) throw InputError("run " + std::to_string(runId) + " does not exist in " + m_store->path(), "see: reviewkd runs list");
  if (rec->status == RunStatus::Running)
    throw InputError("run " + std::to_string(runId) + " is still running (pid " + std::to_string(rec->pid) + " on " +
                         rec->hostname + ")",
                     "stop it first, or wait for it to end");
  const std::string last = m_store->checkpointPath(runId, CheckpointKind::Last);
  if (last.empty())
    throw InputError("run " + std::to_string(runId) + " has no checkpoint to resume from",
                     "it stopped before finishing its first epoch; start it again");
  Impl run(*this);
  run.config = runConfigFromJson(rec->config, "run " + std::to_string(runId) + " config");
  if (epochs > 0) run.config.optim.epochs = epochs;
  buildOrRefuse(run);
  run.runId = runId;
  try {
    run.pos = loadTrainerCheckpoint(*run.step, run.checkpointOwner(), last);
    // The position must be one this run can be at: its steps per epoch with this data and world size.
    const TrainingPosition& p = run.pos;
    const int64_t perEpoch = run.trainLoader->batchesPerEpoch();
    const bool sameLayout = rec->worldSize == run.worldSize();
    std::string wrong;
    // A stop on an epoch's last step leaves step_in_epoch == steps per epoch: the epoch is trained but not yet
    // evaluated, and the resume evaluates it first. Only a count past that is impossible.
    if (p.stepInEpoch > perEpoch)
      wrong = "meta.step_in_epoch " + std::to_string(p.stepInEpoch) + " is more than the " + std::to_string(perEpoch) +
              " steps of an epoch";
    else if (p.epochsDone != p.epoch)
      wrong = "meta.epochs_done " + std::to_string(p.epochsDone) + " does not match meta.epoch " + std::to_string(p.epoch);
    else if (sameLayout && p.globalStep != p.epoch * perEpoch + p.stepInEpoch)
      wrong = "meta.global_step " + std::to_string(p.globalStep) + " is not epoch x steps per epoch + step (" +
              std::to_string(p.epoch * perEpoch + p.stepInEpoch) + ")";
    else if (p.bestTop1 < 0 || p.bestTop1 > 100 || p.lastTop1 < 0 || p.lastTop1 > 100)
      wrong = "a top-1 outside 0..100";
    if (!wrong.empty())
      throw InputError("checkpoint '" + last + "' of run " + std::to_string(runId) + " holds a position this run cannot be at: " +
                           wrong,
                       "the file was damaged or edited; restore it, or start the run again");
    if (run.pos.epoch >= run.config.optim.epochs)
      throw InputError("run " + std::to_string(runId) + " has already done " + std::to_string(run.pos.epoch) + " of " +
                           std::to_string(run.config.optim.epochs) + " epochs",
                       "give a larger epoch count to extend it (reviewkd resume " + std::to_string(runId) +
                           " --epochs N)");
  } catch (const std::exception& e) {
    run.refuseState(firstLine(e.what()));
    throw;
  }
  if (run.group && rec->worldSize != run.worldSize())
    run.status("run " + std::to_string(runId) + " was trained by " + std::to_string(rec->worldSize) +
               " process(es) and continues with " + std::to_string(run.worldSize()) +
               ": the data order changes, so it is not bit-exact with an uninterrupted run");
  if (auto stopped = stoppedWhileLoading(m_stop, run.group != nullptr, runId)) return *stopped;
  // The claim (refused when another process resumed the run meanwhile), with the layout this resume trains on.
  const RunRecord layout = run.record();
  try {
    m_store->resumeRunAt(runId, run.pos.epoch, run.pos.globalStep, "resumed from " + last, &layout);
  } catch (const std::exception& e) {
    run.refuseState(firstLine(e.what()));
    throw;
  }
  if (epochs > 0) m_store->setConfig(runId, toJson(run.config));  // only the resume that claimed the run
  run.syncState(true);
  run.started = Clock::now();
  run.status("resuming run " + std::to_string(runId) + " at epoch " + std::to_string(run.pos.epoch) + ", step " +
             std::to_string(run.pos.stepInEpoch));
  return run.guardedLoop();
}

int followDistributedJob(const StopFlag* stop) {
  const auto group = dist::current();
  if (!group || group->primary()) throw std::logic_error("followDistributedJob: not a follower rank");
  for (;;) {
    const int64_t plan = g_planCount++;
    const auto j = nlohmann::json::parse(group->receive(planKey(plan)));
    if (j.contains("done")) return j.at("done").get<int>();
    if (j.contains("error")) {
      logger("core.train")->debug("rank {}: rank 0 could not prepare run {}: {}", group->rank(), plan,
                                  j.at("error").get<std::string>());
      continue;
    }
    Trainer trainer({}, stop);
    Trainer::Impl run(trainer);
    run.plan = plan;
    try {
      run.config = runConfigFromJson(j.at("config"), "the run announced by rank 0");
      run.plannedChannels = j.at("channels").get<int64_t>();
      run.plannedTeacherArch = j.at("teacher_arch").get<std::string>();
      buildOrRefuse(run);
      run.syncState(false);  // rank 0's message decides
    } catch (const dist::CollectiveError&) {
      throw;
    } catch (const std::exception& e) {
      // Rank 0 knows (the rank's ready message or its own refusal) and decides how the job goes on.
      logger("core.train")->warn("rank {}: {}", group->rank(), firstLine(e.what()));
      continue;
    }
    const RunOutcome o = run.guardedLoop();
    if (o.status == RunStatus::Interrupted) return 1;  // the job lost a rank: no further plan will come
  }
}

void endDistributedJob(int exitCode) {
  const auto group = dist::current();
  if (!group || !group->primary()) return;
  try {
    group->publish(planKey(g_planCount++), nlohmann::json{{"done", exitCode}}.dump());
  } catch (const std::exception& e) {
    logger("core.train")->warn("could not tell the other ranks that the job ended: {}", e.what());
  }
}

}  // namespace rkd
