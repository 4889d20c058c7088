// torch.save files (zip and legacy format, the pickle reader, the zip reader) through the functions users hit:
// readStateDict (a teacher checkpoint, `reviewkd inspect`), then loadStateDict into a small network, and
// readTensorFile (the studio's own checkpoints, `reviewkd parity`). Input: the file.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cstdint>

#include "core/common/errors.h"
#include "core/io/checkpoint.h"
#include "core/io/state_dict.h"
#include "core/io/tensor_file.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// The network the seed state dicts were saved from (tests/fuzz/make_corpus.py): nn.Sequential(Conv2d(3, 4, 3),
// BatchNorm2d(4), Flatten(), Linear(4, 2)), so that a file that matches it reaches the copy into the module.
torch::nn::Sequential& network() {
  static torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)), torch::nn::BatchNorm2d(4),
                                   torch::nn::Flatten(), torch::nn::Linear(4, 2));
  return net;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rkd::fuzz::quiet();
  at::set_num_threads(1);
  network();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rkd::fuzz::writeScratch("checkpoint.pt", data, size);
  try {
    rkd::ImportedStateDict sd = rkd::readStateDict(path);
    if (sd.tensors.empty()) __builtin_trap();  // documented: no weights is an InputError
    for (const auto& [name, t] : sd.tensors)
      if (t.is_floating_point() && t.scalar_type() != torch::kFloat) __builtin_trap();  // documented: float32
    rkd::loadStateDict(*network(), sd.tensors);
  } catch (const rkd::InputError&) {
  }
  try {
    std::vector<std::string> skipped;
    rkd::TensorMap all = rkd::readTensorFile(path, &skipped);
    if (all.empty()) __builtin_trap();
  } catch (const rkd::InputError&) {
  }
  return 0;
}
