// The run builder: from a RunConfig to everything a run trains with (threads, device, data, networks, the step,
// the loader and the feature probe). In a distributed job, rank 0 announces the run once its data and teacher
// are ready, and every rank builds the step together.
#include <algorithm>
#include <optional>
#include <thread>

#include "core/common/logging.h"
#include "core/common/memory.h"
#include "core/models/generator_scope.h"
#include "core/runtime/device.h"
#include "core/runtime/threads.h"
#include "core/train/run_setup.h"
#include "core/train/teacher_loader.h"
#include "core/train/trainer_run.h"

namespace rkd {

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

void Trainer::Impl::build() {
  try {
    buildParts();
  } catch (const std::exception& e) {
    if (group) {
      if (primary()) channel.announceFailure(firstLine(e.what()));
      else channel.refuse(firstLine(e.what()));
    }
    throw;
  }
}

void Trainer::Impl::buildParts() {
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
      if (primary()) rankDevices = channel.announce({config, plannedChannels, plannedTeacherArch}, deviceText(device));
      else channel.acknowledge(deviceText(device));
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

RunRecord Trainer::Impl::record() const {
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

}  // namespace rkd
