#include "app/cli/loaded_blas.h"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>

namespace rkd::cli {

std::string loadedBlasText() {
  // LibTorch calls the Fortran symbol; the first library in the global lookup scope that defines it is the one
  // every call lands in, whatever the link-time name was.
  void* gemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (gemm == nullptr || dladdr(gemm, &info) == 0 || info.dli_fname == nullptr)
    return "none (no sgemm_ in this process: this LibTorch does not use the system libblas.so.3)";
  char resolved[PATH_MAX];
  std::string text = realpath(info.dli_fname, resolved) != nullptr ? resolved : info.dli_fname;
  using ConfigFn = char* (*)();
  if (auto config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config")); config != nullptr)
    text += std::string(" (") + config() + ")";
  return text;
}

}  // namespace rkd::cli
