#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rkd {

/// max|a - b| / max(max|b|, 1e-6) over the whole tensor (the measure of shared/golden/README.md),
/// computed in double on the CPU. Infinity when the shapes differ.
double relativeError(const torch::Tensor& actual, const torch::Tensor& expected);

/// One compared tensor of a parity check.
struct TensorCheck {
  std::string name;        ///< the golden key, e.g. "expected.feature.2"
  double error = 0;        ///< relativeError(ours, golden)
  double tolerance = 0;    ///< pass when error <= tolerance
  std::string detail;      ///< shapes, or why it could not be compared
  bool passed() const { return error <= tolerance; }
};

/// Compares and appends one check (shape mismatch gives an infinite error with both shapes in detail).
void addCheck(std::vector<TensorCheck>& checks, const std::string& name, const torch::Tensor& actual,
              const torch::Tensor& expected, double tolerance);

/// Tolerances of shared/golden/README.md for a float32 CPU implementation.
constexpr double kFeatureTolerance = 1e-4;
constexpr double kLossTolerance = 1e-5;
constexpr double kParameterTolerance = 1e-5;

}  // namespace rkd
