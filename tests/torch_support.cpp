#include "torch_support.h"

#include "core/io/tensor_check.h"
#include "core/services/catalog.h"

namespace rkdtest {

double relError(const torch::Tensor& a, const torch::Tensor& b) { return rkd::relativeError(a, b); }

void randomiseBatchNorms(torch::nn::Module& net) {
  torch::NoGradGuard noGrad;
  for (const auto& m : net.modules(false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.normal_(0.0, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0.0, 0.2);
    }
  }
}

int64_t countBatchNorms(torch::nn::Module& net) {
  int64_t n = 0;
  for (const auto& m : net.modules(false)) n += m->as<torch::nn::BatchNorm2d>() != nullptr;
  return n;
}

rkd::RunConfig tinyMnistTeacher(const std::string& dataDir, int epochs, const std::string& name) {
  rkd::RunConfig c = rkd::findPreset("quick").teacher;
  c.name = name;
  c.student = "resnet8";
  c.data.kind = "mnist";
  c.data.path = dataDir;
  c.data.perClass = 0;
  c.data.cropPadding = 0;
  c.optim.epochs = epochs;
  c.optim.batchSize = 32;
  c.optim.lr = 0.05;
  c.threads = 1;
  return c;
}

}  // namespace rkdtest
