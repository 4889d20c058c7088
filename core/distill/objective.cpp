#include "core/distill/objective.h"

#include <cmath>
#include <sstream>

#include "core/common/errors.h"

namespace rkd {
namespace F = torch::nn::functional;

namespace {

void requireFinite(double value, const std::string& field, bool strictlyPositive) {
  if (!std::isfinite(value) || value < 0 || (strictlyPositive && value == 0)) {
    throw InputError(field + " must be a finite number " + (strictlyPositive ? "> 0" : ">= 0") + ", got " +
                         std::to_string(value),
                     "set " + field + " to " + (strictlyPositive ? "a positive value" : "0 or more"));
  }
}

}  // namespace

std::string methodName(Method method) {
  switch (method) {
    case Method::StudentAlone: return "student-alone";
    case Method::HintonKD: return "hinton-kd";
    case Method::ReviewKD: return "reviewkd";
  }
  return "reviewkd";
}

Method methodFromName(const std::string& name) {
  for (Method m : {Method::StudentAlone, Method::HintonKD, Method::ReviewKD})
    if (methodName(m) == name) return m;
  throw InputError("method: unknown method '" + name + "'",
                   "allowed values: student-alone, hinton-kd, reviewkd");
}

DistillSettings DistillSettings::forMethod(Method method) {
  DistillSettings s;
  s.method = method;
  if (method == Method::HintonKD) {
    s.ceWeight = 0.1;
    s.kdWeight = 0.9;
    s.kdTemperature = 4.0;
  }
  return s;
}

void DistillSettings::validate() const {
  requireFinite(ceWeight, "ceWeight", false);
  requireFinite(reviewWeight, "reviewWeight", false);
  requireFinite(kdWeight, "kdWeight", method == Method::HintonKD);
  requireFinite(kdTemperature, "kdTemperature", true);
  if (warmupEpochs < 0)
    throw InputError("warmupEpochs must be >= 0, got " + std::to_string(warmupEpochs),
                     "use 0 for no warm-up (the paper uses 20)");
  if (method == Method::ReviewKD) {
    // An empty pyramid is allowed: HCL then equals the plain MSE.
    for (int64_t l : pyramid)
      if (l < 1)
        throw InputError("pyramid: every HCL pyramid size must be >= 1, got " + std::to_string(l),
                         "use sizes such as 4, 2, 1 (the default)");
    validateHeadSwitches(headSwitches());
  }
}

std::string DistillSettings::describe() const {
  std::ostringstream s;
  s << methodName(method) << ":";
  if (method == Method::ReviewKD) {
    s << " review " << (review ? "on" : "off") << ", residual " << (residual ? "on" : "off") << ", ABF "
      << (abf ? "on" : "off") << ", HCL " << (hcl ? "on" : "off");
    if (hcl) {
      s << " (";
      for (size_t i = 0; i < pyramid.size(); ++i) s << (i ? "," : "") << pyramid[i];
      s << ")";
    }
    s << ", review weight " << reviewWeight << ", warm-up " << warmupEpochs << ",";
  }
  s << " CE weight " << ceWeight;
  if (method == Method::HintonKD || kdWeight > 0) s << ", KD weight " << kdWeight << " at T " << kdTemperature;
  return s.str();
}

// ---------------------------------------------------------------------------------------------- losses

torch::Tensor hierarchicalContextLoss(const torch::Tensor& student, const torch::Tensor& teacher,
                                      const std::vector<int64_t>& pyramid) {
  TORCH_CHECK(student.dim() == 4 && student.sizes() == teacher.sizes(),
              "hierarchicalContextLoss: student and teacher maps must be N x C x H x W of one shape, got ",
              student.sizes(), " and ", teacher.sizes());
  const int64_t h = student.size(2), w = student.size(3);
  torch::Tensor loss = F::mse_loss(student, teacher);
  double weight = 1.0, total = 1.0;
  // A pyramid level whose bins nest exactly in an already pooled level is pooled from that small map (the
  // same averages, far less memory traffic forward and backward); otherwise from the full map.
  torch::Tensor prevS, prevT;
  int64_t prevSize = 0;
  for (int64_t l : pyramid) {
    if (l >= h) continue;  // the reference compares with the height only
    weight /= 2.0;
    auto options = F::AdaptiveAvgPool2dFuncOptions({l, l});
    const bool nested = prevSize > 0 && h % prevSize == 0 && w % prevSize == 0 && prevSize % l == 0;
    torch::Tensor ps = F::adaptive_avg_pool2d(nested ? prevS : student, options);
    torch::Tensor pt = F::adaptive_avg_pool2d(nested ? prevT : teacher, options);
    loss = loss + F::mse_loss(ps, pt) * weight;
    total += weight;
    if (!nested && !(h % l == 0 && w % l == 0)) continue;  // overlapping bins: later levels use the full map
    prevS = ps;
    prevT = pt;
    prevSize = l;
  }
  return loss / total;
}

torch::Tensor plainFeatureLoss(const torch::Tensor& student, const torch::Tensor& teacher) {
  return F::mse_loss(student, teacher);
}

torch::Tensor hintonKdLoss(const torch::Tensor& studentLogits, const torch::Tensor& teacherLogits,
                           double temperature) {
  auto logStudent = F::log_softmax(studentLogits / temperature, F::LogSoftmaxFuncOptions(1));
  auto logTeacher = F::log_softmax(teacherLogits / temperature, F::LogSoftmaxFuncOptions(1));
  auto kl = F::kl_div(logStudent, logTeacher, F::KLDivFuncOptions().reduction(torch::kSum).log_target(true));
  return kl * (temperature * temperature) / static_cast<double>(studentLogits.size(0));
}

torch::Tensor crossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return F::cross_entropy(logits, labels);
}

