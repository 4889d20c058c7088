#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rkd {

/// "1.13.1" style LibTorch version the engine was compiled against.
std::string torchVersion();


/// Parses "auto", "cpu", "cuda" or "cuda:N". "auto" picks CUDA device 0 when LibTorch sees one, else the CPU.
/// Throws rkd::InputError naming the value and the devices this machine has.
torch::Device parseDevice(const std::string& text);

/// "cpu", "cuda:0", ... for the devices this build can use (for menus and error messages).
std::vector<std::string> availableDevices();

/// Canonical text of a device ("cpu", "cuda:0").
std::string deviceText(const torch::Device& device);

/// Converts every 4-D parameter and buffer of `module` to channels-last memory format in place (the engine's
/// CPU layout: oneDNN's fastest for these networks, and the layout of the fused ABF kernel).
void convertToChannelsLast(torch::nn::Module& module);

}  // namespace rkd
