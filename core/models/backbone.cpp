#include "core/models/backbone.h"

#include <cmath>
#include <functional>
#include <sstream>

#include "core/common/errors.h"
#include "core/models/batch_norm_override.h"
#include "core/models/zoo_internal.h"

namespace rkd {

// ---- LayerRunner -------------------------------------------------------------------------------------------

torch::Tensor LayerRunner::conv(const torch::nn::Conv2d& conv, const torch::Tensor& x) const {
  auto y = conv.ptr()->forward(x);
  if (macs) *macs += (y.numel() / y.size(0)) * conv->weight[0].numel();
  return y;
}

torch::Tensor LayerRunner::convBn(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn,
                                  const torch::Tensor& x) const {
  auto y = this->conv(conv, x);
  return fused ? y : runBatchNorm(*bn.ptr(), y);
}

torch::Tensor LayerRunner::linear(const torch::nn::Linear& linear, const torch::Tensor& x) const {
  auto y = linear.ptr()->forward(x);
  if (macs) *macs += (y.numel() / y.size(0)) * linear->weight.size(1);
  return y;
}

torch::Tensor LayerRunner::sequential(const torch::nn::Sequential& seq, const torch::Tensor& x) const {
  torch::Tensor y = x;
  for (auto& item : *seq.ptr()) {
    const auto& module = item.ptr();
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      auto out = c->forward(y);
      if (macs) *macs += (out.numel() / out.size(0)) * c->weight[0].numel();
      y = out;
    } else if (auto* l = module->as<torch::nn::Linear>()) {
      auto out = l->forward(y);
      if (macs) *macs += (out.numel() / out.size(0)) * l->weight.size(1);
      y = out;
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      y = runBatchNorm(*bn, y);
    } else {
      y = item.forward(y);
    }
  }
  return y;
}

namespace zoo {

void initialise(torch::nn::Module& net, ConvInit convInit, LinearInit linearInit) {
  torch::NoGradGuard noGrad;
  for (const auto& module : net.modules(/*include_self=*/false)) {
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      const auto& k = c->options.kernel_size();
      const double fanOut = static_cast<double>((*k)[0] * (*k)[1] * c->options.out_channels());
      if (convInit == ConvInit::KaimingFanOut || convInit == ConvInit::NormalFanOut) {
        // Kaiming-normal fan-out with ReLU gain is normal(0, sqrt(2 / (k*k*out))): the same for both.
        c->weight.normal_(0.0, std::sqrt(2.0 / fanOut));
        if (c->bias.defined()) c->bias.zero_();
      }
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    } else if (auto* l = module->as<torch::nn::Linear>()) {
      if (linearInit == LinearInit::SmallNormal) l->weight.normal_(0.0, 0.01);
      if (linearInit != LinearInit::Default && l->bias.defined()) l->bias.zero_();
    }
  }
}

