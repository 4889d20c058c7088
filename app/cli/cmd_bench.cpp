// `reviewkd bench step|epoch`: times the training step the trainer runs, on synthetic CIFAR-shaped data.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <unistd.h>

#include "app/cli/bench_step.h"
#include "app/cli/commands.h"
#include "app/cli/launch.h"
#include "core/common/errors.h"
#include "core/distributed/environment.h"
#include "core/distributed/process_group.h"
#include "core/services/catalog.h"
#include "core/runtime/device.h"
#include "core/runtime/threads.h"
#include "core/vocabulary/run_config.h"
#include "core/train/training_step.h"

#include "core/data/augment.h"

namespace rkd::cli {
namespace {


void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::unique_ptr<TrainingStep> makeBenchStep(const BenchArgs& a, const char* what,
                                            std::shared_ptr<dist::ProcessGroup> group) {
  const int threads = useThreads(a.threads);
  torch::Device device = parseDevice(a.device);
  if (group && device.is_cuda())
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(group->environment().localRank));
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
  opts.group = group;
  Backbone student = createBackbone({a.student, a.classes, 3});
  Backbone teacher = opts.settings.method == Method::StudentAlone ? nullptr : createBackbone({a.teacher, a.classes, 3});
  auto step = std::make_unique<TrainingStep>(student, teacher, opts);
  if (group && !group->primary()) return step;
  std::printf("bench %s: %s -> %s, %s, batch %lld, %lldx%lld, device %s, %d threads, channels-last %s, teacher %s\n",
              what, a.teacher.c_str(), a.student.c_str(), a.method.c_str(), static_cast<long long>(a.batch),
              static_cast<long long>(a.size), static_cast<long long>(a.size), deviceText(device).c_str(), threads,
              opts.channelsLast ? "on" : "off", opts.teacherBatchStats ? "batch-stats" : "eval, BN folded");
  return step;
}

namespace {

struct StepTiming {
  double medianMs = 0;
  double imagesPerSecond = 0;
};

// The step of `a` timed in this process; as a worker of a distributed job (`env`: torchrun's variables) one
// rank's share of the data-parallel step, images counted over every rank.
StepTiming timeStep(const BenchArgs& a, const std::optional<dist::Environment>& env) {
  std::shared_ptr<dist::ProcessGroup> group;
  if (env) group = dist::ProcessGroup::join(*env);
  auto stepPtr = makeBenchStep(a, "step", group);
  TrainingStep& step = *stepPtr;
  const torch::Device device = step.options().device;
  auto images = torch::randn({a.batch, 3, a.size, a.size}).to(device);
  auto labels = torch::randint(0, a.classes, {a.batch}, torch::kLong).to(device);
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
  StepTiming t;
  t.medianMs = median(times);
  const int world = group ? group->size() : 1;
  t.imagesPerSecond = 1000.0 * static_cast<double>(a.batch * world) / t.medianMs;
  if (!group || group->primary())
    std::printf("steps timed: %d (after %d warm-up), min_ms=%.1f max_ms=%.1f%s\n", a.steps, a.warmup,
                *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end()),
                group ? (", " + std::to_string(world) + " processes (" + group->backend() + "), batch " +
                         std::to_string(a.batch) + " each").c_str()
                      : "");
  return t;
}

// --nproc N: one process, then N processes with the same threads each (reviewkd launch), and their ratio.
int benchScaling(const BenchArgs& a) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  BenchArgs one = a;
  one.nproc = 1;
  one.threads = a.threads > 0 ? a.threads : std::max(1, cores / a.nproc);
  std::printf("== 1 process, %d thread%s\n", one.threads, one.threads == 1 ? "" : "s");
  std::fflush(stdout);
  const StepTiming base = timeStep(one, std::nullopt);
  std::printf("median_ms=%.1f img_per_s=%.1f\n", base.medianMs, base.imagesPerSecond);
  std::printf("== %d processes, %d thread%s each\n", a.nproc, one.threads, one.threads == 1 ? "" : "s");
  std::fflush(stdout);
  const std::string result =
      (std::filesystem::temp_directory_path() / ("reviewkd-bench-" + std::to_string(::getpid()) + ".txt")).string();
  ::setenv("REVIEWKD_BENCH_RESULT", result.c_str(), 1);
  LaunchArgs l;
  l.nprocPerNode = a.nproc;
  l.command = {"bench", "step", "--teacher", a.teacher, "--student", a.student, "--method", a.method,
               "--batch", std::to_string(a.batch), "--device", a.device, "--threads", std::to_string(one.threads),
               "--channels-last", a.channelsLast, "--teacher-mode", a.teacherMode, "--size", std::to_string(a.size),
               "--steps", std::to_string(a.steps), "--warmup", std::to_string(a.warmup)};
  const int code = launchWorkers(l);
  ::unsetenv("REVIEWKD_BENCH_RESULT");
  std::ifstream in(result);
  StepTiming many;
  in >> many.medianMs >> many.imagesPerSecond;
  std::filesystem::remove(result);
  if (code != 0 || !in)
    throw UserError("bench step --nproc " + std::to_string(a.nproc) + ": the workers did not report (exit " +
                    std::to_string(code) + ")", "see the workers' messages above");
  std::printf("median_ms=%.1f img_per_s=%.1f scaling=%.2f\n", many.medianMs, many.imagesPerSecond,
              many.imagesPerSecond / base.imagesPerSecond);
  return kSuccess;
}

