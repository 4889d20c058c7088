#pragma once
#include <string>

namespace rkd {
/// The project version baked in at build time, recorded with every run.
std::string buildVersion();
/// "1.13.1" style LibTorch version the engine was compiled against.
std::string torchVersion();
}  // namespace rkd
