#pragma once
// The distillation objective: cross-entropy, the review loss (HCL or plain MSE, spec section 4), Hinton KD
// (spec section 5), and the warm-up of the review term.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distill/review_head.h"
#include "core/models/backbone.h"

namespace rkd {

/// What a run trains.
enum class Method {
  StudentAlone,  ///< cross-entropy only, no teacher
  HintonKD,      ///< cross-entropy + Hinton KD on the logits
  ReviewKD,      ///< cross-entropy + review loss (+ optional KD term)
};

/// "student-alone", "hinton-kd", "reviewkd".
std::string methodName(Method method);
/// Inverse of methodName(); throws rkd::InputError naming the allowed values.
Method methodFromName(const std::string& name);

/// The settings of the objective. Defaults are the paper's ReviewKD runs (spec sections 4-6).
struct DistillSettings {
  Method method = Method::ReviewKD;
  bool review = true;    ///< spec section 6 switches; see review_head.h for what off means
  bool residual = true;
  bool abf = true;
  bool hcl = true;       ///< off: plain full-resolution MSE per level
  std::vector<int64_t> pyramid{4, 2, 1};  ///< HCL pooled sizes, each >= 1
  double reviewWeight = 1.0;   ///< per pair in the reference (0.6 for resnet56 -> resnet20, 5.0 for most)
  double ceWeight = 1.0;
  double kdWeight = 0.0;       ///< Hinton KD term, off in the paper's ReviewKD runs
  double kdTemperature = 4.0;
  int warmupEpochs = 20;       ///< review weight ramps as min(1, epoch / warmupEpochs), epochs from 0

  /// Defaults for a method: StudentAlone = CE only; HintonKD = 0.1 CE + 0.9 KD at T = 4 (the KD recipe of
  /// the CRD benchmark the paper compares with); ReviewKD = the paper's settings with review weight 1.
  static DistillSettings forMethod(Method method);
  /// The head switches of these settings.
  HeadSwitches headSwitches() const { return {review, residual, abf}; }
  /// Throws rkd::InputError naming the offending field and its allowed values.
  void validate() const;
  /// One line, e.g. "reviewkd: review+residual+ABF+HCL(4,2,1), review weight 0.6, warm-up 20".
  std::string describe() const;
};

/// HCL of one level (spec section 4): mse at full resolution plus halving-weight mse of adaptive average
/// pools at each pyramid size L < h (L >= h is skipped), divided by the sum of the weights.
torch::Tensor hierarchicalContextLoss(const torch::Tensor& student, const torch::Tensor& teacher,
                                      const std::vector<int64_t>& pyramid = {4, 2, 1});

/// Plain full-resolution mean squared error (the HCL-off ablation).
torch::Tensor plainFeatureLoss(const torch::Tensor& student, const torch::Tensor& teacher);

/// Hinton KD: KL(softmax(t/T) || softmax(s/T)) summed over classes and batch, / batch size, * T^2.
torch::Tensor hintonKdLoss(const torch::Tensor& studentLogits, const torch::Tensor& teacherLogits,
                           double temperature = 4.0);

/// Mean cross-entropy of logits (N x classes) against int64 labels (N).
torch::Tensor crossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& labels);

/// min(1, epoch / warmupEpochs) with epochs counted from 0; 1 when warmupEpochs <= 0.
double reviewWarmupFactor(int epoch, int warmupEpochs);

/// Every part of one step's loss (scalars as 0-dim tensors; undefined parts are zero tensors).
struct LossParts {
  torch::Tensor total;          ///< ceWeight*ce + reviewWeight*factor*review + kdWeight*kd (differentiable)
  torch::Tensor ce;
  torch::Tensor review;         ///< unweighted sum of levelLosses
  torch::Tensor kd;
  std::vector<torch::Tensor> levelLosses;  ///< one per ReviewHead match (detached), for live curves
  std::vector<std::string> levelLabels;    ///< labels of levelLosses
  double reviewFactor = 0;      ///< the warm-up factor applied this epoch
};

/// The objective of a run. For ReviewKD it owns the review head (whose parameters the optimizer must get
/// from the first step on, spec section 5).
class DistillObjective {
 public:
  /// `levels` is needed for ReviewKD (derivePairLevels of the same networks); ignored otherwise.
  /// Validates the settings.
  explicit DistillObjective(DistillSettings settings, const PairLevels& levels = {});

  /// Loss parts from forward outputs already computed. `teacher` may be null for StudentAlone; for the
  /// review loss it must hold the preact features (forwardAll(x, true)).
  LossParts compute(const BackboneOutput& student, const BackboneOutput* teacher, const torch::Tensor& labels,
                    int epoch);

  /// The same from the aligned levels (PairLevels order, shallow to deep; teacher maps are detached here)
  /// and the logits. teacherLogits may be undefined unless a KD term is on; the level lists may be empty
  /// unless the method is ReviewKD.
  LossParts computeFromLevels(const std::vector<torch::Tensor>& studentLevels,
                              const std::vector<torch::Tensor>& teacherLevels, const torch::Tensor& studentLogits,
                              const torch::Tensor& teacherLogits, const torch::Tensor& labels, int epoch);

  /// Runs the forwards and compute(): the student as it is, the teacher (when the method needs one) under
  /// no-grad in whatever mode the caller set (eval by default; train = the reference's batch-statistics
  /// quirk).
  LossParts forward(BackboneImpl& student, BackboneImpl* teacher, const torch::Tensor& images,
                    const torch::Tensor& labels, int epoch);

  /// The review head (empty holder unless ReviewKD).
  ReviewHead head() const { return m_head; }
  /// Parameters to add to the optimizer besides the student's (the head's; empty unless ReviewKD).
  std::vector<torch::Tensor> parameters() const;
  /// Moves the head.
  void to(torch::Device device);
  /// Train/eval mode of the head.
  void train(bool on = true);
  const DistillSettings& settings() const { return m_settings; }
  bool needsTeacher() const { return m_settings.method != Method::StudentAlone; }

 private:
  DistillSettings m_settings;
  ReviewHead m_head{nullptr};
};

}  // namespace rkd
