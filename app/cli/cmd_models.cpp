// `reviewkd models`: every zoo network with its parameter count and multiply-accumulates at 32x32.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "core/services/inspect.h"

namespace rkd::cli {

void addModelsCommand(CLI::App& app, Command& command) {
  auto* sub = app.add_subcommand("models", "list the model zoo: parameters and MACs for a 32x32 input");
  auto classes = std::make_shared<int>(100);
  auto channels = std::make_shared<int>(3);
  sub->add_option("--classes", *classes, "number of classes (default 100)")->check(CLI::PositiveNumber);
  sub->add_option("--channels", *channels, "input channels (default 3)")->check(CLI::Range(1, 4));
  sub->callback([&command, classes, channels] {
    command.action = [classes, channels] {
      std::printf("%-12s %-12s %12s %12s  %s\n", "name", "family", "params", "MACs@32", "levels (student side, 32x32)");
      for (const auto& n : services::networkSizes(*classes, *channels)) {
        std::string levels;
        for (const auto& [c, side] : n.levels) {
          if (!levels.empty()) levels += " ";
          levels += std::to_string(c) + "@" + std::to_string(side);
        }
        std::printf("%-12s %-12s %12lld %11.1fM  %s\n", n.network.name.c_str(), n.network.family.c_str(),
                    static_cast<long long>(n.parameters), static_cast<double>(n.macs) / 1e6, levels.c_str());
      }
      return 0;
    };
  });
}

}  // namespace rkd::cli
