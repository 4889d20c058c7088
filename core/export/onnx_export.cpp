// ONNX export: LibTorch's tracer records the fused network's logits-only forward as an aten graph (tensors that
// are not the input become constants), and every traced operation becomes ONNX nodes (onnx_translate.cpp).
// Tracing follows the network's real forward, so one translator serves every family of the zoo.
#include "core/export/onnx_export.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>

#include <unordered_map>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/common/version.h"
#include "core/export/onnx_graph.h"
#include "core/export/onnx_translate.h"

namespace rkd {
namespace {

// Parameter and buffer names by storage, so initializers carry the network's PyTorch names.
std::unordered_map<const void*, std::string> parameterNames(torch::nn::Module& net) {
  std::unordered_map<const void*, std::string> names;
  for (const auto& p : net.named_parameters()) names.emplace(p.value().data_ptr(), p.key());
  for (const auto& b : net.named_buffers()) names.emplace(b.value().data_ptr(), b.key());
  return names;
}

// The tracer refuses to embed a tensor that requires grad as a constant. fuseForInference's copies have none,
// but a network passed in already fused may: its parameters are frozen for the trace and restored after.
class FrozenParameters {
 public:
  explicit FrozenParameters(torch::nn::Module& net) {
    for (auto& p : net.parameters()) {
      if (!p.requires_grad()) continue;
      p.set_requires_grad(false);
      m_frozen.push_back(p);
    }
  }
  ~FrozenParameters() {
    for (auto& p : m_frozen) p.set_requires_grad(true);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<torch::Tensor> m_frozen;
};

// Records net's logits-only forward on `example` as an aten graph.
std::shared_ptr<torch::jit::Graph> traceLogits(const Backbone& net, const torch::Tensor& example) {
  const FrozenParameters frozen(*net);
  const auto forward = [&](torch::jit::Stack inputs) -> torch::jit::Stack {
    return {net->forward(inputs.at(0).toTensor())};
  };
  const auto noNames = [](const torch::autograd::Variable&) { return std::string(); };
  return torch::jit::tracer::trace({example}, forward, noNames).first->graph;
}

std::string shapeText(const std::vector<int64_t>& dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

}  // namespace

OnnxExportReport exportOnnx(const Backbone& net, int64_t imageSize, const std::string& path,
                            const OnnxExportOptions& options) {
  if (!net) throw InputError("ONNX export: no network");
  const BackboneOptions& o = net->options();
  if (!options.dynamicBatch && options.batch < 1)
    throw InputError("ONNX export batch must be a positive number, got " + std::to_string(options.batch),
                     "give a batch of 1 or more, or a dynamic batch");
  if (options.opset < 13 || options.opset > 17)
    throw InputError("ONNX export opset must be 13..17, got " + std::to_string(options.opset), "use opset 13");
  if (imageSize < 1) throw InputError("ONNX export image size must be positive, got " + std::to_string(imageSize));
  checkWriteDestination(path, options.existing);  // before the work: a device, a FIFO or a folder is refused

  torch::NoGradGuard noGrad;
  // An eval-mode copy with the foldable BatchNorms folded (a network that is already fused is used as it is).
  const Backbone fused = fuseForInference(net);
  const auto parameters = fused->parameters();
  const auto tensorOptions = parameters.empty() ? torch::TensorOptions() : parameters.front().options();
  // A dynamic batch is traced at 2, so that a batch-preserving reshape can be told from one of a single image.
  const int64_t traceBatch = options.dynamicBatch ? 2 : options.batch;
  const std::vector<int64_t> inputShape = {traceBatch, o.inChannels, imageSize, imageSize};
  std::shared_ptr<torch::jit::Graph> graph;
  try {
    graph = traceLogits(fused, torch::zeros(inputShape, tensorOptions));
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    throw InputError("ONNX export of " + o.arch + ": the network does not accept a " + shapeText(inputShape) +
                         " input (" + why + ")",
                     "export at the image size the network was trained on");
  }

  const int64_t batchDim = options.dynamicBatch ? -1 : options.batch;
  OnnxModelBuilder model(o.arch, options.opset, buildVersion());
  OnnxExportReport report;
  report.inputName = "input";
  report.outputName = "logits";
  report.inputShape = {batchDim, o.inChannels, imageSize, imageSize};
  report.outputShape = {batchDim, o.numClasses};
  model.addInput(report.inputName, report.inputShape);
  translateTrace(model, o.arch, parameterNames(*fused), traceBatch, options.dynamicBatch, *graph, report.inputName,
                 report.outputName);
  model.addOutput(report.outputName, report.outputShape);
  try {
    model.validate();
  } catch (const std::exception& e) {
    throw std::runtime_error("ONNX export of " + o.arch + " made a model that ONNX's checker refuses: " + e.what());
  }

  std::string bytes;
  if (!model.model().SerializeToString(&bytes))
    throw std::runtime_error("ONNX export of " + o.arch + ": the model could not be serialised (over 2 GB?)");
  writeFileAtomically(path, bytes.data(), bytes.size(), options.existing);

  report.opCounts = model.opCounts();
  report.nodes = model.model().graph().node_size();
  report.initializers = model.model().graph().initializer_size();
  report.foldedBatchNorms = static_cast<int64_t>(fused->foldablePairs().size());
  return report;
}

}  // namespace rkd
