#pragma once
// The fused attention-mix kernels on raw float pointers (no torch here), for one image in channels-last layout.
// attention_mix_kernel.inc holds their one definition; it is compiled twice, into rkd::mixkernel::base (the
// baseline instruction set) and rkd::mixkernel::avx2 (AVX2 + FMA, x86-64 only), and `kernels()` picks one at
// run time from what the CPU supports. Math: see attention_mix.h.
#include <cstdint>

namespace rkd::mixkernel {

struct Geometry {
  int64_t c = 0, h = 0, w = 0, yh = 0, yw = 0;
  const int64_t* row = nullptr;  ///< source row in y of each output row
  const int64_t* col = nullptr;  ///< source column in y of each output column
};

/// wt: 2 x 2C (row k: logit k's weights over [x, resized y]); writes out (H*W*C) and a0, a1 (H*W each).
using ForwardFn = void (*)(const Geometry& g, const float* x, const float* y, const float* wt, float b0, float b1,
                           float* out, float* a0, float* a1);
/// Writes gx (H*W*C); accumulates into gy (h*w*C), gw (2 x 2C) and gb (2).
using BackwardFn = void (*)(const Geometry& g, const float* x, const float* y, const float* wt, const float* a0,
                            const float* a1, const float* gout, float* gx, float* gy, float* gw, float* gb);

struct Kernels {
  ForwardFn forward;
  BackwardFn backward;
};

/// The fastest variant this CPU runs (decided once).
const Kernels& kernels();

/// The variants, one per instruction set (defined by attention_mix_kernel.inc in each translation unit).
namespace base {
Kernels table();
}
#if defined(__x86_64__)
namespace avx2 {
Kernels table();
}
#endif

}  // namespace rkd::mixkernel
