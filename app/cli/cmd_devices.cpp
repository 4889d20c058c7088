// `reviewkd devices`: the compute devices this build sees, and (--compare) the same short ReviewKD training on
// the CPU and another device from the same seed, weights and batches, with the loss curves side by side.
#include <cmath>
#include <cstdio>

#include "app/cli/bench_step.h"
#include "app/cli/commands.h"
#include "app/cli/loaded_blas.h"
#include "core/runtime/device.h"
#include "core/common/errors.h"
#include "core/train/training_step.h"

namespace rkd::cli {
namespace {

struct DevicesArgs {
  std::string compare;
  std::string teacher = "resnet20";
  std::string student = "resnet8";
  int steps = 8;
  int64_t batch = 32;
  double tolerance = 1e-3;
};

// Total loss of each of `steps` ReviewKD steps on `device`: the benchmark's step (weights and head from seed 0,
// the device's default memory format, float32 with TF32 off on CUDA) on fixed batches.
std::vector<double> lossCurve(const DevicesArgs& a, const std::string& device, const std::vector<torch::Tensor>& images,
                              const std::vector<torch::Tensor>& labels) {
  BenchArgs b;
  b.teacher = a.teacher;
  b.student = a.student;
  b.batch = a.batch;
  b.device = device;
  auto step = makeBenchStep(b, "compare");
  const torch::Device on = step->options().device;
  std::vector<double> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const LossParts parts = step->run(step->prepare(images[i].to(on)), labels[i].to(on), 1);
    out.push_back(parts.total.item<double>());
  }
  return out;
}

int compareDevices(const DevicesArgs& a) {
  const torch::Device other = parseDevice(a.compare);
  torch::manual_seed(1234);
  std::vector<torch::Tensor> images, labels;
  for (int i = 0; i < a.steps; ++i) {
    images.push_back(torch::randn({a.batch, 3, 32, 32}));
    labels.push_back(torch::randint(0, 100, {a.batch}, torch::kLong));
  }
  const std::vector<double> cpu = lossCurve(a, "cpu", images, labels);
  const std::vector<double> dev = lossCurve(a, a.compare, images, labels);
  std::printf("ReviewKD %s -> %s, batch %lld, same seed, weights and batches; cpu vs %s (float32)\n", a.teacher.c_str(),
              a.student.c_str(), static_cast<long long>(a.batch), deviceText(other).c_str());
  std::printf("%5s %14s %14s %12s\n", "step", "cpu loss", "device loss", "rel. diff");
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double rel = std::abs(dev[i] - cpu[i]) / std::max(std::abs(cpu[i]), 1e-12);
    worst = std::max(worst, std::isfinite(rel) ? rel : INFINITY);
    std::printf("%5zu %14.8f %14.8f %12.3e\n", i, cpu[i], dev[i], rel);
  }
  const bool ok = worst <= a.tolerance;
  std::printf("max_rel_diff=%.3e tolerance=%.1e %s\n", worst, a.tolerance, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace

void addDevicesCommand(CLI::App& app, Command& command) {
  auto* sub = app.add_subcommand("devices", "list the devices this build sees; --compare DEV runs the same short "
                                            "training on the CPU and DEV and compares the loss curves");
  auto args = std::make_shared<DevicesArgs>();
  sub->add_option("--compare", args->compare, "device to compare with the CPU: cuda, cuda:N (or cpu, a self-check)");
  sub->add_option("--steps", args->steps, "training steps (default 8)")->check(CLI::PositiveNumber);
  sub->add_option("--batch", args->batch, "batch size (default 32)")->check(CLI::PositiveNumber);
  sub->add_option("--teacher", args->teacher, "teacher network (default resnet20)");
  sub->add_option("--student", args->student, "student network (default resnet8)");
  sub->add_option("--tolerance", args->tolerance, "largest relative difference of a step's loss (default 1e-3)")
      ->check(CLI::PositiveNumber);
  sub->callback([&command, args] {
    command.action = [args] {
      if (!args->compare.empty()) return compareDevices(*args);
      for (const auto& d : availableDevices()) std::printf("%s\n", d.c_str());
      std::printf("auto -> %s\n", deviceText(parseDevice("auto")).c_str());
      std::printf("cpu BLAS: %s\n", loadedBlasText().c_str());
      return 0;
    };
  });
}

}  // namespace rkd::cli
