// CIFAR-10 and CIFAR-100 binary batches through readCifar10 / readCifar100 (test split), gzip included.
// Input: one byte whose lowest bit chooses CIFAR-100 (1) or CIFAR-10 (0), then the batch file.
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
  const bool cifar100 = data[0] & 1;
  const std::string dir = rkd::fuzz::scratchFolder(cifar100 ? "cifar-100" : "cifar-10");
  rkd::fuzz::writeScratch(std::string(cifar100 ? "cifar-100/test.bin" : "cifar-10/test_batch.bin"), data + 1, size - 1);
  try {
    rkd::TensorDataset d = cifar100 ? rkd::readCifar100(dir, false) : rkd::readCifar10(dir, false);
    const int64_t classes = cifar100 ? 100 : 10;
    if (d.images.dim() != 4 || d.images.size(1) != 3 || d.images.size(2) != 32 || d.images.size(3) != 32 ||
        d.labels.size(0) != d.images.size(0) || d.numClasses != classes ||
        int64_t(d.classNames.size()) != classes ||
        (d.labels.numel() > 0 && (d.labels.min().item<int64_t>() < 0 || d.labels.max().item<int64_t>() >= classes)))
      __builtin_trap();
  } catch (const rkd::InputError&) {
  }
  return 0;
}
