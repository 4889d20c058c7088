#include "core/distill/attention_mix.h"

#include <cmath>

#include "core/common/errors.h"
#include "core/runtime/threads.h"
#include "core/distill/attention_mix_kernel.h"

namespace rkd {
namespace F = torch::nn::functional;

// ------------------------------------------------------------------------------------------ composite form

torch::Tensor resizeNearest(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kNearest));
}

AttentionMixResult attentionMixComposite(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                         const torch::Tensor& bias) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor u = resizeNearest(y, h, w);
  // att_conv over cat([x, u]) as the sum of its two halves: the same function without materialising the
  // 2C-channel concatenation.
  torch::Tensor logits = torch::conv2d(x, weight.narrow(1, 0, c), bias) + torch::conv2d(u, weight.narrow(1, c, c));
  torch::Tensor z = torch::sigmoid(logits);
  torch::Tensor a0 = z.select(1, 0).view({n, 1, h, w});
  torch::Tensor a1 = z.select(1, 1).view({n, 1, h, w});
  return {x * a0 + u * a1, a0.detach(), a1.detach()};
}

// ---------------------------------------------------------------------------------------------- fused form

std::vector<int64_t> nearestSourceIndex(int64_t inSize, int64_t outSize) {
  std::vector<int64_t> index(static_cast<size_t>(outSize));
  const float scale = static_cast<float>(inSize) / static_cast<float>(outSize);
  for (int64_t i = 0; i < outSize; ++i) {
    if (outSize == inSize) index[i] = i;
    else if (outSize == 2 * inSize) index[i] = i >> 1;
    else index[i] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(i) * scale)), inSize - 1);
  }
  return index;
}

namespace {

using mixkernel::Geometry;

struct Prepared {
  Geometry geometry;
  std::vector<int64_t> row, col;
  torch::Tensor wt;  // 2 x 2C float, contiguous
  float b0 = 0, b1 = 0;
};

Prepared prepare(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                 const torch::Tensor& bias) {
  Prepared p;
  p.geometry.c = x.size(1);
  p.geometry.h = x.size(2);
  p.geometry.w = x.size(3);
  p.geometry.yh = y.size(2);
  p.geometry.yw = y.size(3);
  p.row = nearestSourceIndex(p.geometry.yh, p.geometry.h);
  p.col = nearestSourceIndex(p.geometry.yw, p.geometry.w);
  p.geometry.row = p.row.data();
  p.geometry.col = p.col.data();
  p.wt = weight.detach().reshape({2, 2 * p.geometry.c}).contiguous();
  auto b = bias.detach().contiguous();
  p.b0 = b.data_ptr<float>()[0];
  p.b1 = b.data_ptr<float>()[1];
  return p;
}

class AttentionMixFunction : public torch::autograd::Function<AttentionMixFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                                const torch::Tensor& y, const torch::Tensor& weight,
                                                const torch::Tensor& bias) {
    const Prepared p = prepare(x, y, weight, bias);
    const Geometry& g = p.geometry;
    const int64_t n = x.size(0), hw = g.h * g.w;
    auto out = torch::empty_like(x, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    auto a0 = torch::empty({n, 1, g.h, g.w}, x.options());
    auto a1 = torch::empty({n, 1, g.h, g.w}, x.options());
    const float* xd = x.data_ptr<float>();
    const float* yd = y.data_ptr<float>();
    const float* wd = p.wt.data_ptr<float>();
    float* od = out.data_ptr<float>();
    float* a0d = a0.data_ptr<float>();
    float* a1d = a1.data_ptr<float>();
    const int64_t xImage = hw * g.c, yImage = g.yh * g.yw * g.c;
    const auto forwardImage = mixkernel::kernels().forward;
    parallelChunks(n, [&](int64_t begin, int64_t end, int) {
      for (int64_t b = begin; b < end; ++b)
        forwardImage(g, xd + b * xImage, yd + b * yImage, wd, p.b0, p.b1, od + b * xImage, a0d + b * hw, a1d + b * hw);
    });
    ctx->save_for_backward({x, y, weight, bias, a0, a1});
    ctx->mark_non_differentiable({a0, a1});
    return {out, a0, a1};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& y = saved[1];
    const torch::Tensor& weight = saved[2];
    const torch::Tensor& bias = saved[3];
    const torch::Tensor& a0 = saved[4];
    const torch::Tensor& a1 = saved[5];
    const Prepared p = prepare(x, y, weight, bias);
    const Geometry& g = p.geometry;
    const int64_t n = x.size(0), c = g.c, hw = g.h * g.w;
    const auto cl = torch::MemoryFormat::ChannelsLast;
    torch::Tensor gout =
        grads[0].defined() ? grads[0].contiguous(cl) : torch::zeros_like(x, x.options().memory_format(cl));
    auto gx = torch::empty_like(x, x.options().memory_format(cl));
    auto gy = torch::zeros_like(y, y.options().memory_format(cl));
    // Weight and bias gradients: one float accumulator per image (summed over its H*W pixels), then one double
    // sum over the images per thread, then over threads.
    const int threads = parallelChunkCount(n);
    const int64_t gwSize = 4 * c + 2;
    std::vector<double> perThread(static_cast<size_t>(threads * gwSize), 0.0);
    const float* xd = x.data_ptr<float>();
    const float* yd = y.data_ptr<float>();
    const float* wd = p.wt.data_ptr<float>();
    const float* a0d = a0.data_ptr<float>();
    const float* a1d = a1.data_ptr<float>();
    const float* gd = gout.data_ptr<float>();
    float* gxd = gx.data_ptr<float>();
    float* gyd = gy.data_ptr<float>();
    const int64_t xImage = hw * c, yImage = g.yh * g.yw * c;
    const auto backwardImage = mixkernel::kernels().backward;
    parallelChunks(n, [&](int64_t begin, int64_t end, int worker) {
      std::vector<float> image(static_cast<size_t>(gwSize));
      double* acc = perThread.data() + worker * gwSize;
      for (int64_t b = begin; b < end; ++b) {
        std::fill(image.begin(), image.end(), 0.0f);
        backwardImage(g, xd + b * xImage, yd + b * yImage, wd, a0d + b * hw, a1d + b * hw, gd + b * xImage,
                      gxd + b * xImage, gyd + b * yImage, image.data(), image.data() + 4 * c);
        for (int64_t k = 0; k < gwSize; ++k) acc[k] += image[k];
      }
    });
    std::vector<double> total(static_cast<size_t>(gwSize), 0.0);
    for (int t = 0; t < threads; ++t)
      for (int64_t k = 0; k < gwSize; ++k) total[k] += perThread[t * gwSize + k];
    auto gw = torch::empty({2, 2 * c}, torch::kDouble);
    std::copy(total.begin(), total.begin() + 4 * c, gw.data_ptr<double>());
    torch::Tensor gwOut = gw.to(weight.scalar_type()).reshape(weight.sizes());
    torch::Tensor gbOut = torch::tensor({total[4 * c], total[4 * c + 1]}, torch::kDouble).to(bias.scalar_type());
    return {gx, gy, gwOut, gbOut};
  }
};

}  // namespace

