// IDX (MNIST, Fashion-MNIST) through readIdx, the reader of readMnistFolder, gzip included.
// Input: a 4-byte little-endian length L, then the label file (L bytes), then the image file (the rest); an
// input shorter than that is one label file and an empty image file.
#include <ATen/Parallel.h>

#include <algorithm>
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
  size_t labelBytes = 0;
  if (size >= 4) {
    labelBytes = size_t(data[0]) | size_t(data[1]) << 8 | size_t(data[2]) << 16 | size_t(data[3]) << 24;
    data += 4;
    size -= 4;
  }
  labelBytes = std::min(labelBytes, size);
  const std::string labels = rkd::fuzz::writeScratch("labels-idx1-ubyte", data, labelBytes);
  const std::string images = rkd::fuzz::writeScratch("images-idx3-ubyte", data + labelBytes, size - labelBytes);
  try {
    rkd::TensorDataset d = rkd::readIdx(images, labels, 10);
    // What the reader promises: N x 1 x rows x cols images, N labels in [0, 10).
    if (d.images.dim() != 4 || d.images.size(1) != 1 || d.labels.size(0) != d.images.size(0) ||
        (d.labels.numel() > 0 && (d.labels.min().item<int64_t>() < 0 || d.labels.max().item<int64_t>() >= 10)))
      __builtin_trap();
  } catch (const rkd::InputError&) {
  }
  return 0;
}
