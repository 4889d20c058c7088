#include "core/distill/review_head.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "core/common/errors.h"
#include "core/distill/attention_mix.h"

namespace rkd {

namespace {

std::string shapeText(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "@" + std::to_string(h) + "x" + std::to_string(w);
}

std::vector<int64_t> levelShape(const torch::Tensor& t, const std::string& side, size_t index) {
  if (t.dim() != 4) {
    throw InputError(side + " level " + std::to_string(index) + " is not a N x C x H x W map (" +
                         std::to_string(t.dim()) + " dimensions)",
                     "check the network's distilledLevels()");
  }
  return {t.size(1), t.size(2), t.size(3)};
}

/// Eval mode for the whole tree, restoring every module's own flag on destruction.
class EvalModeScope {
 public:
  explicit EvalModeScope(torch::nn::Module& root) {
    m_modules = root.modules(/*include_self=*/true);
    for (auto& m : m_modules) m_flags.push_back(m->is_training());
    root.eval();
  }
  ~EvalModeScope() {
    for (size_t i = 0; i < m_modules.size(); ++i) m_modules[i]->train(m_flags[i]);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::shared_ptr<torch::nn::Module>> m_modules;
  std::vector<bool> m_flags;
};

/// Device and floating dtype of a network's parameters (CPU float32 when it has none).
torch::TensorOptions inputOptionsFor(const torch::nn::Module& net) {
  for (const auto& p : net.parameters()) return torch::TensorOptions().device(p.device()).dtype(p.scalar_type());
  return torch::TensorOptions().dtype(torch::kFloat32);
}


}  // namespace

// ---------------------------------------------------------------------------------------------- levels

std::string PairLevels::alignmentNote() const {
  if (studentLevelCount == teacherLevelCount) return {};
  const bool studentLonger = studentLevelCount > teacherLevelCount;
  const int dropped = std::abs(studentLevelCount - teacherLevelCount);
  return "Unequal level counts: levels are aligned from the pooled level upward (the studio's own rule; the "
         "reference only pairs equal counts); the " +
         std::to_string(dropped) + " shallowest " + (studentLonger ? "student" : "teacher") + " level" +
         (dropped == 1 ? " is" : "s are") + " not distilled.";
}

std::string PairLevels::describe() const {
  std::ostringstream s;
  s << "Student " << studentName << " has " << studentLevelCount << " distilled level"
    << (studentLevelCount == 1 ? "" : "s") << ", teacher " << teacherName << " has " << teacherLevelCount
    << " (derived from one forward pass at " << inputChannels << "x" << inputSize << "x" << inputSize
    << ").\n";
  if (studentLevelCount != teacherLevelCount) s << alignmentNote() << "\n";
  s << "Review head: " << levels.size() << " levels, mid channels " << midChannels << ".\n";
  for (size_t k = 0; k < levels.size(); ++k) {
    const auto& l = levels[k];
    const bool pooled = k + 1 == levels.size();
    s << "  level " << k << (pooled ? " (pooled)" : "") << ": student level " << l.studentIndex << " "
      << shapeText(l.studentChannels, l.studentHeight, l.studentWidth) << " -> teacher level "
      << l.teacherIndex << " " << shapeText(l.teacherChannels, l.teacherHeight, l.teacherWidth);
    if (l.studentHeight != l.teacherHeight || l.studentWidth != l.teacherWidth)
      s << " (resized to the teacher size)";
    s << "\n";
  }
  return s.str();
}

PairLevels alignLevels(const std::vector<std::vector<int64_t>>& studentShapes,
                       const std::vector<std::vector<int64_t>>& teacherShapes, const std::string& studentName,
                       const std::string& teacherName) {
  if (studentShapes.empty() || teacherShapes.empty())
    throw InputError("a network has no distilled levels", "use a zoo network with feature outputs");
  for (const auto* list : {&studentShapes, &teacherShapes})
    for (const auto& s : *list)
      if (s.size() != 3) throw InputError("a level shape must be {C, H, W}", "pass three numbers per level");
  PairLevels p;
  p.studentName = studentName;
  p.teacherName = teacherName;
  p.studentLevelCount = static_cast<int>(studentShapes.size());
  p.teacherLevelCount = static_cast<int>(teacherShapes.size());
  const int n = std::min(p.studentLevelCount, p.teacherLevelCount);
  for (int k = 0; k < n; ++k) {
    LevelInfo l;
    l.studentIndex = p.studentLevelCount - n + k;
    l.teacherIndex = p.teacherLevelCount - n + k;
    const auto& s = studentShapes[l.studentIndex];
    const auto& t = teacherShapes[l.teacherIndex];
    l.studentChannels = s[0];
    l.studentHeight = s[1];
    l.studentWidth = s[2];
    l.teacherChannels = t[0];
    l.teacherHeight = t[1];
    l.teacherWidth = t[2];
    p.levels.push_back(l);
  }
  p.midChannels = std::min<int64_t>(512, p.levels.back().studentChannels);
  return p;
}

PairLevels derivePairLevels(BackboneImpl& student, BackboneImpl& teacher, int64_t inputChannels,
                            int64_t imageSize) {
  if (inputChannels <= 0 || imageSize <= 0)
    throw InputError("input channels and size must be positive", "pass e.g. 3 channels at 32 x 32");
  torch::NoGradGuard noGrad;
  std::vector<std::vector<int64_t>> studentShapes, teacherShapes;
  {
    EvalModeScope eval(student);
    auto x = torch::zeros({1, inputChannels, imageSize, imageSize}, inputOptionsFor(student));
    auto levels = distilledLevels(student.forwardAll(x, false), false);
    for (size_t i = 0; i < levels.size(); ++i) studentShapes.push_back(levelShape(levels[i], "student", i));
  }
  {
    EvalModeScope eval(teacher);
    auto x = torch::zeros({1, inputChannels, imageSize, imageSize}, inputOptionsFor(teacher));
    auto levels = distilledLevels(teacher.forwardAll(x, teacher.hasPreact()), true);
    for (size_t i = 0; i < levels.size(); ++i) teacherShapes.push_back(levelShape(levels[i], "teacher", i));
  }
  PairLevels p = alignLevels(studentShapes, teacherShapes, student.options().arch, teacher.options().arch);
  p.inputChannels = inputChannels;
  p.inputSize = imageSize;
  return p;
}

std::vector<torch::Tensor> alignedTail(const std::vector<torch::Tensor>& levels, int count) {
  if (count < 0 || static_cast<int>(levels.size()) < count)
    throw InputError("expected at least " + std::to_string(count) + " distilled levels, got " +
                         std::to_string(levels.size()),
                     "derive the pair's levels from the same networks that produce the features");
  return {levels.end() - count, levels.end()};
}

// ------------------------------------------------------------------------------------ attention fusion

AttentionFusionImpl::AttentionFusionImpl(const AttentionFusionOptions& options) : m_options(options) {
  const auto& o = m_options;
  if (o.inChannels <= 0 || o.midChannels <= 0 || o.outChannels <= 0)
    throw InputError("ABF channels must be positive", "derive them with derivePairLevels()");
  m_conv1 = register_module(
      "conv1", torch::nn::Sequential(
                   torch::nn::Conv2d(torch::nn::Conv2dOptions(o.inChannels, o.midChannels, 1).bias(false)),
                   torch::nn::BatchNorm2d(o.midChannels)));
  m_conv2 = register_module(
      "conv2",
      torch::nn::Sequential(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(o.midChannels, o.outChannels, 3).padding(1).bias(false)),
          torch::nn::BatchNorm2d(o.outChannels)));
  if (o.fuse && o.attention) {
    // PyTorch's default conv init (kaiming-uniform a = sqrt(5), bias +-1/sqrt(fan_in)) is also LibTorch's.
    m_attConv = register_module(
        "att_conv", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * o.midChannels, 2, 1)),
                                          torch::nn::Sigmoid()));
  }
  torch::NoGradGuard noGrad;
  // kaiming-uniform with a = 1: bound sqrt(3 / fan_in).
  torch::nn::init::kaiming_uniform_(m_conv1[0]->as<torch::nn::Conv2d>()->weight, 1.0);
  torch::nn::init::kaiming_uniform_(m_conv2[0]->as<torch::nn::Conv2d>()->weight, 1.0);
}