bool fusedAttentionMixApplies(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight) {
  const auto cl = torch::MemoryFormat::ChannelsLast;
  return x.dim() == 4 && y.dim() == 4 && x.device().is_cpu() && y.device().is_cpu() && weight.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && y.scalar_type() == torch::kFloat &&
         weight.scalar_type() == torch::kFloat && x.size(0) == y.size(0) && x.size(1) == y.size(1) &&
         weight.dim() == 4 && weight.size(0) == 2 && weight.size(1) == 2 * x.size(1) && weight.size(2) == 1 &&
         weight.size(3) == 1 && x.is_contiguous(cl) && y.is_contiguous(cl);
}

AttentionMixResult attentionMixFused(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                     const torch::Tensor& bias) {
  if (!fusedAttentionMixApplies(x, y, weight))
    throw InputError("the fused attention mix needs float32 CPU maps in channels-last layout",
                     "use attentionMix(), which falls back to the composite form");
  if (bias.defined() && (bias.numel() != 2 || bias.scalar_type() != torch::kFloat || !bias.device().is_cpu()))
    throw InputError("the attention bias must be 2 float32 values on the CPU", "pass att_conv's bias");
  // LibTorch's custom autograd functions take no undefined tensor: a missing bias is a zero bias.
  const torch::Tensor b = bias.defined() ? bias : torch::zeros({2}, x.options());
  auto r = AttentionMixFunction::apply(x, y, weight, b);
  return {r[0], r[1], r[2]};
}

AttentionMixResult attentionMix(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& weight,
                                const torch::Tensor& bias) {
  if (fusedAttentionMixApplies(x, y, weight)) return attentionMixFused(x, y, weight, bias);
  return attentionMixComposite(x, y, weight, bias);
}

}  // namespace rkd
