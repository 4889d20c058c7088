#pragma once
// The table of a study with repeated seeds (issue 22): for each row and one metric (best or last top-1), the
// sample's statistics and, against the baseline row (the student alone), the difference paired by seed. The same
// text reaches the CLI and the studio: Markdown, LaTeX (booktabs) and CSV.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/services/statistics.h"

namespace rkd::services {

/// Which top-1 of a run a study compares: its best epoch (what the field reports) or its last.
enum class StudyMetric { Best, Last };
/// "best" or "last".
std::string studyMetricName(StudyMetric metric);
/// Inverse of studyMetricName; throws InputError naming the allowed values.
StudyMetric studyMetricFromName(const std::string& name);

/// One row of a study: its label and the chosen metric of each seed's finished run.
struct StudyRowValues {
  std::string label;                 ///< as today's ablation table names rows ("student alone", "Hinton KD", ...)
  std::map<int64_t, double> bySeed;  ///< seed -> top-1 of that seed's run
  std::optional<double> paper;       ///< the paper's number for a published pair
};

/// A row with its statistics.
struct StudyRowStats {
  std::string label;
  stats::Summary summary;
  /// Against the baseline row, paired by seed; absent for the baseline itself and when there is none.
  std::optional<stats::PairedDifference> delta;
  std::optional<double> paper;
};

/// The statistics of every row; `baseline` names the row the differences are taken against (none when empty or
/// not among the rows).
std::vector<StudyRowStats> studyStatistics(const std::vector<StudyRowValues>& rows, const std::string& baseline);

/// One line per row under the header
/// row,metric,n,mean,std,ci95_low,ci95_high,delta,delta_ci95_low,delta_ci95_high,p_value,paper
/// (empty fields stay empty).
std::string studyCsv(const std::vector<StudyRowStats>& rows, StudyMetric metric);
/// "mean ± std (n)" per row, the 95% interval, the paired difference with its interval (marked * when it excludes
/// 0) and its p-value, and the paper's number; "n=1" and no interval for a single run.
std::string studyMarkdown(const std::string& title, const std::vector<StudyRowStats>& rows, StudyMetric metric);
/// A booktabs table: mean $\pm$ std (n), the difference, the paper's number; the row with the highest mean bold.
std::string studyLatex(const std::string& caption, const std::vector<StudyRowStats>& rows, StudyMetric metric);

}  // namespace rkd::services
