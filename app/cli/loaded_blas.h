#pragma once
// Which BLAS library this process really calls. Debian's LibTorch links the system libblas.so.3, which the
// alternatives system (or LD_LIBRARY_PATH) points at the reference BLAS or at OpenBLAS, and the choice changes
// the last bits of every matrix product: parity results are only comparable when the BLAS is known.
#include <string>

namespace rkd::cli {

/// The file that provides `sgemm_` in this process, symlinks resolved (e.g.
/// /usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0), followed by OpenBLAS's build and CPU kernel in
/// parentheses when the provider is OpenBLAS. A text saying why when no `sgemm_` is loaded (a LibTorch that
/// carries its own GEMM, e.g. with MKL inside).
std::string loadedBlasText();

}  // namespace rkd::cli
