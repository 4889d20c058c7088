#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/train/device.h"
#include "core/common/errors.h"
#include "core/common/logging.h"
#include "core/train/threads.h"
#include "core/common/version.h"
#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/io/checkpoint.h"
#include "core/models/zoo_match.h"
#include "core/train/run_setup.h"
#include "core/train/training_step.h"

namespace rkd {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Tensor map entry holding one double (checkpoint metadata).
torch::Tensor scalarTensor(double v) { return torch::tensor({v}, torch::kDouble); }
double scalarValue(const TensorMap& m, const std::string& key, const std::string& file) {
  auto it = m.find(key);
  if (it == m.end())
    throw InputError("checkpoint '" + file + "' has no '" + key + "' entry", "it was not written by this studio's trainer");
  return it->second.item<double>();
}

FeatureMap toFeatureMap(const torch::Tensor& t) {
  FeatureMap m;
  if (!t.defined()) return m;
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  m.shape = c.sizes().vec();
  m.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return m;
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
struct Trainer::Impl {
  Trainer& owner;
  RunConfig config;
  int64_t runId = 0;
  torch::Device device = torch::kCPU;
  DatasetSplits splits;
  std::unique_ptr<TrainingStep> step;
  std::unique_ptr<BatchLoader> trainLoader;
  std::unique_ptr<MetricWriter> writer;
  // Position and running values (checkpointed).
  int64_t epoch = 0;          // epoch in progress
  int64_t stepInEpoch = 0;    // steps already done in `epoch`
  int64_t globalStep = 0;
  double bestTop1 = 0;
  double lastTop1 = 0;
  double epochLossSum = 0;
  double epochCorrect = 0;
  double epochSeen = 0;
  int64_t epochsDone = 0;
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

  explicit Impl(Trainer& t) : owner(t) {}

  void status(const std::string& s) {
    logger("core.train")->info("{}", s);
    if (owner.m_callbacks.onStatus) owner.m_callbacks.onStatus(s);
  }

  // The file the teacher's weights come from: teacher.checkpoint, or the best (else last) checkpoint of
  // teacher.run, whose network then fills teacher.arch.
  std::string teacherFile() {
    std::string file = config.teacher.checkpoint;
    std::string arch = config.teacher.arch;
    if (config.teacher.run <= 0 && file.empty())
      throw InputError("method " + config.method + " needs a teacher, and the config names none",
                       "set teacher.run to a finished teacher run (reviewkd runs list --kind teacher) or "
                       "teacher.checkpoint to a PyTorch or studio checkpoint file");
    if (config.teacher.run > 0) {
      auto rec = owner.m_store.getRun(config.teacher.run);
      if (!rec)
        throw InputError("teacher.run " + std::to_string(config.teacher.run) + " does not exist in " +
                             owner.m_store.path(),
                         "list finished teacher runs with: reviewkd runs list --kind teacher");
      if (rec->status != RunStatus::Finished && rec->status != RunStatus::Stopped)
        throw InputError("teacher run " + std::to_string(rec->id) + " is " + toString(rec->status),
                         "pick a finished (or stopped) teacher run, or resume this one first");
      if (arch.empty()) arch = rec->studentArch;
      if (arch != rec->studentArch)
        throw InputError("teacher.arch is " + arch + " but teacher run " + std::to_string(rec->id) + " trained " +
                             rec->studentArch,
                         "leave teacher.arch empty or set it to " + rec->studentArch);
      file = owner.m_store.checkpointPath(rec->id, CheckpointKind::Best);
      if (file.empty()) file = owner.m_store.checkpointPath(rec->id, CheckpointKind::Last);
      if (file.empty())
        throw InputError("teacher run " + std::to_string(rec->id) + " has no checkpoint", "train the teacher again");
      config.teacher.arch = arch;
    }
    return file;
  }

  Backbone loadTeacher(const std::string& file, const ImportedStateDict& weights, int64_t numClasses,
                       int64_t inChannels) {
    const std::string& arch = config.teacher.arch;
    Backbone teacher = createBackbone({arch, numClasses, inChannels});
    LoadReport report = loadStateDict(*teacher, weights.tensors);
    std::string notes;
    for (const auto& c : weights.conversions) notes += ", " + c;
    logger("core.io")->info("imported '{}' ({} format, {}{}{}): {}", file, weights.format, weights.layout,
                            weights.strippedModulePrefix ? ", 'module.' prefix stripped" : "", notes,
                            report.describe());
    if (!report.ok()) {
      const std::string fit = zooFitSentence(weights.tensors);
      throw InputError("teacher checkpoint '" + file + "' does not fit " + arch + " with " +
                           std::to_string(numClasses) + " classes and " + std::to_string(inChannels) +
                           " input channels: " + report.describe() + (fit.empty() ? "" : "\n" + fit),
                       fit.rfind("it fits ", 0) == 0
                           ? "set the teacher's network (teacher.arch) and the dataset to what the file fits"
                           : "pick the teacher's network and the dataset it was trained on");
    }
    return teacher;
  }

  void warnIfTeacherIsWeak() {
    if (config.teacher.run <= 0) return;
    auto teacher = owner.m_store.getRun(config.teacher.run);
    if (!teacher || !teacher->bestTop1) return;
    RunFilter f;
    f.studentArch = config.student;
    f.status = RunStatus::Finished;
    for (const auto& r : owner.m_store.listRuns(f)) {
      if (r.method != "student-alone" || r.dataset != config.data.kind || !r.bestTop1) continue;
      if (*r.bestTop1 >= *teacher->bestTop1) {
        status("warning: teacher run " + std::to_string(teacher->id) + " (best top-1 " +
               std::to_string(*teacher->bestTop1) + ") is not above the student alone (run " + std::to_string(r.id) +
               ", " + std::to_string(*r.bestTop1) + "): distillation is likely to pull the student down");
        return;
      }
    }
  }

  // Builds data, networks and the step from `config`. Throws InputError for bad input.
  void build() {
    config.validate();
    useThreads(static_cast<int>(config.threads));
    device = parseDevice(config.device);
    readEvery = owner.m_readEvery > 0 ? owner.m_readEvery : (device.is_cuda() ? 16 : 1);
    torch::manual_seed(static_cast<uint64_t>(config.seed));
    DistillSettings settings = distillSettingsOf(config);
    std::string teacherPath;
    ImportedStateDict teacherWeights;
    if (settings.method != Method::StudentAlone) {
      teacherPath = teacherFile();
      teacherWeights = readStateDict(teacherPath);
    }
    DatasetSpec spec = datasetSpecOf(config.data, config.seed);
    if (config.data.channels == "auto" && !teacherPath.empty()) {
      // A teacher trained on grey images replicated to RGB (or the other way) decides the input channels.
      const int64_t wanted = inputChannelsFor(teacherWeights.tensors, config.teacher.arch);
      if (wanted == 1 || wanted == 3) spec.channels = wanted;
    }
    status("loading " + config.data.kind);
    splits = loadDataset(spec);
    const int64_t numClasses = splits.train.numClasses;
    const int64_t inChannels = splits.train.channels();
    const int64_t imageSize = splits.train.height();
    if (config.data.channels == "auto" && spec.channels > 0)
      status("data.channels auto: the teacher's first convolution takes " + std::to_string(inChannels) +
             " channel" + (inChannels == 1 ? "" : "s") + ", so the images and the student have " +
             std::to_string(inChannels));
    Backbone student = createBackbone({config.student, numClasses, inChannels});
    Backbone teacher;
    if (settings.method != Method::StudentAlone) teacher = loadTeacher(teacherPath, teacherWeights, numClasses, inChannels);
    StepOptions opts;
    opts.settings = settings;
    opts.optimizer = {config.optim.lr, config.optim.momentum, config.optim.nesterov, config.optim.weightDecay};
    opts.device = device;
    opts.channelsLast = config.channelsLast == "on" || (config.channelsLast == "auto" && device.is_cpu());
    opts.teacherBatchStats = config.teacher.mode == "batch-stats";
    opts.inputChannels = inChannels;
    opts.imageSize = imageSize;
    step = std::make_unique<TrainingStep>(student, teacher, opts);
    if (settings.method == Method::ReviewKD) status(step->levels().describe());
    BatchLoaderOptions lo;
    lo.batchSize = config.optim.batchSize;
    lo.shuffle = true;
    lo.augment = augmentationOf(config.data);
    lo.seed = static_cast<uint64_t>(config.seed);
    lo.device = device;
    trainLoader = std::make_unique<BatchLoader>(splits.train, splits.normalization, lo);
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
    return r;
  }

  // Student, head, optimizer and position, atomically (temporary file, then rename).
  std::string saveCheckpoint(const std::string& name) {
    TensorMap m;
    for (const auto& [k, v] : stateDict(*step->student())) m["model." + k] = v;
    if (!step->objective().head().is_empty())
      for (const auto& [k, v] : stateDict(*step->objective().head())) m["head." + k] = v;
    for (const auto& [k, v] : step->optimizer().state()) m["optim." + k] = v;
    m["meta.epoch"] = scalarTensor(static_cast<double>(epoch));
    m["meta.step_in_epoch"] = scalarTensor(static_cast<double>(stepInEpoch));
    m["meta.global_step"] = scalarTensor(static_cast<double>(globalStep));
    m["meta.best_top1"] = scalarTensor(bestTop1);
    m["meta.last_top1"] = scalarTensor(lastTop1);
    m["meta.epochs_done"] = scalarTensor(static_cast<double>(epochsDone));
    m["meta.epoch_loss_sum"] = scalarTensor(epochLossSum);
    m["meta.epoch_correct"] = scalarTensor(epochCorrect);
    m["meta.epoch_seen"] = scalarTensor(epochSeen);
    m["meta.seed"] = scalarTensor(static_cast<double>(config.seed));
    const std::string dir = owner.checkpointDir(runId);
    fs::create_directories(dir);
    const std::string path = dir + "/" + name + ".pt";
    writeTensorFile(path, m);
    return path;
  }

  void loadCheckpoint(const std::string& path) {
    TensorMap m = readTensorFile(path);
    TensorMap model = withPrefix(m, "model.");
    loadStateDictStrict(*step->student(), model, path);
    if (!step->objective().head().is_empty()) loadStateDictStrict(*step->objective().head(), withPrefix(m, "head."), path);
    TensorMap optim = withPrefix(m, "optim.");
    step->optimizer().loadState(std::map<std::string, torch::Tensor>(optim.begin(), optim.end()));
    if (step->options().channelsLast) {
      convertToChannelsLast(*step->student());
      if (!step->objective().head().is_empty()) convertToChannelsLast(*step->objective().head());
    }
    epoch = static_cast<int64_t>(scalarValue(m, "meta.epoch", path));
    stepInEpoch = static_cast<int64_t>(scalarValue(m, "meta.step_in_epoch", path));
    globalStep = static_cast<int64_t>(scalarValue(m, "meta.global_step", path));
    bestTop1 = scalarValue(m, "meta.best_top1", path);
    lastTop1 = scalarValue(m, "meta.last_top1", path);
    epochsDone = static_cast<int64_t>(scalarValue(m, "meta.epochs_done", path));
    epochLossSum = scalarValue(m, "meta.epoch_loss_sum", path);
    epochCorrect = scalarValue(m, "meta.epoch_correct", path);
    epochSeen = scalarValue(m, "meta.epoch_seen", path);
  }

  void snapshot() {
    if (!owner.m_callbacks.onSnapshot || step->objective().head().is_empty() || !step->teacherForward()) return;
    torch::NoGradGuard noGrad;
    const int64_t testSize = splits.test.size();
    if (testSize == 0) return;
    const int64_t wanted = owner.m_probe ? owner.m_probe->load() : 0;
    const int64_t probe = std::clamp<int64_t>(wanted, 0, testSize - 1);
    lastProbe = wanted;
    auto raw = splits.test.images.index({torch::indexing::Slice(probe, probe + 1)});
    auto x = step->prepare(normalizeImages(raw.to(device), splits.normalization));
    step->setTraining(false);
    auto sOut = step->student()->forwardAll(x, false);
    auto tOut = step->teacherForward()->forwardAll(x, true);
    const PairLevels& levels = step->levels();
    auto studentLevels = alignedTail(distilledLevels(sOut, false), levels.size());
    auto teacherLevels = alignedTail(distilledLevels(tOut, true), levels.size());
    ReviewHead head = step->objective().head();
    auto outputs = head->forward(studentLevels);
    auto attention = head->lastAttention();
    step->setTraining(true);
    FeatureSnapshot s;
    s.runId = runId;
    s.epoch = static_cast<int>(epoch);
    s.step = globalStep;
    s.probeIndex = probe;
    s.probeLabel = static_cast<int>(splits.test.labels[probe].item<int64_t>());
    s.probeImage = toFeatureMap(raw[0].to(torch::kFloat) / 255.0);
    const auto& matches = head->matches();
    for (size_t i = 0; i < outputs.size(); ++i) {
      LevelSnapshot l;
      const int sl = matches[i].studentLevel, tl = matches[i].teacherLevel;
      const LevelInfo& info = levels.levels[tl];
      l.label = "level " + std::to_string(tl + 1) + (sl != tl ? " (student level " + std::to_string(sl + 1) + ")" : "") +
                ": teacher " + std::to_string(info.teacherChannels) + "@" + std::to_string(info.teacherHeight) + "x" +
                std::to_string(info.teacherWidth);
      l.teacher = toFeatureMap(teacherLevels[tl][0]);
      l.reviewOutput = toFeatureMap(outputs[i][0]);
      if (sl == tl && static_cast<size_t>(sl) < attention.size() && attention[sl].current.defined()) {
        l.attentionCurrent = toFeatureMap(attention[sl].current[0]);
        l.attentionResidual = toFeatureMap(attention[sl].residual[0]);
      }
      const auto& st = step->objective().settings();
      l.loss = (st.hcl ? hierarchicalContextLoss(outputs[i], teacherLevels[tl], st.pyramid)
                       : plainFeatureLoss(outputs[i], teacherLevels[tl]))
                   .item<double>();
      s.levels.push_back(std::move(l));
    }
    owner.m_callbacks.onSnapshot(s);
  }

  RunOutcome finish(RunStatus st, const std::string& message) {
    RunOutcome o;
    o.runId = runId;
    o.status = st;
    o.message = message;
    o.epochsDone = static_cast<int>(epochsDone);
    o.bestTop1 = bestTop1;
    o.lastTop1 = lastTop1;
    o.seconds = secondsSince(started);
    try {
      if (writer) writer->flush();
    } catch (const std::exception& e) {
      logger("core.train")->error("metrics flush failed: {}", e.what());
    }
    owner.m_store.finishRun(runId, st, message);
    status("run " + std::to_string(runId) + " " + toString(o.status) + (message.empty() ? "" : ": " + message));
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
      writer->add(ep, q.globalStep, "train/loss", loss);
      return finish(RunStatus::Diverged, msg);
    }
    const int64_t n = q.images;
    epochLossSum += loss * static_cast<double>(n);
    epochCorrect += v[4];
    epochSeen += static_cast<double>(n);
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
    writer->add(ep, q.globalStep, "train/loss", p.loss);
    writer->add(ep, q.globalStep, "train/ce", p.ce);
    if (q.logReview) {
      writer->add(ep, q.globalStep, "train/review", p.review);
      for (size_t i = 0; i < p.levelLosses.size(); ++i)
        writer->add(ep, q.globalStep, "train/level/" + p.levelLabels[i], p.levelLosses[i]);
    }
    if (step->objective().settings().kdWeight > 0) writer->add(ep, q.globalStep, "train/kd", p.kd);
    writer->add(ep, q.globalStep, "lr", lr);
    if (owner.m_callbacks.onStep) owner.m_callbacks.onStep(p);
    return std::nullopt;
  }

  // The training loop from the current position to the end, a stop request or a divergence.
  RunOutcome loop() {
    const int64_t epochs = config.optim.epochs;
    const int64_t perEpoch = trainLoader->batchesPerEpoch();
    const int64_t totalSteps = epochs * perEpoch;
    writer = std::make_unique<MetricWriter>(owner.m_store, runId);
    Clock::time_point rateMark = Clock::now();
    int64_t rateImages = 0;
    const int64_t stepsAtStart = globalStep;
    status("training " + config.summary() + " on " + deviceText(device) + ", " + std::to_string(perEpoch) +
           " steps per epoch");
    for (; epoch < epochs; ++epoch) {
      const Clock::time_point epochStart = Clock::now();
      const double lr = scheduledLr(config.optim, epoch);
      step->optimizer().setLr(lr);
      trainLoader->startEpoch(epoch);
      Batch batch;
      for (int64_t skip = 0; skip < stepInEpoch; ++skip) trainLoader->next(batch);  // resume mid-epoch
      if (stepInEpoch == 0) epochLossSum = epochCorrect = epochSeen = 0;
      // A step's scalars stay on the device until `readEvery` steps have queued up (or a snapshot, a stop or the
      // epoch's end needs them): then one device-to-host copy reads them all. On a GPU this keeps the launch
      // queue full instead of synchronising after every step.
      const auto drain = [&]() -> std::optional<RunOutcome> {
        if (pending.empty()) return std::nullopt;
        std::vector<torch::Tensor> all;
        for (const auto& q : pending) all.push_back(q.values);
        const torch::Tensor host = torch::cat(all).cpu();
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
        LossParts parts = step->run(batch.images, batch.labels, static_cast<int>(epoch));
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
        q.epoch = epoch;
        q.stepInEpoch = stepInEpoch;
        q.globalStep = globalStep;
        q.reviewFactor = parts.reviewFactor;
        q.levelLabels = parts.levelLabels;
        q.logReview = parts.review.defined() && step->objective().settings().method == Method::ReviewKD;
        pending.push_back(std::move(q));
        ++stepInEpoch;
        ++globalStep;
        const bool probeMoved = owner.m_probe && owner.m_probe->load() != lastProbe;
        const bool snapshotDue = config.snapshotEvery > 0 && (globalStep % config.snapshotEvery == 0 || probeMoved);
        const bool stopNow = owner.m_stop && owner.m_stop->load();
        if (static_cast<int64_t>(pending.size()) >= readEvery || snapshotDue || stopNow)
          if (auto diverged = drain()) return *diverged;
        if (snapshotDue) snapshot();
        // Read again: a step callback that just ran may have asked to stop at this step.
        if (owner.m_stop && owner.m_stop->load()) {
          if (auto diverged = drain()) return *diverged;
          const std::string path = saveCheckpoint("last");
          owner.m_store.addCheckpoint(runId, static_cast<int>(epoch), path, CheckpointKind::Last);
          return finish(RunStatus::Stopped, "stopped on request at epoch " + std::to_string(epoch) + ", step " +
                                                std::to_string(stepInEpoch) + "; resume with: reviewkd resume " +
                                                std::to_string(runId));
        }
      }
      if (auto diverged = drain()) return *diverged;
      // Evaluation of the finished epoch.
      const Clock::time_point evalStart = Clock::now();
      const bool lastEpoch = epoch + 1 == epochs;
      Evaluation test = evaluateStudent(*step, splits.test, splits.normalization, lastEpoch);
      Evaluation val = evaluateStudent(*step, splits.val, splits.normalization, false);
      if (lastEpoch) {
        classCorrect = test.classCorrect;
        classTotal = test.classTotal;
      }
      evalSeconds = secondsSince(evalStart);
      lastTop1 = test.top1;
      const bool improved = epochsDone == 0 || test.top1 > bestTop1;
      if (improved) bestTop1 = test.top1;
      ++epochsDone;
      EpochProgress ep;
      ep.runId = runId;
      ep.epoch = static_cast<int>(epoch);
      ep.epochs = static_cast<int>(epochs);
      ep.trainLoss = epochSeen > 0 ? epochLossSum / epochSeen : 0;
      ep.trainTop1 = epochSeen > 0 ? 100.0 * epochCorrect / epochSeen : 0;
      ep.testLoss = test.loss;
      ep.testTop1 = test.top1;
      ep.testTop5 = test.top5;
      ep.valTop1 = splits.val.size() > 0 ? val.top1 : -1;
      ep.bestTop1 = bestTop1;
      ep.lr = lr;
      ep.seconds = secondsSince(epochStart);
      const int e = static_cast<int>(epoch);
      writer->add(MetricPoint::epochLevel(e, "epoch/train_loss", ep.trainLoss));
      writer->add(MetricPoint::epochLevel(e, "epoch/train_top1", ep.trainTop1));
      writer->add(MetricPoint::epochLevel(e, "test/loss", ep.testLoss));
      writer->add(MetricPoint::epochLevel(e, "test/top1", ep.testTop1));
      writer->add(MetricPoint::epochLevel(e, "test/top5", ep.testTop5));
      if (ep.valTop1 >= 0) writer->add(MetricPoint::epochLevel(e, "val/top1", ep.valTop1));
      writer->add(MetricPoint::epochLevel(e, "epoch/lr", lr));
      writer->add(MetricPoint::epochLevel(e, "epoch/seconds", ep.seconds));
      writer->flush();
      // Checkpoint the position *after* this epoch, then record the epoch: the store never claims an epoch
      // that no checkpoint holds.
      ++epoch;
      stepInEpoch = 0;
      epochLossSum = epochCorrect = epochSeen = 0;
      const std::string last = saveCheckpoint("last");
      owner.m_store.addCheckpoint(runId, e, last, CheckpointKind::Last);
      if (improved) {
        const std::string best = owner.checkpointDir(runId) + "/best.pt";
        fs::copy_file(last, best + ".tmp", fs::copy_options::overwrite_existing);
        fs::rename(best + ".tmp", best);
        owner.m_store.addCheckpoint(runId, e, best, CheckpointKind::Best);
      }
      owner.m_store.recordEpoch(runId, static_cast<int>(epochsDone), test.top1);
      --epoch;  // the for loop increments
      if (owner.m_callbacks.onEpoch) owner.m_callbacks.onEpoch(ep);
      if (lastEpoch && !classTotal.empty()) {
        std::vector<ClassAccuracy> classes;
        for (size_t c = 0; c < classTotal.size(); ++c) {
          ClassAccuracy a;
          a.classIndex = static_cast<int>(c);
          a.className = c < splits.test.classNames.size() ? splits.test.classNames[c] : std::to_string(c);
          a.accuracy = classTotal[c] > 0 ? 100.0 * static_cast<double>(classCorrect[c]) / static_cast<double>(classTotal[c]) : 0;
          classes.push_back(a);
        }
        owner.m_store.setClassAccuracy(runId, e, classes);
      }
      if (owner.m_stop && owner.m_stop->load() && epoch + 1 < epochs) {
        ++epoch;
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
    } catch (const UserError& e) {
      return finish(RunStatus::Failed, e.full());
    } catch (const std::exception& e) {
      std::string msg = e.what();
      auto cut = msg.find("\nException raised from");
      if (cut != std::string::npos) msg = msg.substr(0, cut);
      return finish(RunStatus::Failed, msg);
    }
  }
};

Trainer::Trainer(RunStore& store, TrainerCallbacks callbacks, const StopFlag* stop)
    : m_store(store), m_callbacks(std::move(callbacks)), m_stop(stop) {}

std::string Trainer::checkpointDir(int64_t runId) const {
  return (fs::path(m_store.path()).parent_path() / "checkpoints" / ("run-" + std::to_string(runId))).string();
}

RunOutcome Trainer::start(const RunConfig& config) {
  Impl run(*this);
  run.config = config;
  run.build();
  run.warnIfTeacherIsWeak();
  run.runId = m_store.createRun(run.record());
  run.started = Clock::now();
  return run.guardedLoop();
}

RunOutcome Trainer::resume(int64_t runId, int64_t epochs) {
  auto rec = m_store.getRun(runId);
  if (!rec) throw InputError("run " + std::to_string(runId) + " does not exist in " + m_store.path(), "see: reviewkd runs list");
  if (rec->status == RunStatus::Running)
    throw InputError("run " + std::to_string(runId) + " is still running (pid " + std::to_string(rec->pid) + " on " +
                         rec->hostname + ")",
                     "stop it first, or wait for it to end");
  const std::string last = m_store.checkpointPath(runId, CheckpointKind::Last);
  if (last.empty())
    throw InputError("run " + std::to_string(runId) + " has no checkpoint to resume from",
                     "it stopped before finishing its first epoch; start it again");
  Impl run(*this);
  run.config = runConfigFromJson(rec->config, "run " + std::to_string(runId) + " config");
  if (epochs > 0) run.config.optim.epochs = epochs;
  run.build();
  run.runId = runId;
  run.loadCheckpoint(last);
  if (run.epoch >= run.config.optim.epochs)
    throw InputError("run " + std::to_string(runId) + " has already done " + std::to_string(run.epoch) + " of " +
                         std::to_string(run.config.optim.epochs) + " epochs",
                     "give a larger epoch count to extend it (reviewkd resume " + std::to_string(runId) +
                         " --epochs N)");
  if (epochs > 0) m_store.setConfig(runId, toJson(run.config));
  m_store.updateRunStatus(runId, RunStatus::Running, "resumed from " + last);
  run.started = Clock::now();
  run.status("resuming run " + std::to_string(runId) + " at epoch " + std::to_string(run.epoch) + ", step " +
             std::to_string(run.stepInEpoch));
  return run.guardedLoop();
}

}  // namespace rkd
