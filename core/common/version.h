#pragma once
#include <string>

namespace rkd {
/// The project version baked in at build time, recorded with every run.
std::string buildVersion();
}  // namespace rkd
