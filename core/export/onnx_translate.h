#pragma once
// Private to core/export: the nodes of a traced aten graph (a network's logits-only forward) as ONNX nodes.
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/export/onnx_graph.h"

namespace rkd {

/// Adds to `model` the ONNX nodes of every operation `graph`'s output depends on, one rule per traced operation.
/// The graph was traced at batch `traceBatch`; with `dynamicBatch` the batch dimension stays symbolic. Its input
/// is `inputName` (already declared) and the node computing its output is named `outputName`; the network's
/// tensors become initializers named by `parameterNames` (storage -> PyTorch name). Throws rkd::InputError naming
/// a traced operation with no ONNX mapping.
void translateTrace(OnnxModelBuilder& model, const std::string& arch,
                    std::unordered_map<const void*, std::string> parameterNames, int64_t traceBatch, bool dynamicBatch,
                    const torch::jit::Graph& graph, const std::string& inputName, const std::string& outputName);

}  // namespace rkd
