#pragma once
// A per-thread replacement of training-mode BatchNorm forwards. Data-parallel training installs one around the
// student's and the review head's forward to compute SyncBatchNorm (statistics over every rank's batch); the zoo
// networks and the review head run every BatchNorm through runBatchNorm, so nothing else needs to know.
#include <torch/torch.h>

namespace rkd {

/// Computes a training-mode BatchNorm in place of the module's own forward.
class BatchNormOverride {
 public:
  virtual ~BatchNormOverride() = default;
  /// `bn` is in training mode. Must update bn's running statistics as BatchNorm2d does.
  virtual torch::Tensor forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) = 0;
};

/// `bn` applied to `x`: through the calling thread's override when one is installed and `bn` is training,
/// otherwise bn's own forward.
torch::Tensor runBatchNorm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

/// Installs `override` (may be null: none) on the calling thread for the scope's lifetime.
class BatchNormOverrideScope {
 public:
  explicit BatchNormOverrideScope(BatchNormOverride* override);
  ~BatchNormOverrideScope();
  BatchNormOverrideScope(const BatchNormOverrideScope&) = delete;
  BatchNormOverrideScope& operator=(const BatchNormOverrideScope&) = delete;

 private:
  BatchNormOverride* m_previous;
};

}  // namespace rkd
