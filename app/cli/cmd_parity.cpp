// `reviewkd parity`: runs our engine on a golden file's weights and input and prints every compared tensor.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/table_cell.h"
#include "app/cli/loaded_blas.h"
#include "core/runtime/device.h"
#include "core/common/errors.h"
#include "core/parity/pair_golden.h"
#include "core/io/tensor_file.h"
#include "core/parity/network_golden.h"

namespace rkd::cli {
namespace {

struct ParityArgs {
  std::string file;
  std::string arch;
  std::string teacher;
  std::string student;
  double reviewWeight = -1;
  std::string device = "cpu";
  bool channelsLast = false;
};

int printChecks(const std::string& title, const torch::Device& device, const std::vector<TensorCheck>& checks) {
  // The title names the file, and the keys and details come from it: printed through terminalText.
  std::printf("%s\n", terminalText(title).c_str());
  // The BLAS changes the last bits of every product (tests/parity.sh checks this line against the BLAS it pins).
  if (device.is_cpu()) std::printf("BLAS: %s\n", loadedBlasText().c_str());
  std::printf("  %-44s %12s %10s  %s\n", "tensor", "rel. error", "tolerance", "result");
  int failed = 0;
  std::vector<std::string> reasons;  // each distinct measured tolerance once, numbered as in the table
  for (const auto& c : checks) {
    std::string mark;
    if (!c.relaxedBecause.empty()) {
      auto it = std::find(reasons.begin(), reasons.end(), c.relaxedBecause);
      if (it == reasons.end()) it = reasons.insert(reasons.end(), c.relaxedBecause);
      mark = " [" + std::to_string(it - reasons.begin() + 1) + "]";
    }
    std::printf("  %-44s %12.3e %10.0e  %s%s%s%s\n", terminalText(c.name).c_str(), c.error, c.tolerance,
                c.passed() ? "ok" : "FAIL", mark.c_str(), c.detail.empty() ? "" : "  ", terminalText(c.detail).c_str());
    if (!c.passed()) ++failed;
  }
  for (size_t i = 0; i < reasons.size(); ++i)
    std::printf("[%zu] ill-conditioned key, tolerance set from a measurement: %s\n", i + 1, reasons[i].c_str());
  const auto relaxed = std::count_if(checks.begin(), checks.end(), [](const TensorCheck& c) {
    return !c.relaxedBecause.empty();
  });
  std::printf("%zu compared, %d over tolerance", checks.size(), failed);
  if (relaxed > 0)
    std::printf(" (%lld with a measured tolerance for ill-conditioned keys)", static_cast<long long>(relaxed));
  std::printf("\n");
  return failed == 0 ? kSuccess : kRunFailed;
}

}  // namespace

void addParityCommand(CLI::App& app, Command& command) {
  auto args = std::make_shared<ParityArgs>();
  auto* sub = app.add_subcommand(
      "parity", "check the engine against a golden file of the PyTorch reference (shared/golden format)");
  sub->add_option("file", args->file, "golden .pt file")->required();
  auto* arch = sub->add_option("--arch", args->arch, "network of an architectures/ file, e.g. resnet20");
  auto* teacher = sub->add_option("--teacher", args->teacher, "teacher network of a pairs/ file");
  auto* student = sub->add_option("--student", args->student, "student network of a pairs/ file");
  auto* weight = sub->add_option("--review-weight", args->reviewWeight, "review loss weight of a pairs/ file");
  sub->add_option("--device", args->device, "cpu, cuda or cuda:N (float32, TF32 off)");
  auto* cl = sub->add_flag("--channels-last", args->channelsLast,
                           "pairs: run in channels-last layout, as CPU training does (and its fused ABF kernel)");
  arch->excludes(teacher)->excludes(student)->excludes(weight)->excludes(cl);
  teacher->needs(student)->needs(weight);
  student->needs(teacher);
  sub->callback([&command, args, sub] {
    if (args->arch.empty() && args->teacher.empty())
      throw CLI::ValidationError("parity", "give --arch NAME, or --teacher T --student S --review-weight W");
    command.action = [args] {
      torch::Device device = parseDevice(args->device);
      if (device.is_cuda()) {
        // The golden tensors are float32: TF32 matmuls and convolutions would change the function.
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
      }
      TensorMap file = readTensorFile(args->file);
      if (!args->arch.empty())
        return printChecks("parity of " + args->arch + " against " + args->file + " on " + deviceText(device), device,
                           checkArchitectureGolden(args->arch, file, device));
      return printChecks("parity of " + args->teacher + " -> " + args->student + " against " + args->file + " on " +
                             deviceText(device) + (args->channelsLast ? ", channels-last" : ""),
                         device,
                         checkPairGolden(args->teacher, args->student, args->reviewWeight, file, device,
                                         args->channelsLast));
    };
  });
}

}  // namespace rkd::cli
