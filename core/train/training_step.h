#pragma once
// One optimizer step of any method (teacher CE, student alone, Hinton KD, ReviewKD): the code the trainer and
// `reviewkd bench step` share, so the benchmark times exactly what training runs.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/data_parallel.h"
#include "core/runtime/device.h"
#include "core/runtime/nesterov_sgd.h"
#include "core/data/dataset.h"
#include "core/distill/levels.h"
#include "core/distill/objective.h"
#include "core/models/backbone.h"

namespace rkd {

/// How the step is built.
struct StepOptions {
  DistillSettings settings;          ///< method, switches, weights
  NesterovSgd::Options optimizer;
  torch::Device device = torch::kCPU;
  bool channelsLast = false;         ///< convert nets, head and inputs to channels-last memory format
  /// The reference's quirk: the teacher normalises with batch statistics and updates its running stats.
  /// Default false: frozen teacher in eval mode under no-grad with its BatchNorms folded into its convs.
  bool teacherBatchStats = false;
  int64_t inputChannels = 3;         ///< for the level derivation
  int64_t imageSize = 32;
  /// Data-parallel training: the teacher, student and head start from rank 0's values, gradients are averaged
  /// over the ranks by bucketed all-reduce during backward, and (without syncBatchNorm) the student's and head's
  /// BatchNorm buffers follow rank 0's at every step, as DDP's buffer broadcast does. Null: one process.
  std::shared_ptr<dist::ProcessGroup> group;
  /// SyncBatchNorm for the student and the review head (batch statistics over every rank's batch).
  bool syncBatchNorm = false;
};

/// A student (trained), an optional frozen teacher, the objective (with the review head) and the optimizer.
class TrainingStep {
 public:
  /// `teacher` may be null for methods that need none. Moves everything to options.device.
  TrainingStep(Backbone student, Backbone teacher, const StepOptions& options);

  /// Forward, loss, backward, update. `images` normalised float on the device, `labels` int64.
  /// Returns the loss parts (tensors on the device; reading them synchronises).
  LossParts run(const torch::Tensor& images, const torch::Tensor& labels, int epoch);

  /// The parts of run(), for gradient accumulation over micro-batches: zeroGrad(), then forwardBackward() once
  /// per micro-batch (its loss scaled by `lossScale`, gradients added up), then update(). In a data-parallel
  /// step forwardBackward averages the gradients over the ranks.
  void zeroGrad() { m_optimizer->zeroGrad(); }
  LossParts forwardBackward(const torch::Tensor& images, const torch::Tensor& labels, int epoch,
                            double lossScale = 1.0);
  void update() { m_optimizer->step(); }

  /// Student logits of the last run() (detached), for training accuracy.
  const torch::Tensor& lastLogits() const { return m_lastLogits; }

  Backbone student() const { return m_student; }
  /// The network the teacher forward uses (a BN-folded copy in eval mode).
  Backbone teacherForward() const { return m_teacherForward; }
  /// The teacher as loaded (unfused); null without a teacher.
  Backbone teacher() const { return m_teacher; }
  DistillObjective& objective() { return *m_objective; }
  NesterovSgd& optimizer() { return *m_optimizer; }
  const PairLevels& levels() const { return m_levels; }
  const StepOptions& options() const { return m_options; }
  /// Trainable tensors with their names: "student.<param>" and "head.<param>".
  const std::vector<std::string>& parameterNames() const { return m_names; }
  /// Puts the student and head in train (true) or eval (false) mode; the teacher keeps its own mode.
  void setTraining(bool on);
  /// Prepares an input batch: device and memory format of this step.
  torch::Tensor prepare(const torch::Tensor& images) const;

 private:
  StepOptions m_options;
  Backbone m_student;
  Backbone m_teacher;
  Backbone m_teacherForward;
  PairLevels m_levels;
  std::unique_ptr<DistillObjective> m_objective;
  std::unique_ptr<NesterovSgd> m_optimizer;
  std::vector<std::string> m_names;
  torch::Tensor m_lastLogits;
  std::unique_ptr<dist::GradientReducer> m_reducer;
  std::unique_ptr<dist::SyncBatchNorm> m_syncBn;
  std::vector<torch::Tensor> m_trainedBuffers;  // student and head BatchNorm buffers (broadcast from rank 0)
};

/// Test-set metrics of the step's student (eval mode, no-grad; the student is put back in train mode).
struct Evaluation {
  double loss = 0;   ///< mean cross-entropy
  double top1 = 0;   ///< percent
  double top5 = 0;   ///< percent
  std::vector<int64_t> classCorrect;  ///< per class, when asked for
  std::vector<int64_t> classTotal;
};

/// Evaluates the student of `step` on `data` (raw uint8 images, normalised with `norm`) in batches of
/// `batchSize`, on the step's device. Reads the counts back once at the end.
/// With a process group (the step's), each rank evaluates every worldSize-th image and the sums are
/// all-reduced, so every rank returns the whole set's figures.
Evaluation evaluateStudent(TrainingStep& step, const TensorDataset& data, const Normalization& norm,
                           bool perClass, int64_t batchSize = 500);

}  // namespace rkd
