#include "core/train/feature_probe.h"

#include <algorithm>
#include <string>

#include "core/data/augment.h"

namespace rkd {
namespace {

FeatureMap toFeatureMap(const torch::Tensor& t) {
  FeatureMap m;
  if (!t.defined()) return m;
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  m.shape = c.sizes().vec();
  m.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return m;
}

}  // namespace

FeatureProbe::FeatureProbe(TrainingStep& step, const TensorDataset& test, const Normalization& normalization,
                           torch::Device device)
    : m_step(step), m_test(test), m_normalization(normalization), m_device(device) {}

bool FeatureProbe::available() const { return !m_step.objective().head().is_empty() && m_step.teacherForward(); }

std::optional<FeatureSnapshot> FeatureProbe::take(int64_t wanted, int64_t runId, int epoch, int64_t globalStep) {
  torch::NoGradGuard noGrad;
  const int64_t testSize = m_test.size();
  if (testSize == 0) return std::nullopt;
  const int64_t probe = std::clamp<int64_t>(wanted, 0, testSize - 1);
  auto raw = m_test.images.index({torch::indexing::Slice(probe, probe + 1)});
  auto x = m_step.prepare(normalizeImages(raw.to(m_device), m_normalization));
  m_step.setTraining(false);
  auto sOut = m_step.student()->forwardAll(x, false);
  auto tOut = m_step.teacherForward()->forwardAll(x, true);
  const PairLevels& levels = m_step.levels();
  auto studentLevels = alignedTail(distilledLevels(sOut, false), levels.size());
  auto teacherLevels = alignedTail(distilledLevels(tOut, true), levels.size());
  ReviewHead head = m_step.objective().head();
  auto outputs = head->forward(studentLevels);
  auto attention = head->lastAttention();
  m_step.setTraining(true);
  FeatureSnapshot s;
  s.runId = runId;
  s.epoch = epoch;
  s.step = globalStep;
  s.probeIndex = probe;
  s.probeLabel = static_cast<int>(m_test.labels[probe].item<int64_t>());
  s.probeImage = toFeatureMap(raw[0].to(torch::kFloat) / 255.0);
  const auto& matches = head->matches();
  const auto& settings = m_step.objective().settings();
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
    l.loss = (settings.hcl ? hierarchicalContextLoss(outputs[i], teacherLevels[tl], settings.pyramid)
                           : plainFeatureLoss(outputs[i], teacherLevels[tl]))
                 .item<double>();
    s.levels.push_back(std::move(l));
  }
  return s;
}

}  // namespace rkd
