#pragma once
#include <memory>
#include <string>
#include <utility>
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

/// Runs the layers of a zoo forward pass. Every zoo network calls its convolutions, conv+BN pairs, linear
/// layers and Sequentials through this, so that (a) BatchNorms folded by fuseForInference are skipped and
/// (b) countMacs can count multiply-accumulates from the real output shapes.
struct LayerRunner {
  bool fused = false;        ///< the network was built by fuseForInference: foldable BNs are gone
  int64_t* macs = nullptr;   ///< when set, conv and linear MACs per image are added here

  torch::Tensor conv(const torch::nn::Conv2d& conv, const torch::Tensor& x) const;
  /// conv then bn; only the conv when fused (the BN was folded into the conv's weight and bias).
  torch::Tensor convBn(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn,
                       const torch::Tensor& x) const;
  torch::Tensor linear(const torch::nn::Linear& linear, const torch::Tensor& x) const;
  /// Runs every module of the Sequential in order (counting the convs and linears in it).
  torch::Tensor sequential(const torch::nn::Sequential& seq, const torch::Tensor& x) const;
};

/// Base of every zoo network. Submodules are registered under the PyTorch reference's names, so a PyTorch
/// state dict loads by name with no renaming table.
class BackboneImpl : public torch::nn::Module {
 public:
  explicit BackboneImpl(BackboneOptions options) : m_options(std::move(options)) {}
  /// `fused`: build the inference-only variant used by fuseForInference (convs that feed a BN get a bias,
  /// those BNs are not created).
  BackboneImpl(BackboneOptions options, bool fused) : m_options(std::move(options)), m_fused(fused) {}
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

  /// True for a network made by fuseForInference (eval only, BNs folded into convs).
  bool isFused() const { return m_fused; }

  /// Every (conv, BatchNorm) pair, by full dotted module name, where the BN directly follows the conv and can
  /// be folded into it for inference. In a fused network these are the pairs that were folded.
  const std::vector<std::pair<std::string, std::string>>& foldablePairs() const { return m_foldPairs; }

  /// countMacs sets this while it runs its counting forward; nullptr otherwise. Not thread-safe.
  void setMacCounter(int64_t* counter) { m_macCounter = counter; }

 protected:
  LayerRunner runner() const { return LayerRunner{m_fused, m_macCounter}; }

  BackboneOptions m_options;
  bool m_fused = false;
  int64_t* m_macCounter = nullptr;
  std::vector<std::pair<std::string, std::string>> m_foldPairs;
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

/// The zoo entry of `name`, or nullptr when the name is not in the zoo.
const ZooEntry* findZooEntry(const std::string& name);

/// An eval-only copy of `net` (same device and dtype, no gradients) in which every BatchNorm that directly
/// follows a convolution is folded into that convolution: w' = w * g / sqrt(var + eps),
/// b' = beta + (b - mean) * g / sqrt(var + eps), using the running statistics. It computes the same logits,
/// pooled embedding, features and preact features as `net` in eval mode (up to float rounding).
/// What is folded per family (see foldablePairs()):
///  - CIFAR ResNet / resnet-x4 / resnet50: stem, every conv of every block, every downsample/shortcut conv;
///  - VGG: every conv of every block (the block's last BN output, the teacher's preact, is the fused conv's output);
///  - MobileNetV2: every conv (stem, the three convs of each inverted residual, the last 1x1 conv);
///  - ShuffleNetV1/V2: every conv (stem, all unit convs, V2's final 1x1 conv);
///  - WRN (pre-activation): only each block's conv1 -> bn2; the blocks' bn1 and the final bn1 follow a residual
///    sum or the stem output (which are features) and stay as BatchNorms, so the preact BNs still apply.
/// Parameter names of the copy are not meant to be saved.
Backbone fuseForInference(const Backbone& net);

}  // namespace rkd
