#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rkd {

/// SGD with momentum, optional Nesterov and weight decay on every parameter, computed exactly as PyTorch's
/// torch.optim.SGD (dampening 0): d = g + wd*p; buf = d on the first step, else momentum*buf + d;
/// update = d + momentum*buf (Nesterov) or buf; p -= lr*update. Works on whole parameter lists at once
/// (multi-tensor ops), and keeps its momentum buffers by parameter name so they can be checkpointed.
class NesterovSgd {
 public:
  struct Options {
    double lr = 0.1;
    double momentum = 0.9;
    bool nesterov = true;
    double weightDecay = 5e-4;
  };

  /// `names` label `params` one to one (used for state save/load).
  NesterovSgd(std::vector<torch::Tensor> params, std::vector<std::string> names, Options options);

  /// Sets every parameter's gradient to none.
  void zeroGrad();
  /// One update from the current gradients. Parameters without a gradient are skipped (as PyTorch does).
  void step();

  void setLr(double lr) { m_options.lr = lr; }
  double lr() const { return m_options.lr; }
  const Options& options() const { return m_options; }
  /// The parameters, in the order of their names.
  const std::vector<torch::Tensor>& parameters() const { return m_params; }

  /// Momentum buffers by parameter name ("" entries are absent until the first step).
  std::map<std::string, torch::Tensor> state() const;
  /// Restores buffers saved by state(); throws rkd::InputError naming a missing or mismatched buffer.
  void loadState(const std::map<std::string, torch::Tensor>& state);

 private:
  std::vector<torch::Tensor> m_params;
  std::vector<std::string> m_names;
  std::vector<torch::Tensor> m_buffers;  // undefined until the first step
  Options m_options;
};

}  // namespace rkd