int benchStep(const BenchArgs& a) {
  const std::optional<dist::Environment> env = dist::readEnvironment();
  if (a.nproc > 1 && !env) return benchScaling(a);
  const StepTiming t = timeStep(a, env);
  if (env) {
    // A worker of bench step --nproc (or of torchrun): rank 0 reports.
    if (!env->primary()) return kSuccess;
    if (const char* file = std::getenv("REVIEWKD_BENCH_RESULT")) {
      std::ofstream out(file);
      out << t.medianMs << " " << t.imagesPerSecond << "\n";
    }
  }
  std::printf("median_ms=%.1f img_per_s=%.1f\n", t.medianMs, t.imagesPerSecond);
  return kSuccess;
}

// Whole epochs on CIFAR-shaped data resident on the device: shuffled, augmented (crop 4 + flip) batches through
// the training step, then a test pass, exactly as the trainer runs them.
int benchEpoch(const BenchArgs& a) {
  auto stepPtr = makeBenchStep(a, "epoch");
  TrainingStep& step = *stepPtr;
  const torch::Device device = step.options().device;
  auto synthetic = [&](int64_t n, const char* name) {
    TensorDataset d;
    d.images = torch::randint(0, 256, {n, 3, a.size, a.size}, torch::kByte);
    d.labels = torch::randint(0, a.classes, {n}, torch::kLong);
    d.numClasses = a.classes;
    d.name = name;
    return d;
  };
  TensorDataset train = synthetic(a.trainImages, "synthetic/train"), test = synthetic(a.testImages, "synthetic/test");
  const Normalization norm = cifarNormalization();
  BatchLoaderOptions lo;
  lo.batchSize = a.batch;
  lo.augment = AugmentOptions{};
  lo.device = device;
  BatchLoader loader(train, norm, lo);
  std::printf("%lld training + %lld test images resident on %s, %lld steps per epoch\n",
              static_cast<long long>(a.trainImages), static_cast<long long>(a.testImages), deviceText(device).c_str(),
              static_cast<long long>(loader.batchesPerEpoch()));
  std::vector<double> times;
  for (int e = 0; e < a.epochs; ++e) {
    synchronize(device);
    auto t0 = std::chrono::steady_clock::now();
    loader.startEpoch(e);
    Batch b;
    torch::Tensor last;
    while (loader.next(b)) last = step.run(b.images, b.labels, 1).total;
    Evaluation ev = evaluateStudent(step, test, norm, false);
    (void)last.item<double>();
    synchronize(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times.push_back(s);
    std::printf("epoch %d: %.2f s (%.0f train img/s), test top-1 %.2f\n", e + 1, s,
                static_cast<double>(a.trainImages) / s, ev.top1);
    std::fflush(stdout);
  }
  // The first epoch carries one-time costs (autotuning, allocator warm-up): the median of the rest when there are.
  std::vector<double> steady(times.size() > 1 ? times.begin() + 1 : times.begin(), times.end());
  const double med = median(steady);
  std::printf("median_epoch_s=%.2f img_per_s=%.0f\n", med, static_cast<double>(a.trainImages) / med);
  return kSuccess;
}

// Options both benchmarks take: the pair, method, batch, device and execution settings.
void addStepOptions(CLI::App* sub, BenchArgs& a) {
  sub->add_option("--teacher", a.teacher, "teacher network (default resnet56)");
  sub->add_option("--student", a.student, "student network (default resnet20)");
  sub->add_option("--method", a.method, "reviewkd, kd or student-alone")
      ->check(CLI::IsMember({"reviewkd", "kd", "student-alone"}));
  sub->add_option("--batch", a.batch, "batch size (default 128)")->check(CLI::PositiveNumber);
  sub->add_option("--device", a.device, "cpu, cuda, cuda:N or auto (default cpu)");
  sub->add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  sub->add_option("--channels-last", a.channelsLast, "auto (on for CPU), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  sub->add_option("--teacher-mode", a.teacherMode, "eval (frozen, BN folded) or batch-stats (the reference)")
      ->check(CLI::IsMember({"eval", "batch-stats"}));
}

}  // namespace

void addBenchCommand(CLI::App& app, Command& command) {
  auto* bench = app.add_subcommand("bench", "benchmarks that print numbers (no pass/fail)");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  auto* step = bench->add_subcommand("step", "time the full training step (teacher forward, student forward and "
                                             "backward, head, optimizer); last line: median_ms=<x> img_per_s=<y>");
  addStepOptions(step, *args);
  step->add_option("--size", args->size, "image size (default 32)")->check(CLI::Range(28, 512));
  step->add_option("--steps", args->steps, "timed steps (default 15)")->check(CLI::PositiveNumber);
  step->add_option("--warmup", args->warmup, "untimed warm-up steps (default 3)")->check(CLI::NonNegativeNumber);
  step->add_option("--nproc", args->nproc,
                   "also time N processes (Gloo on the CPU, NCCL on GPUs), batch --batch each, threads cores/N each "
                   "unless --threads; last line adds scaling=<N-process throughput over one process>")
      ->check(CLI::Range(1, 1024));
  step->callback([&command, args] { command.action = [args] { return benchStep(*args); }; });

  auto* epoch = bench->add_subcommand("epoch", "time whole epochs (train on resident, augmented CIFAR-shaped data, "
                                               "then a test pass); last line: median_epoch_s=<x> img_per_s=<y>");
  addStepOptions(epoch, *args);
  epoch->add_option("--epochs", args->epochs, "epochs timed (default 3; the first is reported, not counted)")
      ->check(CLI::PositiveNumber);
  epoch->add_option("--train-images", args->trainImages, "training images (default 50000)")->check(CLI::PositiveNumber);
  epoch->add_option("--test-images", args->testImages, "test images (default 10000)")->check(CLI::PositiveNumber);
  epoch->callback([&command, args] { command.action = [args] { return benchEpoch(*args); }; });
}

}  // namespace rkd::cli
