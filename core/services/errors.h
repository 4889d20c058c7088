#pragma once
// The errors the services throw (and return as text): UserError, and InputError for bad input. A front end
// catches these; it needs nothing else of the engine's base.
#include "core/common/errors.h"
