#pragma once

namespace rkd {

/// Sets LibTorch's intra-op thread count: every core when `requested` is 0 (Debian's LibTorch starts with
/// one), else `requested`. Throws rkd::InputError for a negative count. Returns the count now in use.
int useThreads(int requested);

}  // namespace rkd
