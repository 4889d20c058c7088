// The attention-mix kernels for the baseline instruction set, and the run-time choice between variants.
#define RKD_MIX_NS base
#include "core/distill/attention_mix_kernel.inc"

namespace rkd::mixkernel {

const Kernels& kernels() {
  static const Kernels chosen = [] {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return avx2::table();
#endif
    return base::table();
  }();
  return chosen;
}

}  // namespace rkd::mixkernel
