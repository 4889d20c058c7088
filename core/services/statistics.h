#pragma once
// The statistics of repeated runs (issue 22): a row's sample summary with the Student-t confidence interval of
// its mean, and a row against a baseline paired by seed (mean difference, its interval, the two-sided paired
// t-test). Plain functions on numbers, no engine: the studies, the CLI's tables and the studio share them.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace rkd::services::stats {

/// A sample: n, mean, sample standard deviation (n - 1 in the denominator), min, max, and the interval of the
/// mean at the given confidence (Student t with n - 1 degrees of freedom). With n < 2 there is no spread and no
/// interval (sd is NaN, the interval empty); with n = 0 every number is NaN.
struct Summary {
  size_t n = 0;
  double mean = 0;
  double sd = 0;
  double min = 0;
  double max = 0;
  std::optional<double> ciLow, ciHigh;
};
Summary summarize(const std::vector<double>& values, double confidence = 0.95);

/// A row against a baseline over the seeds both have (`row[seed] - baseline[seed]`): n shared seeds, the mean
/// difference, its standard deviation, the interval of the mean difference and the two-sided paired t-test's
/// p-value (both absent below n = 2). A difference of the same value on every seed has sd 0: its interval is
/// that value and its p-value 0 (1 when the value is 0).
struct PairedDifference {
  size_t n = 0;
  double mean = 0;
  double sd = 0;
  std::optional<double> ciLow, ciHigh;
  std::optional<double> pValue;
  /// The interval excludes 0.
  bool significant() const { return ciLow && ciHigh && (*ciLow > 0 || *ciHigh < 0); }
};
PairedDifference pairedDifference(const std::map<int64_t, double>& row, const std::map<int64_t, double>& baseline,
                                  double confidence = 0.95);

/// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
double studentTCdf(double t, double df);
/// The t with P(T <= t) = p, for 0 < p < 1.
double studentTQuantile(double p, double df);
/// Two-sided p-value of a t statistic: P(|T| >= |t|).
double studentTTwoSided(double t, double df);
/// The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1.
double incompleteBeta(double x, double a, double b);

}  // namespace rkd::services::stats
