#include "core/services/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace rkd::services::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The continued fraction of I_x(a, b) (its even and odd terms), evaluated from the front with the modified
// Lentz method; it converges fast for x < (a + 1) / (a + b + 2).
double betaFraction(double x, double a, double b) {
  constexpr int kMaxTerms = 500;
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-16;
  const auto guard = [](double v) { return std::abs(v) < kTiny ? kTiny : v; };
  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double result = d;
  for (int m = 1; m <= kMaxTerms; ++m) {
    const double md = m;
    // Even term.
    double term = md * (b - md) * x / ((a + 2.0 * md - 1.0) * (a + 2.0 * md));
    d = 1.0 / guard(1.0 + term * d);
    c = guard(1.0 + term / c);
    result *= d * c;
    // Odd term.
    term = -(a + md) * (a + b + md) * x / ((a + 2.0 * md) * (a + 2.0 * md + 1.0));
    d = 1.0 / guard(1.0 + term * d);
    c = guard(1.0 + term / c);
    const double step = d * c;
    result *= step;
    if (std::abs(step - 1.0) < kEps) break;
  }
  return result;
}

}  // namespace

double incompleteBeta(double x, double a, double b) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
    throw std::invalid_argument("incompleteBeta: needs a, b > 0 and 0 <= x <= 1");
  if (x == 0 || x == 1) return x;
  // x^a (1 - x)^b / (a B(a, b)), in logarithms.
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * betaFraction(x, a, b) / a;
  return 1.0 - front * betaFraction(1.0 - x, b, a) / b;  // the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
}

double studentTTwoSided(double t, double df) {
  if (!(df > 0)) throw std::invalid_argument("studentTTwoSided: needs df > 0");
  if (std::isnan(t)) return kNaN;
  if (std::isinf(t)) return 0.0;
  return incompleteBeta(df / (df + t * t), df / 2.0, 0.5);
}

double studentTCdf(double t, double df) {
  const double tail = studentTTwoSided(t, df) / 2.0;  // P(T >= |t|)
  return t >= 0 ? 1.0 - tail : tail;
}

double studentTQuantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw std::invalid_argument("studentTQuantile: needs 0 < p < 1");
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -studentTQuantile(1.0 - p, df);
  // Bracket, then bisect the monotone CDF to the last bit that changes it.
  double lo = 0.0, hi = 1.0;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2.0;
    if (hi > 1e300) return std::numeric_limits<double>::infinity();
  }
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (studentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Summary summarize(const std::vector<double>& values, double confidence) {
  Summary s;
  s.n = values.size();
  if (values.empty()) {
    s.mean = s.sd = s.min = s.max = kNaN;
    return s;
  }
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  if (s.n < 2) {
    s.sd = kNaN;
    return s;
  }
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / static_cast<double>(s.n - 1));
  const double half = studentTQuantile(0.5 + confidence / 2.0, static_cast<double>(s.n - 1)) * s.sd /
                      std::sqrt(static_cast<double>(s.n));
  s.ciLow = s.mean - half;
  s.ciHigh = s.mean + half;
  return s;
}

PairedDifference pairedDifference(const std::map<int64_t, double>& row, const std::map<int64_t, double>& baseline,
                                  double confidence) {
  std::vector<double> differences;
  for (const auto& [seed, value] : row) {
    const auto other = baseline.find(seed);
    if (other != baseline.end()) differences.push_back(value - other->second);
  }
  const Summary s = summarize(differences, confidence);
  PairedDifference d;
  d.n = s.n;
  d.mean = s.mean;
  d.sd = s.sd;
  d.ciLow = s.ciLow;
  d.ciHigh = s.ciHigh;
  if (s.n >= 2) {
    if (s.sd == 0) {
      d.pValue = s.mean == 0 ? 1.0 : 0.0;
    } else {
      const double t = s.mean / (s.sd / std::sqrt(static_cast<double>(s.n)));
      d.pValue = studentTTwoSided(t, static_cast<double>(s.n - 1));
    }
  }
  return d;
}

}  // namespace rkd::services::stats
