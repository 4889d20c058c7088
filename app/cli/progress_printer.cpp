#include "app/cli/progress_printer.h"
#include "app/cli/table_cell.h"

#include <chrono>
#include <cmath>
#include <unistd.h>

namespace rkd::cli {
namespace {
double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

ProgressPrinter::ProgressPrinter() : m_tty(isatty(STDOUT_FILENO) != 0) {}

TrainerCallbacks ProgressPrinter::callbacks() {
  TrainerCallbacks c;
  c.onStep = [this](const StepProgress& p) { step(p); };
  c.onEpoch = [this](const EpochProgress& e) { epoch(e); };
  c.onStatus = [this](const std::string& s) { status(s); };
  return c;
}

void ProgressPrinter::clearLine() {
  if (m_lineOpen) {
    std::printf("\r\033[K");
    m_lineOpen = false;
  }
}

void ProgressPrinter::step(const StepProgress& p) {
  const double now = nowSeconds();
  const bool last = p.stepInEpoch + 1 == p.stepsPerEpoch;
  if (m_tty) {
    if (!last && now - m_lastPrint < 0.2) return;
    m_lastPrint = now;
    const double frac = static_cast<double>(p.stepInEpoch + 1) / static_cast<double>(std::max<int64_t>(1, p.stepsPerEpoch));
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::printf("\r\033[Kepoch %d/%d [%s] %lld/%lld loss %.4f ce %.4f%s lr %.4g %.0f img/s ETA %s", p.epoch + 1,
                p.epochs, bar.c_str(), static_cast<long long>(p.stepInEpoch + 1),
                static_cast<long long>(p.stepsPerEpoch), p.loss, p.ce,
                p.review > 0 ? (" review " + std::to_string(p.review).substr(0, 6)).c_str() : "", p.lr,
                p.imagesPerSecond, formatDuration(p.etaSeconds).c_str());
    std::fflush(stdout);
    m_lineOpen = true;
  } else if (m_lastPrint < 0 || now - m_lastPrint >= 30) {
    // Not a terminal: an occasional plain line so logs show progress without flooding.
    m_lastPrint = now;
    std::printf("epoch %d/%d step %lld/%lld loss %.4f ce %.4f review %.4f lr %.4g %.0f img/s ETA %s\n", p.epoch + 1,
                p.epochs, static_cast<long long>(p.stepInEpoch + 1), static_cast<long long>(p.stepsPerEpoch), p.loss,
                p.ce, p.review, p.lr, p.imagesPerSecond, formatDuration(p.etaSeconds).c_str());
    std::fflush(stdout);
  }
}

void ProgressPrinter::epoch(const EpochProgress& e) {
  clearLine();
  std::printf("epoch %d/%d  train loss %.4f top-1 %.2f  test loss %.4f top-1 %.2f top-5 %.2f%s  best %.2f  lr %.4g  %s\n",
              e.epoch + 1, e.epochs, e.trainLoss, e.trainTop1, e.testLoss, e.testTop1, e.testTop5,
              e.valTop1 >= 0 ? ("  val top-1 " + std::to_string(e.valTop1).substr(0, 5)).c_str() : "", e.bestTop1,
              e.lr, formatDuration(e.seconds).c_str());
  std::fflush(stdout);
}

void ProgressPrinter::status(const std::string& s) {
  clearLine();
  // Status lines quote run names, paths and messages: escaped, newlines kept.
  std::printf("%s\n", terminalText(s, true).c_str());
  std::fflush(stdout);
}

}  // namespace rkd::cli
