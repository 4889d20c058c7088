#pragma once
// The build's version, for About boxes and --version (the run store records it with every run).
#include "core/common/version.h"
