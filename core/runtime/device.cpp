#include "core/runtime/device.h"

#include <torch/version.h>

#include "core/common/errors.h"

namespace rkd {

std::string torchVersion() { return TORCH_VERSION; }

std::vector<std::string> availableDevices() {
  std::vector<std::string> out{"cpu"};
  if (torch::cuda::is_available())
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
      out.push_back("cuda:" + std::to_string(i));
  return out;
}

std::string deviceText(const torch::Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
}

torch::Device parseDevice(const std::string& text) {
  auto listed = [] {
    std::string s;
    for (const auto& d : availableDevices()) s += (s.empty() ? "" : ", ") + d;
    return s;
  };
  if (text == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (text == "cpu") return torch::Device(torch::kCPU);
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw InputError("device '" + text + "' requested but this build of LibTorch sees no CUDA device",
                       "choose device cpu or auto (devices here: " + listed() + ")");
    int64_t index = 0;
    if (text.size() > 5) {
      try {
        size_t used = 0;
        index = std::stoll(text.substr(5), &used);
        if (used != text.size() - 5) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        throw InputError("device '" + text + "' is not of the form cuda:N", "use one of: " + listed());
      }
    }
    if (index < 0 || index >= static_cast<int64_t>(torch::cuda::device_count()))
      throw InputError("device '" + text + "' does not exist", "use one of: " + listed());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw InputError("unknown device '" + text + "'", "use auto, cpu, cuda or cuda:N (devices here: " + listed() + ")");
}

void convertToChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard noGrad;
  for (auto& p : module.parameters(true))
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  for (auto& b : module.buffers(true))
    if (b.dim() == 4) b.set_data(b.data().contiguous(torch::MemoryFormat::ChannelsLast));
}

}  // namespace rkd
