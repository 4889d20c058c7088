// `reviewkd inspect-checkpoint FILE [--arch A --classes N --channels C]`: what a PyTorch or studio checkpoint
// holds, which zoo network it fits, and (with --arch) how it matches that network entry by entry.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/table_cell.h"
// Key names, layouts and values come from the file: every line is printed through terminalText.
#include "core/common/errors.h"
#include "core/services/inspect.h"

namespace rkd::cli {
namespace {

struct InspectArgs {
  std::string file;
  std::string arch;
  int64_t classes = 0;
  int64_t channels = 0;
};

}  // namespace

void addInspectCommand(CLI::App& app, Command& command) {
  auto a = std::make_shared<InspectArgs>();
  auto* sub = app.add_subcommand("inspect-checkpoint",
                                 "what a checkpoint file holds and which zoo network it fits (exit 2 when none)");
  sub->add_option("FILE", a->file, "a .pt/.pth file written by torch.save or by this studio")->required();
  sub->add_option("--arch", a->arch, "also match it against this network, entry by entry");
  sub->add_option("--classes", a->classes, "with --arch: classes (default: what the file has)")->check(CLI::PositiveNumber);
  sub->add_option("--channels", a->channels, "with --arch: input channels (default: what the file has)")
      ->check(CLI::Range(1, 3));
  sub->callback([&command, a] {
    command.action = [a] {
      const services::CheckpointSummary s = services::summarizeCheckpoint(a->file);
      if (!s.readable) throw InputError(s.error);
      std::printf("file:       %s\n", terminalText(a->file).c_str());
      std::printf("format:     %s\n", terminalText(s.format).c_str());
      std::printf("weights:    %lld tensors, %lld values, %s%s\n", static_cast<long long>(s.entries),
                  static_cast<long long>(s.parameters), terminalText(s.layout).c_str(),
                  s.strippedModulePrefix ? ", 'module.' prefix removed" : "");
      for (const auto& c : s.conversions) std::printf("converted:  %s\n", terminalText(c).c_str());
      for (const auto& i : s.ignored) std::printf("not loaded: %s\n", terminalText(i).c_str());
      if (!s.fitArch.empty()) {
        std::printf("fits:       %s\n", terminalText(s.fits.front()).c_str());
      } else {
        std::printf("fits:       no network of the zoo exactly\n");
        for (const auto& f : s.fits) std::printf("closest:    %s\n", terminalText(f).c_str());
      }
      if (!a->arch.empty()) {
        services::DataShape shape;
        shape.classes = a->classes > 0 ? a->classes : (s.fitClasses > 0 ? s.fitClasses : 100);
        shape.channels = a->channels > 0 ? a->channels : (s.fitChannels > 0 ? s.fitChannels : 3);
        shape.height = shape.width = 32;
        const services::ImportReport r =
            services::inspectCheckpoint(a->file, a->arch, shape, a->channels > 0 ? std::to_string(a->channels) : "auto");
        std::printf("\nagainst %s (%lld classes, %lld input channels):\n%s\n", terminalText(a->arch).c_str(),
                    static_cast<long long>(shape.classes), static_cast<long long>(r.channels), terminalText(r.describe(), true).c_str());
        return r.complete() ? kSuccess : kBadInput;
      }
      return s.fitArch.empty() ? kBadInput : kSuccess;
    };
  });
}

}  // namespace rkd::cli
