#include "core/models/batch_norm_override.h"

namespace rkd {
namespace {
thread_local BatchNormOverride* t_override = nullptr;
}

torch::Tensor runBatchNorm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (t_override && bn.is_training()) return t_override->forward(bn, x);
  return bn.forward(x);
}

BatchNormOverrideScope::BatchNormOverrideScope(BatchNormOverride* override) : m_previous(t_override) {
  t_override = override;
}

BatchNormOverrideScope::~BatchNormOverrideScope() { t_override = m_previous; }

}  // namespace rkd
