#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rkd {

/// Everything a zoo network computes in one forward pass (spec section 2).
struct BackboneOutput {
  /// Plain feature outputs: k = 0 is the stem, then one per distilled stage (shallow to deep).
  std::vector<torch::Tensor> features;
  /// "Preact" variants with the same indexing (k = 0 repeats the stem); empty when the family has none
  /// (MobileNetV2) or when they were not requested.
  std::vector<torch::Tensor> preact;
  /// N x C embedding: global average pool after the final activation.
  torch::Tensor pooled;
  /// N x classes.
  torch::Tensor logits;
};

/// Options every zoo network takes.
struct BackboneOptions {
  std::string arch;       ///< zoo name, e.g. "resnet20", "wrn-40-2"
  int64_t numClasses = 100;
  int64_t inChannels = 3; ///< 1 for Fashion-MNIST/MNIST, 3 for CIFAR
};

/// Base of every zoo network. Submodules are registered under the PyTorch reference's names, so a PyTorch
/// state dict loads by name with no renaming table.
class BackboneImpl : public torch::nn::Module {
 public:
  explicit BackboneImpl(BackboneOptions options) : m_options(std::move(options)) {}
  ~BackboneImpl() override = default;

  /// Full forward. `wantPreact` also computes the preact variants (for a WRN this runs three BatchNorms a
  /// second time, which in train mode updates their statistics again, exactly as the reference does).
  virtual BackboneOutput forwardAll(const torch::Tensor& x, bool wantPreact) = 0;

  /// Logits only (what inference and export need).
  torch::Tensor forward(const torch::Tensor& x) { return forwardAll(x, false).logits; }

  /// True when the family defines preact features (all but MobileNetV2).
  virtual bool hasPreact() const { return true; }

  /// Name prefix of the classifier's parameters ("fc", "classifier", "classifier.0", "linear").
  virtual std::string classifierName() const = 0;

  const BackboneOptions& options() const { return m_options; }

 protected:
  BackboneOptions m_options;
};

using Backbone = std::shared_ptr<BackboneImpl>;

/// One entry of the zoo, for listings.
struct ZooEntry {
  std::string name;
  std::string family;       ///< "resnet", "wrn", "vgg", "mobilenetv2", "shufflev1", "shufflev2", "resnet50"
  std::string description;  ///< one line
};

/// Every network of the zoo (spec section 8), in a stable order.
const std::vector<ZooEntry>& zooEntries();

/// Builds a freshly initialised network (spec section 8 initialisation). Throws rkd::InputError naming the
/// allowed names when `options.arch` is unknown, or when numClasses / inChannels are not positive.
Backbone createBackbone(const BackboneOptions& options);

/// The distilled levels of one network, shallow to deep, ending with the pooled embedding as N x C x 1 x 1
/// (spec section 2). Student side: plain features; teacher side: preact features where the family has them.
/// `out` must hold preact when `teacherSide` is true and the family has them.
std::vector<torch::Tensor> distilledLevels(const BackboneOutput& out, bool teacherSide);

/// Multiply-accumulates of one forward pass for one image of size channels x size x size (convolutions and
/// linear layers; BatchNorm, activations and pooling are not counted).
int64_t countMacs(BackboneImpl& net, int64_t inChannels, int64_t size);

/// Number of trainable parameters.
int64_t countParameters(const torch::nn::Module& net);

}  // namespace rkd