double reviewWarmupFactor(int epoch, int warmupEpochs) {
  if (warmupEpochs <= 0) return 1.0;
  return std::min(1.0, static_cast<double>(epoch) / static_cast<double>(warmupEpochs));
}

// ------------------------------------------------------------------------------------------- objective

DistillObjective::DistillObjective(DistillSettings settings, const PairLevels& levels)
    : m_settings(std::move(settings)) {
  m_settings.validate();
  if (m_settings.method == Method::ReviewKD) {
    if (levels.size() == 0)
      throw InputError("ReviewKD needs the pair's distilled levels", "derive them with derivePairLevels()");
    m_head = ReviewHead(levels, m_settings.headSwitches());
  }
}

LossParts DistillObjective::compute(const BackboneOutput& student, const BackboneOutput* teacher,
                                    const torch::Tensor& labels, int epoch) {
  const Method method = m_settings.method;
  if (method != Method::StudentAlone && !teacher)
    throw InputError(methodName(method) + " needs the teacher's outputs", "load a teacher for this run");
  std::vector<torch::Tensor> studentInputs, teacherTargets;
  if (method == Method::ReviewKD) {
    const PairLevels& levels = m_head->levels();
    auto studentLevels = distilledLevels(student, false);
    auto teacherLevels = distilledLevels(*teacher, true);
    if (static_cast<int>(studentLevels.size()) != levels.studentLevelCount ||
        static_cast<int>(teacherLevels.size()) != levels.teacherLevelCount)
      throw InputError("the networks' level counts differ from the derived review head's",
                       "derive the pair's levels from the same networks");
    for (const auto& l : levels.levels) {
      studentInputs.push_back(studentLevels[l.studentIndex]);
      teacherTargets.push_back(teacherLevels[l.teacherIndex]);
    }
  }
  return computeFromLevels(studentInputs, teacherTargets, student.logits,
                           teacher ? teacher->logits : torch::Tensor(), labels, epoch);
}

LossParts DistillObjective::computeFromLevels(const std::vector<torch::Tensor>& studentLevels,
                                              const std::vector<torch::Tensor>& teacherLevels,
                                              const torch::Tensor& studentLogits,
                                              const torch::Tensor& teacherLogits, const torch::Tensor& labels,
                                              int epoch) {
  LossParts parts;
  const auto zero = torch::zeros({}, studentLogits.options());
  parts.ce = crossEntropyLoss(studentLogits, labels);
  parts.review = zero;
  parts.kd = zero;
  parts.total = parts.ce * m_settings.ceWeight;
  const Method method = m_settings.method;

  if (method == Method::ReviewKD) {
    const int n = m_head->levels().size();
    if (static_cast<int>(studentLevels.size()) != n || static_cast<int>(teacherLevels.size()) != n)
      throw InputError("the review loss needs " + std::to_string(n) + " aligned levels per side, got " +
                           std::to_string(studentLevels.size()) + " student and " +
                           std::to_string(teacherLevels.size()) + " teacher",
                       "pass the levels in PairLevels order");
    auto outputs = m_head->forward(studentLevels);
    const auto& matches = m_head->matches();
    parts.levelLabels = m_head->matchLabels();
    torch::Tensor review;
    for (size_t m = 0; m < matches.size(); ++m) {
      const auto target = teacherLevels[matches[m].teacherLevel].detach();
      torch::Tensor l = m_settings.hcl ? hierarchicalContextLoss(outputs[m], target, m_settings.pyramid)
                                       : plainFeatureLoss(outputs[m], target);
      parts.levelLosses.push_back(l.detach());
      review = review.defined() ? review + l : l;
    }
    parts.review = review;
    parts.reviewFactor = reviewWarmupFactor(epoch, m_settings.warmupEpochs);
    parts.total = parts.total + review * (m_settings.reviewWeight * parts.reviewFactor);
  }

  const bool wantKd = method == Method::HintonKD || (method == Method::ReviewKD && m_settings.kdWeight > 0);
  if (wantKd) {
    if (!teacherLogits.defined())
      throw InputError("the KD term needs the teacher's logits", "load a teacher for this run");
    parts.kd = hintonKdLoss(studentLogits, teacherLogits.detach(), m_settings.kdTemperature);
    parts.total = parts.total + parts.kd * m_settings.kdWeight;
  }
  return parts;
}

LossParts DistillObjective::forward(BackboneImpl& student, BackboneImpl* teacher, const torch::Tensor& images,
                                    const torch::Tensor& labels, int epoch) {
  BackboneOutput studentOut = student.forwardAll(images, false);
  if (!needsTeacher()) return compute(studentOut, nullptr, labels, epoch);
  if (!teacher)
    throw InputError(methodName(m_settings.method) + " needs a teacher", "load a teacher for this run");
  BackboneOutput teacherOut;
  {
    torch::NoGradGuard noGrad;
    teacherOut = teacher->forwardAll(images, m_settings.method == Method::ReviewKD && teacher->hasPreact());
  }
  return compute(studentOut, &teacherOut, labels, epoch);
}

std::vector<torch::Tensor> DistillObjective::parameters() const {
  if (!m_head) return {};
  return m_head->parameters();
}

void DistillObjective::to(torch::Device device) {
  if (m_head) m_head->to(device);
}

void DistillObjective::train(bool on) {
  if (m_head) m_head->train(on);
}

}  // namespace rkd