namespace {

struct ZooRecipe {
  ZooEntry entry;
  std::function<Backbone(const BackboneOptions&, bool)> make;
};

const std::vector<ZooRecipe>& recipes() {
  static const std::vector<ZooRecipe> all = [] {
    std::vector<ZooRecipe> r;
    auto resnet = [&r](int depth) {
      const std::string name = "resnet" + std::to_string(depth);
      r.push_back({{name, "resnet", "CIFAR ResNet-" + std::to_string(depth) + ", widths 16/32/64"},
                   [depth](const BackboneOptions& o, bool f) { return makeResNet(o, f, depth, {16, 16, 32, 64}); }});
    };
    for (int depth : {8, 14, 20, 32, 44, 56, 110}) resnet(depth);
    for (int depth : {8, 32}) {
      const std::string name = "resnet" + std::to_string(depth) + "x4";
      r.push_back({{name, "resnet", "CIFAR ResNet-" + std::to_string(depth) + " x4, widths 64/128/256"},
                   [depth](const BackboneOptions& o, bool f) { return makeResNet(o, f, depth, {32, 64, 128, 256}); }});
    }
    for (auto [depth, widen] : std::vector<std::pair<int, int>>{{16, 1}, {16, 2}, {40, 1}, {40, 2}}) {
      const std::string name = "wrn-" + std::to_string(depth) + "-" + std::to_string(widen);
      r.push_back({{name, "wrn", "Wide ResNet depth " + std::to_string(depth) + ", widen " + std::to_string(widen)},
                   [depth = depth, widen = widen](const BackboneOptions& o, bool f) { return makeWrn(o, f, depth, widen); }});
    }
    using Cfg = std::vector<std::vector<int64_t>>;
    const std::vector<std::pair<std::string, Cfg>> vggs = {
        {"vgg8", {{64}, {128}, {256}, {512}, {512}}},
        {"vgg11", {{64}, {128}, {256, 256}, {512, 512}, {512, 512}}},
        {"vgg13", {{64, 64}, {128, 128}, {256, 256}, {512, 512}, {512, 512}}},
        {"vgg16", {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}},
        {"vgg19", {{64, 64}, {128, 128}, {256, 256, 256, 256}, {512, 512, 512, 512}, {512, 512, 512, 512}}}};
    for (const auto& [name, cfg] : vggs) {
      r.push_back({{name, "vgg", name.substr(0, 3) + "-" + name.substr(3) + " with BatchNorm"},
                   [cfg = cfg](const BackboneOptions& o, bool f) { return makeVgg(o, f, cfg); }});
    }
    r.push_back({{"mobilenetv2", "mobilenetv2", "MobileNetV2, width 0.5, expansion 6"}, makeMobileNetV2});
    r.push_back({{"shufflev1", "shufflev1", "ShuffleNetV1, 3 groups, stages 240/480/960"}, makeShuffleV1});
    r.push_back({{"shufflev2", "shufflev2", "ShuffleNetV2 1x, stages 116/232/464"}, makeShuffleV2});
    r.push_back({{"resnet50", "resnet50", "CIFAR ResNet-50 (bottlenecks 3/4/6/3)"}, makeResNet50});
    return r;
  }();
  return all;
}

std::string allowedNames() {
  std::string s;
  for (const auto& r : recipes()) s += (s.empty() ? "" : ", ") + r.entry.name;
  return s;
}

}  // namespace

Backbone build(const BackboneOptions& options, bool fused) {
  for (const auto& r : recipes()) {
    if (r.entry.name == options.arch) return r.make(options, fused);
  }
  throw InputError("Unknown network '" + options.arch + "' (arch)", "Allowed names: " + allowedNames() + ".");
}

}  // namespace zoo

const std::vector<ZooEntry>& zooEntries() {
  static const std::vector<ZooEntry> entries = [] {
    std::vector<ZooEntry> e;
    for (const auto& r : zoo::recipes()) e.push_back(r.entry);
    return e;
  }();
  return entries;
}

const ZooEntry* findZooEntry(const std::string& name) {
  for (const auto& e : zooEntries()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Backbone createBackbone(const BackboneOptions& options) {
  if (options.numClasses <= 0) {
    throw InputError("numClasses must be positive, got " + std::to_string(options.numClasses),
                     "Set the number of classes of the dataset (e.g. 10 or 100).");
  }
  if (options.inChannels <= 0) {
    throw InputError("inChannels must be positive, got " + std::to_string(options.inChannels),
                     "Use 1 for grey-scale images (MNIST, Fashion-MNIST) or 3 for colour (CIFAR).");
  }
  return zoo::build(options, /*fused=*/false);
}

std::vector<torch::Tensor> distilledLevels(const BackboneOutput& out, bool teacherSide) {
  const auto& source = (teacherSide && !out.preact.empty()) ? out.preact : out.features;
  std::vector<torch::Tensor> levels;
  for (size_t k = 1; k < source.size(); ++k) levels.push_back(source[k]);
  levels.push_back(out.pooled.reshape({out.pooled.size(0), out.pooled.size(1), 1, 1}));
  return levels;
}

int64_t countMacs(BackboneImpl& net, int64_t inChannels, int64_t size) {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  for (const auto& p : net.parameters()) {
    device = p.device();
    dtype = p.scalar_type();
    break;
  }
  const bool wasTraining = net.is_training();
  net.eval();  // a one-image train-mode forward would touch the BN running statistics
  int64_t macs = 0;
  net.setMacCounter(&macs);
  try {
    torch::NoGradGuard noGrad;
    net.forwardAll(torch::zeros({1, inChannels, size, size}, torch::TensorOptions().device(device).dtype(dtype)),
                   false);
  } catch (...) {
    net.setMacCounter(nullptr);
    net.train(wasTraining);
    throw;
  }
  net.setMacCounter(nullptr);
  net.train(wasTraining);
  return macs;
}

int64_t countParameters(const torch::nn::Module& net) {
  int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  return n;
}

}  // namespace rkd
