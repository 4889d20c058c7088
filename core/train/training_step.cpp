#include "core/train/training_step.h"

#include "core/common/errors.h"
#include "core/runtime/threads.h"
#include "core/data/augment.h"

namespace rkd {

TrainingStep::TrainingStep(Backbone student, Backbone teacher, const StepOptions& options)
    : m_options(options), m_student(std::move(student)), m_teacher(std::move(teacher)) {
  const bool needsTeacher = options.settings.method != Method::StudentAlone;
  if (needsTeacher && !m_teacher)
    throw InputError("method " + methodName(options.settings.method) + " needs a teacher", "choose a teacher");
  retainFreedMemory();  // a step reallocates the same large maps every time: keep the pages (threads.h)
  if (options.device.is_cuda()) {
    // cuDNN autotuning: the shapes of a run are static, so the fastest algorithm found once serves every step.
    // TF32 off: the default keeps float32 numerics (PyTorch 2.x allows TF32 in cuDNN convolutions by default).
    at::globalContext().setBenchmarkCuDNN(true);
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  if (options.group) options.group->useDevice(options.device);
  m_student->to(options.device);
  if (m_teacher) {
    m_teacher->to(options.device);
    if (options.group) dist::broadcastModule(*options.group, *m_teacher);
    for (auto& p : m_teacher->parameters()) p.set_requires_grad(false);
    if (options.teacherBatchStats) {
      m_teacher->train();
      m_teacherForward = m_teacher;
    } else {
      m_teacher->eval();
      m_teacherForward = fuseForInference(m_teacher);
      m_teacherForward->eval();
    }
  }
  if (options.settings.method == Method::ReviewKD)
    m_levels = derivePairLevels(*m_student, *m_teacher, options.inputChannels, options.imageSize);
  m_objective = std::make_unique<DistillObjective>(options.settings, m_levels);
  m_objective->to(options.device);
  if (options.channelsLast) {
    convertToChannelsLast(*m_student);
    if (m_teacherForward) convertToChannelsLast(*m_teacherForward);
    if (!m_objective->head().is_empty()) convertToChannelsLast(*m_objective->head());
  }
  std::vector<torch::Tensor> params;
  for (const auto& p : m_student->named_parameters(true)) {
    params.push_back(p.value());
    m_names.push_back("student." + p.key());
  }
  if (!m_objective->head().is_empty())
    for (const auto& p : m_objective->head()->named_parameters(true)) {
      params.push_back(p.value());
      m_names.push_back("head." + p.key());
    }
  if (options.group) {
    dist::broadcastModule(*options.group, *m_student);
    if (!m_objective->head().is_empty()) dist::broadcastModule(*options.group, *m_objective->head());
    m_reducer = std::make_unique<dist::GradientReducer>(options.group, params);
    if (options.syncBatchNorm) m_syncBn = std::make_unique<dist::SyncBatchNorm>(options.group);
    for (auto& b : m_student->buffers(true)) m_trainedBuffers.push_back(b);
    if (!m_objective->head().is_empty())
      for (auto& b : m_objective->head()->buffers(true)) m_trainedBuffers.push_back(b);
  }
  m_optimizer = std::make_unique<NesterovSgd>(params, m_names, options.optimizer);
  setTraining(true);
}

void TrainingStep::setTraining(bool on) {
  m_student->train(on);
  m_objective->train(on);
}

torch::Tensor TrainingStep::prepare(const torch::Tensor& images) const {
  auto x = images.to(m_options.device);
  return m_options.channelsLast ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

LossParts TrainingStep::run(const torch::Tensor& images, const torch::Tensor& labels, int epoch) {
  m_optimizer->zeroGrad();
  LossParts parts = forwardBackward(images, labels, epoch);
  m_optimizer->step();
  return parts;
}

LossParts TrainingStep::forwardBackward(const torch::Tensor& images, const torch::Tensor& labels, int epoch,
                                        double lossScale) {
  torch::Tensor x = prepare(images);
  // Local BatchNorm statistics: every rank starts the step from rank 0's buffers (DDP's broadcast_buffers).
  if (m_options.group && !m_syncBn && !m_trainedBuffers.empty()) m_options.group->broadcast(m_trainedBuffers, 0);
  BackboneOutput studentOut;
  {
    BatchNormOverrideScope scope(m_syncBn.get());
    studentOut = m_student->forwardAll(x, false);
  }
  BackboneOutput teacherOut;
  if (m_teacherForward) {
    torch::NoGradGuard noGrad;
    teacherOut = m_teacherForward->forwardAll(x, true);
  }
  LossParts parts;
  {
    BatchNormOverrideScope scope(m_syncBn.get());
    parts = m_objective->compute(studentOut, m_teacherForward ? &teacherOut : nullptr, labels, epoch);
  }
  if (m_reducer) m_reducer->prepare();
  (lossScale == 1.0 ? parts.total : parts.total * lossScale).backward();
  if (m_reducer) m_reducer->finish();
  m_lastLogits = studentOut.logits.detach();
  return parts;
}

Evaluation evaluateStudent(TrainingStep& step, const TensorDataset& data, const Normalization& norm, bool perClass,
                           int64_t batchSize) {
  Evaluation e;
  if (data.size() == 0) return e;
  torch::NoGradGuard noGrad;
  const torch::Device device = step.options().device;
  step.setTraining(false);
  BatchLoaderOptions lo;
  lo.batchSize = batchSize;
  lo.shuffle = false;
  lo.device = device;
  const auto& group = step.options().group;
  if (group) {
    lo.rank = group->rank();
    lo.worldSize = group->size();
    lo.pad = false;  // each image once over all ranks: the sums below are the whole set's
  }
  BatchLoader loader(data, norm, lo);
  loader.startEpoch(0);
  Batch b;
  const auto on = [&](torch::ScalarType t) { return torch::TensorOptions().dtype(t).device(device); };
  torch::Tensor lossSum = torch::zeros({}, on(torch::kDouble));
  torch::Tensor top1 = torch::zeros({}, on(torch::kLong));
  torch::Tensor top5 = torch::zeros({}, on(torch::kLong));
  const int64_t classes = data.numClasses;
  torch::Tensor correctPerClass = torch::zeros({classes}, on(torch::kLong));
  torch::Tensor totalPerClass = torch::zeros({classes}, on(torch::kLong));
  while (loader.next(b)) {
    auto logits = step.student()->forward(step.prepare(b.images));
    lossSum += torch::nn::functional::cross_entropy(
                   logits, b.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .to(torch::kDouble);
    const int64_t k = std::min<int64_t>(5, logits.size(1));
    auto hit = std::get<1>(logits.topk(k, 1)).eq(b.labels.unsqueeze(1));
    auto hit1 = hit.select(1, 0);
    top1 += hit1.sum();
    top5 += hit.any(1).sum();
    if (perClass) {
      correctPerClass.index_add_(0, b.labels, hit1.to(torch::kLong));
      totalPerClass.index_add_(0, b.labels, torch::ones_like(b.labels));
    }
  }
  step.setTraining(true);
  if (group) {
    torch::Tensor sums = torch::cat({lossSum.reshape({1}), top1.to(torch::kDouble).reshape({1}),
                                     top5.to(torch::kDouble).reshape({1}), correctPerClass.to(torch::kDouble),
                                     totalPerClass.to(torch::kDouble)});
    group->allReduceSum(sums);
    lossSum = sums[0];
    top1 = sums[1].to(torch::kLong);
    top5 = sums[2].to(torch::kLong);
    correctPerClass = sums.narrow(0, 3, classes).to(torch::kLong);
    totalPerClass = sums.narrow(0, 3 + classes, classes).to(torch::kLong);
  }
  const double n = static_cast<double>(data.size());
  e.loss = lossSum.item<double>() / n;
  e.top1 = 100.0 * static_cast<double>(top1.item<int64_t>()) / n;
  e.top5 = 100.0 * static_cast<double>(top5.item<int64_t>()) / n;
  if (perClass) {
    auto c = correctPerClass.cpu(), t = totalPerClass.cpu();
    e.classCorrect.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + classes);
    e.classTotal.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + classes);
  }
  return e;
}

}  // namespace rkd
