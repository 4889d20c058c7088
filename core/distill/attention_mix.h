#pragma once
// The attention mix of ABF (spec section 3, step 3) as one operation:
//
//   u        = nearest-resize(y) to the size of x (PyTorch's legacy "nearest")
//   [l0, l1] = att_conv(cat[x, u])          (1x1 conv, 2*C -> 2, with bias)
//   a0, a1   = sigmoid(l0), sigmoid(l1)
//   out      = x * a0 + u * a1
//
// On the CPU, for float32 maps in channels-last layout (the engine's CPU default), this runs as one fused
// kernel forward and one backward: a single pass over x and y per direction instead of the nine element-wise
// passes (resize, two convs, sigmoid, two products, sum, and the gradient accumulations) of the composite
// form, which are all bound by memory bandwidth. Everywhere else (CUDA, NCHW, other dtypes) the composite
// form runs. Both compute the same function; tests/test_distill.cpp compares them value by value and
// gradient by gradient.
#include <torch/torch.h>

namespace rkd {

struct AttentionMixResult {
  torch::Tensor out;  ///< N x C x H x W, x's size
  torch::Tensor a0;   ///< N x 1 x H x W, weight of x (no gradient flows back through it)
  torch::Tensor a1;   ///< N x 1 x H x W, weight of the resized y (no gradient flows back through it)
};

/// x: N x C x H x W; y: N x C x h x w (any h, w); weight: 2 x 2C x 1 x 1 (att_conv's weight, x half first);
/// bias: 2 or undefined. Chooses the fused kernel when fusedAttentionMixApplies() holds.
AttentionMixResult attentionMix(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                const torch::Tensor& bias);

/// The composite form (ATen operations; the reference's arithmetic). Any device, layout and dtype.
AttentionMixResult attentionMixComposite(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                         const torch::Tensor& bias);

/// The fused CPU kernel; throws when fusedAttentionMixApplies() does not hold.
AttentionMixResult attentionMixFused(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                     const torch::Tensor& bias);

/// CPU, float32, x and y 4-D channels-last contiguous, weight 2 x 2C x 1 x 1.
bool fusedAttentionMixApplies(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight);

/// Nearest resize to h x w with PyTorch's legacy "nearest" (index = floor(i * in / out)), as the reference's
/// F.interpolate.
torch::Tensor resizeNearest(const torch::Tensor& x, int64_t h, int64_t w);

/// PyTorch's legacy nearest source index for each of `outSize` positions resized from `inSize`
/// (upsample_nearest2d without a scale factor), so the fused kernel picks exactly the reference's pixels.
std::vector<int64_t> nearestSourceIndex(int64_t inSize, int64_t outSize);

}  // namespace rkd
