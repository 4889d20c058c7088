#pragma once
// Terminal output of a training run: a progress bar with ETA on a terminal, plain lines otherwise.
#include <cstdio>
#include <string>

#include "core/vocabulary/progress.h"

namespace rkd::cli {

class ProgressPrinter {
 public:
  /// `tty` = stdout is a terminal (auto-detected when not given).
  ProgressPrinter();
  explicit ProgressPrinter(bool tty) : m_tty(tty) {}

  /// Callbacks that print through this printer.
  TrainerCallbacks callbacks();

  void step(const StepProgress& p);
  void epoch(const EpochProgress& e);
  void status(const std::string& s);

 private:
  void clearLine();
  bool m_tty = false;
  bool m_lineOpen = false;
  double m_lastPrint = -1;
};

/// "1h02m", "3m05s", "12s".
std::string formatDuration(double seconds);

}  // namespace rkd::cli