FusionResult AttentionFusionImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  const int64_t h = x.size(2), w = x.size(3);
  torch::Tensor fused = LayerRunner{}.sequential(m_conv1, x);
  if (m_options.fuse) {
    TORCH_CHECK(residual.defined(), "AttentionFusion: a fusing level needs the deeper residual");
    if (m_attConv) {
      const auto& conv = m_attConv[0]->as<torch::nn::Conv2d>();
      AttentionMixResult mix = attentionMix(fused, residual, conv->weight, conv->bias);
      fused = mix.out;
      m_lastAttention = {mix.a0, mix.a1};
    } else {
      fused = fused + resizeNearest(residual, h, w);
    }
  }
  if (fused.size(2) != m_options.teacherHeight || fused.size(3) != m_options.teacherWidth)
    fused = resizeNearest(fused, m_options.teacherHeight, m_options.teacherWidth);
  return {LayerRunner{}.sequential(m_conv2, fused), fused};
}

// ----------------------------------------------------------------------------------------- review head

void validateHeadSwitches(const HeadSwitches& s) {
  if (s.abf && !s.residual)
    throw InputError("abf: ABF cannot be on while residual is off",
                     "ABF fuses the residual path, so it needs residual on; turn residual on or ABF off");
  if (s.residual && !s.review)
    throw InputError("residual: the residual path cannot be on while review is off",
                     "the residual path is the review mechanism; turn review on or residual off");
}

