#pragma once
// The training step the benchmarks and `reviewkd devices --compare` run: a pair with random weights from seed 0.
#include <memory>
#include <string>

#include "core/train/training_step.h"

namespace rkd::cli {

struct BenchArgs {
  std::string teacher = "resnet56";
  std::string student = "resnet20";
  std::string method = "reviewkd";
  int64_t batch = 128;
  int64_t classes = 100;
  int64_t size = 32;
  int warmup = 3;
  int steps = 15;
  std::string device = "cpu";
  int threads = 0;
  std::string channelsLast = "auto";
  std::string teacherMode = "eval";
  int epochs = 3;
  int64_t trainImages = 50000;
  int64_t testImages = 10000;
  int nproc = 1;  ///< bench step: also time this many processes (Gloo / NCCL) and print the scaling
};

/// The ReviewKD (or KD / student-alone) step of `a` on its device, weights from seed 0, warm-up off, the pair's
/// reference review weight; prints one header line naming `what` and the settings.
/// With `group`, the step is one rank's of a data-parallel step (gradients all-reduced) on cuda:LOCAL_RANK when
/// the device is CUDA; only rank 0 prints.
std::unique_ptr<TrainingStep> makeBenchStep(const BenchArgs& a, const char* what,
                                            std::shared_ptr<dist::ProcessGroup> group = nullptr);

}  // namespace rkd::cli
