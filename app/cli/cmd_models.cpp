// `reviewkd models`: every zoo network with its parameter count and multiply-accumulates at 32x32.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "core/models/backbone.h"

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
      for (const auto& e : zooEntries()) {
        Backbone net = createBackbone({e.name, *classes, *channels});
        net->eval();
        torch::NoGradGuard noGrad;
        auto out = net->forwardAll(torch::zeros({1, *channels, 32, 32}), false);
        std::string levels;
        for (const auto& l : distilledLevels(out, false)) {
          if (!levels.empty()) levels += " ";
          levels += std::to_string(l.size(1)) + "@" + std::to_string(l.size(2));
        }
        std::printf("%-12s %-12s %12lld %11.1fM  %s\n", e.name.c_str(), e.family.c_str(),
                    static_cast<long long>(countParameters(*net)),
                    static_cast<double>(countMacs(*net, *channels, 32)) / 1e6, levels.c_str());
      }
      return 0;
    };
  });
}

}  // namespace rkd::cli