ReviewHeadImpl::ReviewHeadImpl(const PairLevels& levels, const HeadSwitches& switches)
    : m_levels(levels), m_switches(switches) {
  validateHeadSwitches(switches);
  const int n = levels.size();
  if (n == 0) throw InputError("the review head needs at least one level", "derive the pair's levels first");
  const int64_t mid = levels.midChannels > 0 ? levels.midChannels
                                             : std::min<int64_t>(512, levels.levels.back().studentChannels);
  auto makeBlock = [&](const LevelInfo& student, const LevelInfo& teacher, bool fuse) {
    AttentionFusionOptions o;
    o.inChannels = student.studentChannels;
    o.midChannels = mid;
    o.outChannels = teacher.teacherChannels;
    o.teacherHeight = teacher.teacherHeight;
    o.teacherWidth = teacher.teacherWidth;
    o.fuse = fuse;
    o.attention = switches.abf;
    return AttentionFusion(o);
  };
  if (!switches.review || switches.residual) {
    m_abfs = register_module("abfs", torch::nn::ModuleList());
    for (int k = 0; k < n; ++k) {  // abfs.0 = deepest
      const auto& l = levels.levels[n - 1 - k];
      m_abfs->push_back(makeBlock(l, l, switches.residual && k > 0));
    }
    for (int i = 0; i < n; ++i) m_matches.push_back({i, i});
  } else {
    m_reviews = register_module("reviews", torch::nn::ModuleList());
    for (int i = 0; i < n; ++i) {
      torch::nn::ModuleList perStudent;
      for (int j = 0; j <= i; ++j) {
        perStudent->push_back(makeBlock(levels.levels[i], levels.levels[j], false));
        m_matches.push_back({i, j});
      }
      m_reviews->push_back(perStudent);
    }
  }
}

std::vector<torch::Tensor> ReviewHeadImpl::forward(const std::vector<torch::Tensor>& studentLevels) {
  const int n = m_levels.size();
  TORCH_CHECK(static_cast<int>(studentLevels.size()) == n, "ReviewHead: expected ", n,
              " student levels (shallow to deep), got ", studentLevels.size());
  std::vector<torch::Tensor> outputs;
  if (m_abfs) {
    outputs.resize(n);
    torch::Tensor residual;
    for (int k = 0; k < n; ++k) {
      const int level = n - 1 - k;
      FusionResult r = m_abfs[k]->as<AttentionFusionImpl>()->forward(studentLevels[level], residual);
      outputs[level] = r.output;
      residual = r.residual;
    }
  } else {
    for (int i = 0; i < n; ++i) {
      auto perStudent = m_reviews[i]->as<torch::nn::ModuleListImpl>();
      for (int j = 0; j <= i; ++j)
        outputs.push_back(perStudent->at<AttentionFusionImpl>(j).forward(studentLevels[i]).output);
    }
  }
  return outputs;
}

std::vector<std::string> ReviewHeadImpl::matchLabels() const {
  std::vector<std::string> labels;
  for (const auto& m : m_matches) {
    if (m_reviews)
      labels.push_back("s" + std::to_string(m.studentLevel + 1) + "->t" + std::to_string(m.teacherLevel + 1));
    else
      labels.push_back("level " + std::to_string(m.studentLevel + 1));
  }
  return labels;
}

std::vector<AttentionMaps> ReviewHeadImpl::lastAttention() const {
  const int n = m_levels.size();
  std::vector<AttentionMaps> maps(n);
  if (m_abfs)
    for (int k = 0; k < n; ++k) maps[n - 1 - k] = m_abfs->ptr(k)->as<AttentionFusionImpl>()->lastAttention();
  return maps;
}

}  // namespace rkd
