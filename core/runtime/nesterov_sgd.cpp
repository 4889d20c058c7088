#include "core/runtime/nesterov_sgd.h"

#include "core/common/errors.h"

namespace rkd {

NesterovSgd::NesterovSgd(std::vector<torch::Tensor> params, std::vector<std::string> names, Options options)
    : m_params(std::move(params)), m_names(std::move(names)), m_buffers(m_params.size()), m_options(options) {
  TORCH_CHECK(m_params.size() == m_names.size(), "NesterovSgd: ", m_params.size(), " parameters but ",
              m_names.size(), " names");
}

void NesterovSgd::zeroGrad() {
  for (auto& p : m_params) p.mutable_grad() = torch::Tensor();
}

void NesterovSgd::step() {
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> params, grads, fresh, freshGrads, bufs, bufGrads, bufParams;
  std::vector<size_t> freshIndex;
  for (size_t i = 0; i < m_params.size(); ++i) {
    const auto& g = m_params[i].grad();
    if (!g.defined()) continue;
    params.push_back(m_params[i]);
    grads.push_back(g);
  }
  if (params.empty()) return;
  const double m = m_options.momentum;
  // d = g + wd * p
  std::vector<torch::Tensor> d = m_options.weightDecay != 0 ? at::_foreach_add(grads, params, m_options.weightDecay)
                                                            : at::_foreach_mul(grads, 1.0);
  if (m != 0) {
    std::vector<torch::Tensor> oldBufs, oldD;
    size_t k = 0;
    for (size_t i = 0; i < m_params.size(); ++i) {
      if (!m_params[i].grad().defined()) continue;
      if (!m_buffers[i].defined())
        m_buffers[i] = d[k].clone().detach();
      else {
        oldBufs.push_back(m_buffers[i]);
        oldD.push_back(d[k]);
      }
      ++k;
    }
    if (!oldBufs.empty()) {
      at::_foreach_mul_(oldBufs, m);
      at::_foreach_add_(oldBufs, oldD);
    }
    std::vector<torch::Tensor> buffers;
    for (size_t i = 0; i < m_params.size(); ++i)
      if (m_params[i].grad().defined()) buffers.push_back(m_buffers[i]);
    if (m_options.nesterov)
      at::_foreach_add_(d, buffers, m);
    else
      d = buffers;
  }
  at::_foreach_add_(params, d, -m_options.lr);
}

std::map<std::string, torch::Tensor> NesterovSgd::state() const {
  std::map<std::string, torch::Tensor> out;
  for (size_t i = 0; i < m_params.size(); ++i)
    if (m_buffers[i].defined()) out[m_names[i]] = m_buffers[i];
  return out;
}

void NesterovSgd::loadState(const std::map<std::string, torch::Tensor>& state) {
  for (size_t i = 0; i < m_params.size(); ++i) {
    auto it = state.find(m_names[i]);
    if (it == state.end()) {
      m_buffers[i] = torch::Tensor();
      continue;
    }
    if (it->second.sizes() != m_params[i].sizes())
      throw InputError("optimizer state for '" + m_names[i] + "' has the wrong shape",
                       "the checkpoint belongs to a different network; resume the run it was written by");
    m_buffers[i] = it->second.to(m_params[i].device(), m_params[i].scalar_type()).clone();
  }
  for (const auto& [name, t] : state)
    if (std::find(m_names.begin(), m_names.end(), name) == m_names.end())
      throw InputError("optimizer state names parameter '" + name + "' that this network does not have",
                       "the checkpoint belongs to a different network or head configuration");
}

}  // namespace rkd
