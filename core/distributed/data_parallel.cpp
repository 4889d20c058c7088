#include "core/distributed/data_parallel.h"

#include <algorithm>

namespace rkd::dist {

// ---- gradient buckets -----------------------------------------------------------------------------------

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> params,
                                 int64_t bucketBytes)
    : m_group(std::move(group)), m_params(std::move(params)) {
  const size_t n = m_params.size();
  m_bucketOf.assign(n, 0);
  m_offset.assign(n, 0);
  m_seen.assign(n, false);
  int64_t bytes = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = n - 1 - k;  // reverse order: the last layers' gradients come first in backward
    const torch::Tensor& p = m_params[i];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (m_buckets.empty() || (bytes > 0 && bytes + size > bucketBytes) ||
        p.scalar_type() != m_params[m_buckets.back().params.front()].scalar_type()) {
      m_buckets.emplace_back();
      bytes = 0;
    }
    m_bucketOf[i] = m_buckets.size() - 1;
    m_buckets.back().params.push_back(i);
    bytes += size;
  }
  for (auto& b : m_buckets) {
    int64_t total = 0;
    for (size_t i : b.params) {
      m_offset[i] = total;
      total += m_params[i].numel();
    }
    b.flat = torch::zeros({total}, m_params[b.params.front()].options().device(m_group->device()));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!m_params[i].requires_grad()) continue;
    m_params[i].register_hook([this, i](const torch::Tensor& grad) { onGradient(i, grad); });
  }
}

void GradientReducer::prepare() {
  std::lock_guard lock(m_mutex);
  for (auto& b : m_buckets) {
    b.ready = 0;
    b.work.reset();
  }
  std::fill(m_seen.begin(), m_seen.end(), false);
  m_nextLaunch = 0;
  m_armed = true;
}

void GradientReducer::onGradient(size_t index, const torch::Tensor& grad) {
  std::lock_guard lock(m_mutex);
  if (!m_armed || m_seen[index]) return;
  m_seen[index] = true;
  Bucket& b = m_buckets[m_bucketOf[index]];
  torch::NoGradGuard noGrad;
  // Divided before the sum, as DDP does: the all-reduced value is the mean.
  b.flat.narrow(0, m_offset[index], grad.numel())
      .copy_(grad.detach().reshape({-1}).div(static_cast<double>(m_group->size())));
  ++b.ready;
  launchReady();
}

void GradientReducer::launchReady() {
  while (m_nextLaunch < m_buckets.size() && m_buckets[m_nextLaunch].ready == m_buckets[m_nextLaunch].params.size()) {
    Bucket& b = m_buckets[m_nextLaunch++];
    b.work = m_group->allReduceSumAsync(b.flat);
  }
}

void GradientReducer::finish() {
  {
    std::lock_guard lock(m_mutex);
    if (!m_armed) return;
    m_armed = false;
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < m_params.size(); ++i)
      if (!m_seen[i]) {
        Bucket& b = m_buckets[m_bucketOf[i]];
        b.flat.narrow(0, m_offset[i], m_params[i].numel()).zero_();
        m_seen[i] = true;
        ++b.ready;
      }
    launchReady();
  }
  for (auto& b : m_buckets)
    if (b.work) b.work->wait();
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < m_params.size(); ++i) {
    torch::Tensor& p = m_params[i];
    const Bucket& b = m_buckets[m_bucketOf[i]];
    torch::Tensor mean = b.flat.narrow(0, m_offset[i], p.numel()).view(p.sizes());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(mean);
    } else {
      // A parameter without a gradient here may have one on another rank: it takes the mean like the others.
      p.mutable_grad() = mean.to(p.device()).clone().contiguous(p.suggest_memory_format());
    }
  }
}

// ---- SyncBatchNorm ----------------------------------------------------------------------------------------

