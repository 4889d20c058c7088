#include "core/io/tensor_check.h"

#include <limits>
#include <sstream>

namespace rkd {

double relativeError(const torch::Tensor& actual, const torch::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) return std::numeric_limits<double>::infinity();
  auto a = actual.detach().to(torch::kCPU, torch::kDouble);
  auto b = expected.detach().to(torch::kCPU, torch::kDouble);
  if (b.numel() == 0) return 0.0;
  const double denom = std::max(b.abs().max().item<double>(), 1e-6);
  return (a - b).abs().max().item<double>() / denom;
}

void addCheck(std::vector<TensorCheck>& checks, const std::string& name, const torch::Tensor& actual,
              const torch::Tensor& expected, double tolerance) {
  TensorCheck c;
  c.name = name;
  c.tolerance = tolerance;
  std::ostringstream s;
  s << expected.sizes();
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream a;
    a << actual.sizes();
    c.detail = "shape " + a.str() + ", expected " + s.str();
  } else {
    c.detail = s.str();
  }
  c.error = relativeError(actual, expected);
  checks.push_back(std::move(c));
}

}  // namespace rkd
