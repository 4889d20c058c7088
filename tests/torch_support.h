#pragma once
// Helpers of the core test suites that need LibTorch (tensors, networks, the services' presets), on top of
// test_support.h.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/io/tensor_file.h"
#include "test_support.h"

namespace rkdtest {

/// max|a - b| / max(max|b|, 1e-6), the error measure of shared/golden/README.md.
double relError(const torch::Tensor& a, const torch::Tensor& b);
/// BN statistics and affine parameters far from the identity, so that folding them really has to be right.
void randomiseBatchNorms(torch::nn::Module& net);
/// BatchNorm2d modules of a network.
int64_t countBatchNorms(torch::nn::Module& net);
/// The quick preset's teacher shrunk for a CLI test: resnet8 on the synthetic MNIST at `dataDir`, all its images,
/// no crop, batch 32, lr 0.05, one thread, `epochs` epochs, named `name`.
rkd::RunConfig tinyMnistTeacher(const std::string& dataDir, int epochs, const std::string& name);

}  // namespace rkdtest
