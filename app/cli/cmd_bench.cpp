// `reviewkd bench step|epoch`: times the training step the trainer runs, on synthetic CIFAR-shaped data.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "app/cli/commands.h"
#include "core/common/device.h"
#include "core/common/threads.h"
#include "core/train/run_config.h"
#include "core/train/training_step.h"

#ifdef REVIEWKD_HAS_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace rkd::cli {
namespace {

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
};

void synchronize(const torch::Device& device) {
#ifdef REVIEWKD_HAS_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int benchStep(const BenchArgs& a) {
  const int threads = useThreads(a.threads);
  const torch::Device device = parseDevice(a.device);
  torch::manual_seed(0);
  StepOptions opts;
  if (a.method == "reviewkd") opts.settings.method = Method::ReviewKD;
  else if (a.method == "kd") opts.settings.method = Method::HintonKD;
  else opts.settings.method = Method::StudentAlone;
  opts.settings.reviewWeight = referenceReviewWeight(a.teacher, a.student);
  opts.settings.warmupEpochs = 0;
  if (opts.settings.method == Method::HintonKD) opts.settings.kdWeight = 0.9;
  opts.device = device;
  opts.channelsLast = a.channelsLast == "on" || (a.channelsLast == "auto" && device.is_cpu());
  opts.teacherBatchStats = a.teacherMode == "batch-stats";
  opts.imageSize = a.size;
  Backbone student = createBackbone({a.student, a.classes, 3});
  Backbone teacher = opts.settings.method == Method::StudentAlone ? nullptr : createBackbone({a.teacher, a.classes, 3});
  TrainingStep step(student, teacher, opts);
  auto images = torch::randn({a.batch, 3, a.size, a.size}).to(device);
  auto labels = torch::randint(0, a.classes, {a.batch}, torch::kLong).to(device);
  std::printf("bench step: %s -> %s, %s, batch %lld, %lldx%lld, device %s, %d threads, channels-last %s, teacher %s\n",
              a.teacher.c_str(), a.student.c_str(), a.method.c_str(), static_cast<long long>(a.batch),
              static_cast<long long>(a.size), static_cast<long long>(a.size), deviceText(device).c_str(), threads,
              opts.channelsLast ? "on" : "off", opts.teacherBatchStats ? "batch-stats" : "eval, BN folded");
  std::vector<double> times;
  for (int i = 0; i < a.warmup + a.steps; ++i) {
    synchronize(device);
    auto t0 = std::chrono::steady_clock::now();
    auto parts = step.run(images, labels, 1);
    (void)parts.total.item<double>();
    synchronize(device);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= a.warmup) times.push_back(ms);
  }
  const double med = median(times);
  std::printf("steps timed: %d (after %d warm-up), min_ms=%.1f max_ms=%.1f\n", a.steps, a.warmup,
              *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end()));
  std::printf("median_ms=%.1f img_per_s=%.1f\n", med, 1000.0 * static_cast<double>(a.batch) / med);
  return kSuccess;
}

}  // namespace

void addBenchCommand(CLI::App& app, Command& command) {
  auto* bench = app.add_subcommand("bench", "benchmarks that print numbers (no pass/fail)");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  auto* step = bench->add_subcommand("step", "time the full training step (teacher forward, student forward and "
                                             "backward, head, optimizer); last line: median_ms=<x> img_per_s=<y>");
  step->add_option("--teacher", args->teacher, "teacher network (default resnet56)");
  step->add_option("--student", args->student, "student network (default resnet20)");
  step->add_option("--method", args->method, "reviewkd, kd or student-alone")
      ->check(CLI::IsMember({"reviewkd", "kd", "student-alone"}));
  step->add_option("--batch", args->batch, "batch size (default 128)")->check(CLI::PositiveNumber);
  step->add_option("--size", args->size, "image size (default 32)")->check(CLI::Range(28, 512));
  step->add_option("--steps", args->steps, "timed steps (default 15)")->check(CLI::PositiveNumber);
  step->add_option("--warmup", args->warmup, "untimed warm-up steps (default 3)")->check(CLI::NonNegativeNumber);
  step->add_option("--device", args->device, "cpu, cuda, cuda:N or auto (default cpu)");
  step->add_option("--threads", args->threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  step->add_option("--channels-last", args->channelsLast, "auto (on for CPU), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  step->add_option("--teacher-mode", args->teacherMode, "eval (frozen, BN folded) or batch-stats (the reference)")
      ->check(CLI::IsMember({"eval", "batch-stats"}));
  step->callback([&command, args] { command.action = [args] { return benchStep(*args); }; });
}

}  // namespace rkd::cli
