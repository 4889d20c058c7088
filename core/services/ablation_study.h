#pragma once
// The ablation study of a pair: its eight rows (student alone, Hinton KD, the six switch rows of the paper's
// table), the paper's numbers beside them for a published pair, the results, and the table as text. The CLI
// prints and the studio exports the same text.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/vocabulary/progress.h"
#include "core/services/catalog.h"
#include "core/vocabulary/run_config.h"

namespace rkd {

/// The eight rows of the ablation study for one preset's student config: student alone, Hinton KD, and the
/// six switch rows of spec section 6 (same-level only ... full method), each with a short label.
std::vector<std::pair<std::string, RunConfig>> ablationGrid(const RunConfig& reviewStudent);

}  // namespace rkd

namespace rkd::services {

/// One row of the ablation table of a pair.
struct AblationRow {
  std::string label;
  RunConfig config;
  std::optional<double> published;  ///< the paper's top-1 for this row, when the pair is a published one
};
/// The eight rows (student alone, Hinton KD, the six switch rows) for a ReviewKD student config.
std::vector<AblationRow> ablationRows(const RunConfig& reviewStudent);

/// A row with its result, when it ran.
struct AblationResult {
  AblationRow row;
  int64_t runId = 0;
  std::string status = "not run";   ///< "not run", "queued", "running", or the run's final status
  std::optional<double> best, last;  ///< top-1, when the run reported any
};

/// The table's columns: Row, Review, Residual, ABF, HCL, Run, Status, Best top-1, Last top-1, vs alone, Paper.
const std::vector<std::string>& ablationHeaders();
/// The cells of each row in those columns (switches "on" or "-" for ReviewKD rows; top-1 with two decimals;
/// the difference to the student alone's best; the paper's number for a published pair).
std::vector<std::vector<std::string>> ablationCells(const std::vector<AblationResult>& rows);
/// The table as Markdown under "Ablation of <title>" (what the CLI prints and the studio exports) and as CSV.
std::string ablationMarkdown(const std::string& title, const std::vector<AblationResult>& rows);
std::string ablationCsv(const std::vector<AblationResult>& rows);

}  // namespace rkd::services
