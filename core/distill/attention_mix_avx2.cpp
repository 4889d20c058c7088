// The attention-mix kernels compiled for AVX2 + FMA (this file gets -mavx2 -mfma; see CMakeLists.txt).
#if defined(__x86_64__)
#define RKD_MIX_NS avx2
#include "core/distill/attention_mix_kernel.inc"
#endif
