#pragma once
// ONNX export of a zoo network for inference: the logits of the eval-mode network with every BatchNorm that
// directly follows a convolution folded into it, as an ONNX model that other runtimes (OpenCV DNN, ONNX
// Runtime...) load.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/common/files.h"
#include "core/models/backbone.h"

namespace rkd {

/// How exportOnnx writes the model.
struct OnnxExportOptions {
  int64_t batch = 1;          ///< fixed batch size of the graph input (ignored when dynamicBatch)
  bool dynamicBatch = false;  ///< the input's first dimension is the symbol "batch" instead of a number
  int64_t opset = 13;         ///< ONNX operator set, 13..17
  /// A regular file already at the path: replaced, or refused (a user's export without --force).
  ExistingFile existing = ExistingFile::Replace;
};

/// What exportOnnx wrote.
struct OnnxExportReport {
  int64_t nodes = 0;                        ///< nodes of the graph
  std::map<std::string, int64_t> opCounts;  ///< nodes per operator type ("Conv" -> 20, ...)
  int64_t foldedBatchNorms = 0;             ///< BatchNorms folded into the convolution before them
  int64_t initializers = 0;                 ///< constant tensors (weights, biases, shapes)
  std::string inputName;                    ///< "input": N x C x H x W float
  std::string outputName;                   ///< "logits": N x classes float
  std::vector<int64_t> inputShape;          ///< N, C, H, W; N is -1 for a dynamic batch
  std::vector<int64_t> outputShape;         ///< N, classes; N is -1 for a dynamic batch
};

/// Writes the logits of `net` for imageSize x imageSize inputs (net's input channels) as an ONNX model at
/// `path`: graph input "input" (N x C x H x W float), output "logits" (N x classes).
///
/// The eval-mode network is folded with fuseForInference (WRN's pre-activation BatchNorms stay as
/// BatchNormalization nodes), its logits-only forward is traced with LibTorch's tracer, and the traced
/// operations become ONNX nodes (Conv, BatchNormalization, Relu, Add, Gemm, GlobalAveragePool, Flatten,
/// MaxPool, Pad + AveragePool, Concat, Slice, Reshape, Transpose); the network's tensors become initializers.
/// No Identity node is written (some importers refuse those). The model is checked with ONNX's checker and
/// strict shape inference before it is written; the file is written atomically. `net` itself is not changed.
///
/// Throws rkd::InputError for bad options, an input smaller than the network accepts, an unwritable file,
/// or a traced operation with no ONNX mapping (the message names it).
OnnxExportReport exportOnnx(const Backbone& net, int64_t imageSize, const std::string& path,
                            const OnnxExportOptions& options = {});

}  // namespace rkd
