// Image folders (PNG and JPEG through stb_image) through readImageFolder.
// Input: one options byte (bits 0-1: image size 0 = as stored, 8, 32 or 1; bits 2-3: channels 0 = auto, 1, 3,
// auto), then the image file. The image goes into two class folders (a classifier needs two classes), as
// a/0.png and b/0.jpg: stb_image decides the format by the content, not the name.
#include <ATen/Parallel.h>

#include <cstdint>

#include "core/common/errors.h"
#include "core/data/readers.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rkd::fuzz::quiet();
  at::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int64_t sizes[] = {0, 8, 32, 1};
  static const int64_t channels[] = {0, 1, 3, 0};
  rkd::ImageFolderOptions options;
  options.imageSize = sizes[data[0] & 3];
  options.channels = channels[(data[0] >> 2) & 3];
  const std::string root = rkd::fuzz::scratchFolder("images");
  rkd::fuzz::scratchFolder("images/a");
  rkd::fuzz::scratchFolder("images/b");
  rkd::fuzz::writeScratch("images/a/0.png", data + 1, size - 1);
  rkd::fuzz::writeScratch("images/b/0.jpg", data + 1, size - 1);
  try {
    rkd::TensorDataset d = rkd::readImageFolder(root, options);
    const int64_t c = d.images.size(1);
    if (d.images.dim() != 4 || d.images.size(0) != 2 || !(c == 1 || c == 3) ||
        (options.channels != 0 && c != options.channels) ||
        (options.imageSize != 0 && (d.images.size(2) != options.imageSize || d.images.size(3) != options.imageSize)) ||
        d.numClasses != 2 || !d.images[0].equal(d.images[1]))
      __builtin_trap();
  } catch (const rkd::InputError&) {
  }
  return 0;
}