namespace {

// SyncBatchNorm's normalisation as one autograd node (PyTorch's SyncBatchNorm does the same): the forward takes
// the global mean and inverse standard deviation; backward all-reduces sum(dy) and sum(dy * (x - mean)) and
// applies BatchNorm's input gradient with the global means of both, which accounts for the statistics'
// dependence on every rank's x.
struct SyncNormFunction : public torch::autograd::Function<SyncNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& invstd,
                               ProcessGroup* group, double n) {
    const auto shape = std::vector<int64_t>{1, x.size(1), 1, 1};
    torch::Tensor centred = x - mean.view(shape);
    torch::Tensor y = centred * invstd.view(shape);
    if (weight.defined()) y = y * weight.view(shape) + bias.view(shape);
    ctx->save_for_backward({centred, invstd, weight});
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    ctx->saved_data["n"] = n;
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    const double n = ctx->saved_data["n"].toDouble();
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& centred = saved[0];
    const torch::Tensor& invstd = saved[1];
    const torch::Tensor& weight = saved[2];
    const torch::Tensor dy = grads[0];
    const int64_t c = centred.size(1);
    const std::vector<int64_t> dims{0, 2, 3};
    const auto shape = std::vector<int64_t>{1, c, 1, 1};
    // Sums in float64, as LibTorch's CPU BatchNorm accumulates: dy - mean(dy) cancels when dy is nearly constant
    // in a channel, and a float32 sum's rounding would then show in dx.
    torch::Tensor sumDy = dy.sum(dims, false, torch::kDouble);
    torch::Tensor sumDyXmu = (dy * centred).sum(dims, false, torch::kDouble);
    torch::Tensor gradWeight, gradBias;
    if (weight.defined()) {
      // This rank's share; the gradient buckets average it over the ranks.
      gradWeight = (sumDyXmu * invstd.to(torch::kDouble)).to(weight.scalar_type());
      gradBias = sumDy.to(weight.scalar_type());
    }
    torch::Tensor global = torch::cat({sumDy, sumDyXmu});
    group->allReduceSum(global);
    const auto type = dy.scalar_type();
    torch::Tensor meanDy = (global.narrow(0, 0, c) / n).to(type);
    torch::Tensor meanDyXmu = (global.narrow(0, c, c) / n).to(type);
    torch::Tensor scale = weight.defined() ? invstd * weight : invstd;
    torch::Tensor dx =
        (dy - meanDy.view(shape) - centred * (invstd * invstd * meanDyXmu).view(shape)) * scale.view(shape);
    return {dx, gradWeight, gradBias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SyncBatchNorm::forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "SyncBatchNorm expects N x C x H x W input");
  const auto& o = bn.options;
  const int64_t c = x.size(1);
  const std::vector<int64_t> dims{0, 2, 3};
  torch::Tensor mean, var;
  double n = 0;
  {
    // The global statistics: the sums and the element count in one all-reduce, then the centred squares (two
    // passes, as BatchNorm2d: no cancellation for large means).
    torch::NoGradGuard noGrad;
    torch::Tensor xd = x.detach();
    torch::Tensor sums = torch::cat({xd.sum(dims, false, torch::kDouble),
                                     torch::full({1}, static_cast<double>(x.numel() / c), xd.options().dtype(torch::kDouble))});
    m_group->allReduceSum(sums);
    n = sums[c].item<double>();
    mean = sums.narrow(0, 0, c) / n;  // float64
    torch::Tensor centred = xd - mean.to(x.scalar_type()).view({1, c, 1, 1});
    var = (centred * centred).sum(dims, false, torch::kDouble);
    m_group->allReduceSum(var);
    var.div_(n);
  }
  torch::Tensor weight = o.affine() ? bn.weight : torch::Tensor();
  torch::Tensor bias = o.affine() ? bn.bias : torch::Tensor();
  torch::Tensor y = SyncNormFunction::apply(x, weight, bias, mean.to(x.scalar_type()),
                                            torch::rsqrt(var + o.eps()).to(x.scalar_type()), m_group.get(), n);
  if (o.track_running_stats()) {
    torch::NoGradGuard noGrad;
    bn.num_batches_tracked.add_(1);
    const double momentum = o.momentum() ? *o.momentum() : 1.0 / bn.num_batches_tracked.item<double>();
    const double unbias = n > 1 ? n / (n - 1) : 1.0;
    bn.running_mean.mul_(1 - momentum).add_(mean.to(bn.running_mean.scalar_type()), momentum);
    bn.running_var.mul_(1 - momentum).add_((var * unbias).to(bn.running_var.scalar_type()), momentum);
  }
  return y;
}

std::vector<torch::Tensor> stateTensors(torch::nn::Module& module) {
  std::vector<torch::Tensor> tensors = module.parameters(true);
  for (auto& b : module.buffers(true)) tensors.push_back(b);
  return tensors;
}

void broadcastModule(ProcessGroup& group, torch::nn::Module& module) {
  std::vector<torch::Tensor> tensors = stateTensors(module);
  group.broadcast(tensors, 0);
}

}  // namespace rkd::dist
