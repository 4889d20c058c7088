#include "core/common/version.h"

#include <torch/version.h>

namespace rkd {
std::string buildVersion() { return REVIEWKD_VERSION; }
std::string torchVersion() { return TORCH_VERSION; }
}  // namespace rkd
