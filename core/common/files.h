#pragma once
#include <cstddef>
#include <string>

namespace rkd {

/// Writes `size` bytes to `path` so that a reader never sees a half-written file: a temporary file beside
/// `path` first, then a rename over it. Throws rkd::InputError naming the file when the folder is missing or
/// not writable, or when the disk is full.
void writeFileAtomically(const std::string& path, const char* data, size_t size);

}  // namespace rkd
