#include "core/common/version.h"


namespace rkd {
std::string buildVersion() { return REVIEWKD_VERSION; }
}  // namespace rkd
