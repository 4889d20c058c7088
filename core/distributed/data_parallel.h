#pragma once
// The two pieces of data-parallel training that run inside a step: gradient averaging by bucketed all-reduce
// driven by autograd hooks (it overlaps the backward pass, as DDP's Reducer does; Debian's LibTorch does not ship
// the headers the Reducer needs), and SyncBatchNorm (batch statistics over every rank's batch, with the matching
// backward).
#include <memory>
#include <mutex>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/process_group.h"
#include "core/models/batch_norm_override.h"

namespace rkd::dist {

/// Averages the gradients of `params` over the ranks. Buckets of about `bucketBytes` are filled in reverse
/// parameter order (roughly the order backward produces them); a bucket's all-reduce starts as soon as it is
/// full and every earlier bucket has started, so every rank starts the same collectives in the same order.
class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> params,
                  int64_t bucketBytes = 4 << 20);
  /// Arms the hooks for the next backward pass.
  void prepare();
  /// After backward: starts the buckets still waiting (a parameter that got no gradient counts as zero), waits
  /// for every all-reduce and writes the averaged gradients into the parameters' .grad.
  void finish();
  size_t bucketCount() const { return m_buckets.size(); }

 private:
  struct Bucket {
    std::vector<size_t> params;
    torch::Tensor flat;                      // on the group's device
    size_t ready = 0;
    std::unique_ptr<PendingCollective> work;
  };
  void onGradient(size_t index, const torch::Tensor& grad);
  void launchReady();

  std::shared_ptr<ProcessGroup> m_group;
  std::vector<torch::Tensor> m_params;
  std::vector<size_t> m_bucketOf;
  std::vector<int64_t> m_offset;
  std::vector<bool> m_seen;
  std::vector<Bucket> m_buckets;
  size_t m_nextLaunch = 0;
  bool m_armed = false;
  std::mutex m_mutex;
};

/// SyncBatchNorm: the mean and variance of every rank's batch (two all-reduces), the running statistics updated
/// from them with the unbiased variance over the whole batch, and a backward that all-reduces the statistics'
/// gradients, so N ranks compute what one process computes on the concatenated batch.
class SyncBatchNorm : public BatchNormOverride {
 public:
  explicit SyncBatchNorm(std::shared_ptr<ProcessGroup> group) : m_group(std::move(group)) {}
  torch::Tensor forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) override;

 private:
  std::shared_ptr<ProcessGroup> m_group;
};

/// Every parameter and buffer of `module` (and its submodules), in a fixed order.
std::vector<torch::Tensor> stateTensors(torch::nn::Module& module);
/// Copies rank 0's values of every parameter and buffer of `module` into every rank's.
void broadcastModule(ProcessGroup& group, torch::nn::Module& module);

}  // namespace rkd::dist
