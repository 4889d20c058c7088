#include "core/train/training_step.h"

#include "core/common/errors.h"
#include "core/train/threads.h"
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
  m_student->to(options.device);
  if (m_teacher) {
    m_teacher->to(options.device);
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
  torch::Tensor x = prepare(images);
  m_optimizer->zeroGrad();
  BackboneOutput studentOut = m_student->forwardAll(x, false);
  BackboneOutput teacherOut;
  if (m_teacherForward) {
    torch::NoGradGuard noGrad;
    teacherOut = m_teacherForward->forwardAll(x, true);
  }
  LossParts parts = m_objective->compute(studentOut, m_teacherForward ? &teacherOut : nullptr, labels, epoch);
  parts.total.backward();
  m_optimizer->step();
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
