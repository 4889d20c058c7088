// The traced aten graph of a network's logits-only forward as ONNX nodes: one rule per traced operation, constants
// folded at export time, the network's tensors as named initializers.
#include "core/export/onnx_translate.h"

#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_set>

#include "core/common/errors.h"

namespace rkd {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// Translates a traced aten graph into the nodes of an OnnxModelBuilder, one rule per traced operation.
class GraphTranslator {
 public:
  GraphTranslator(OnnxModelBuilder& model, std::string arch, std::unordered_map<const void*, std::string> names,
                  int64_t traceBatch, bool dynamicBatch)
      : m_model(model), m_arch(std::move(arch)), m_parameterNames(std::move(names)), m_traceBatch(traceBatch),
        m_dynamicBatch(dynamicBatch) {}

  /// Translates every node the graph's output depends on; the graph input is `inputName` (already declared)
  /// and the node computing the output is renamed `outputName`.
  void translate(const torch::jit::Graph& graph, const std::string& inputName, const std::string& outputName) {
    if (graph.inputs().size() != 1 || graph.outputs().size() != 1)
      throw std::runtime_error("ONNX export of " + m_arch + ": the traced graph has " +
                               std::to_string(graph.inputs().size()) + " inputs and " +
                               std::to_string(graph.outputs().size()) + " outputs, expected one of each");
    m_names[graph.inputs()[0]] = inputName;
    const auto needed = neededNodes(graph);
    for (const Node* node : graph.nodes())
      if (needed.count(node)) translateNode(node);
    const std::string produced = tensor(graph.outputs()[0]);
    if (produced == inputName || m_model.isInitializer(produced))
      throw InputError("ONNX export of " + m_arch + ": the logits are the input or a constant",
                       "export a network whose logits are computed from its input");
    m_model.renameValue(produced, outputName);
  }

 private:
  using Rule = void (GraphTranslator::*)(const Node*);

  // The operations the graph's output depends on (the traced forward also computes features nobody reads).
  static std::unordered_set<const Node*> neededNodes(const torch::jit::Graph& graph) {
    std::unordered_set<const Node*> needed;
    std::vector<const Value*> pending(graph.outputs().begin(), graph.outputs().end());
    while (!pending.empty()) {
      const Node* node = pending.back()->node();
      pending.pop_back();
      if (node->kind() == torch::jit::prim::Param || !needed.insert(node).second) continue;
      for (const Value* in : node->inputs()) pending.push_back(in);
    }
    return needed;
  }

  // Keyed by interned symbol (the node kinds LibTorch's own passes compare), not by their text.
  static const std::map<c10::Symbol, Rule>& rules() {
    static const std::map<c10::Symbol, Rule> table = {
        {c10::aten::_convolution, &GraphTranslator::conv},
        {c10::aten::convolution, &GraphTranslator::conv},
        {c10::aten::conv2d, &GraphTranslator::conv},
        {c10::aten::batch_norm, &GraphTranslator::batchNorm},
        {c10::aten::relu, &GraphTranslator::relu},
        {c10::aten::relu_, &GraphTranslator::relu},
        {c10::aten::add, &GraphTranslator::add},
        {c10::aten::add_, &GraphTranslator::add},
        {c10::aten::mean, &GraphTranslator::mean},
        {c10::aten::adaptive_avg_pool2d, &GraphTranslator::adaptiveAvgPool},
        {c10::aten::avg_pool2d, &GraphTranslator::avgPool},
        {c10::aten::max_pool2d, &GraphTranslator::maxPool},
        {c10::aten::linear, &GraphTranslator::linear},
        {c10::aten::addmm, &GraphTranslator::addmm},
        {c10::aten::t, &GraphTranslator::transpose},
        {c10::aten::transpose, &GraphTranslator::transpose},
        {c10::aten::permute, &GraphTranslator::transpose},
        {c10::aten::cat, &GraphTranslator::concat},
        {c10::aten::narrow, &GraphTranslator::slice},
        {c10::aten::slice, &GraphTranslator::slice},
        {c10::aten::split, &GraphTranslator::split},
        {c10::aten::split_with_sizes, &GraphTranslator::split},
        {c10::aten::chunk, &GraphTranslator::split},
        {c10::prim::ListUnpack, &GraphTranslator::listUnpack},
        {c10::aten::reshape, &GraphTranslator::reshape},
        {c10::aten::view, &GraphTranslator::reshape},
        {c10::aten::flatten, &GraphTranslator::flatten},
        {c10::aten::constant_pad_nd, &GraphTranslator::pad},
        {c10::aten::contiguous, &GraphTranslator::alias},
        {c10::aten::clone, &GraphTranslator::alias},
        {c10::aten::detach, &GraphTranslator::alias},
        {c10::aten::dropout, &GraphTranslator::alias},
    };
    return table;
  }

  void translateNode(const Node* node) {
    const c10::Symbol kind = node->kind();
    // Constants and lists are read where they are used (as attributes or initializers).
    if (kind == c10::prim::Constant || kind == c10::prim::ListConstruct) return;
    const auto it = rules().find(kind);
    if (it == rules().end()) {
      const std::string name = kind.toQualString();
      throw InputError("ONNX export of " + m_arch + ": the traced operation '" + name + "' has no ONNX translation",
                       "export a network of the zoo, or add a rule for '" + name + "' to core/export/onnx_translate.cpp");
    }
    (this->*(it->second))(node);
  }

  [[noreturn]] void refuse(const Node* node, const std::string& what) const {
    throw InputError("ONNX export of " + m_arch + ": '" + std::string(node->kind().toQualString()) + "' " + what +
                         " has no ONNX translation here",
                     "export a network of the zoo, or extend core/export/onnx_export.cpp");
  }

  // --- reading the traced graph ---------------------------------------------------------------------------

  c10::IValue constant(const Value* v) const {
    if (auto value = torch::jit::toIValue(v)) return *value;
    throw std::runtime_error("ONNX export of " + m_arch + ": '" + std::string(v->node()->kind().toQualString()) +
                             "' computes at run time a value that must be a constant");
  }

  bool isNone(const Value* v) const { return v->type()->kind() == c10::TypeKind::NoneType; }

  int64_t intOf(const Value* v) const { return constant(v).toInt(); }

  std::vector<int64_t> intsOf(const Value* v) const {
    if (v->node()->kind() == torch::jit::prim::ListConstruct) {
      std::vector<int64_t> out;
      for (const Value* item : v->node()->inputs()) out.push_back(intOf(item));
      return out;
    }
    return constant(v).toIntVector();
  }

  // A list of spatial values (kernel, stride...) at the rank the operation needs; one value stands for all.
  std::vector<int64_t> spatial(const Value* v, size_t rank) const {
    std::vector<int64_t> values = intsOf(v);
    if (values.size() == 1) values.assign(rank, values.front());
    return values;
  }

  std::optional<torch::Tensor> constantTensor(const Value* v) const {
    if (const auto it = m_folded.find(v); it != m_folded.end()) return it->second;
    if (v->node()->kind() == torch::jit::prim::Constant) {
      const auto value = torch::jit::toIValue(v);
      if (value && value->isTensor()) return value->toTensor();
    }
    return std::nullopt;
  }

  std::vector<int64_t> sizesOf(const Value* v) const {
    if (const auto t = constantTensor(v)) return t->sizes().vec();
    if (const auto type = v->type()->cast<c10::TensorType>())
      if (const auto sizes = type->sizes().concrete_sizes()) return *sizes;
    throw std::runtime_error("ONNX export of " + m_arch + ": the traced graph does not record the shape of an input of '" +
                             std::string(v->node()->kind().toQualString()) + "'");
  }

  static int64_t normalizedDim(int64_t dim, size_t rank) { return dim < 0 ? dim + static_cast<int64_t>(rank) : dim; }

  // --- values -> ONNX names -------------------------------------------------------------------------------------

  /// The ONNX name of a tensor value: a translated node's output, or an initializer made from a constant.
  std::string tensor(const Value* v) {
    if (const auto it = m_names.find(v); it != m_names.end()) return it->second;
    std::string name;
    if (const auto t = constantTensor(v)) {
      name = initializer(*t, "const");
    } else if (v->node()->kind() == torch::jit::prim::Constant) {
      const c10::IValue value = constant(v);
      if (!value.isInt() && !value.isDouble())
        refuse(v->node(), "(a constant of type " + value.type()->str() + " used as a tensor)");
      name = floats("scalar", {}, {static_cast<float>(value.toScalar().toDouble())});
    } else {
      throw std::runtime_error("ONNX export of " + m_arch + ": '" + std::string(v->node()->kind().toQualString()) +
                               "' was read before it was translated");
    }
    m_names[v] = name;
    return name;
  }

  /// One initializer per constant tensor of the graph (they stay alive as long as the graph, so their storage
  /// identifies them), named after the network's parameter when it is one.
  std::string initializer(const torch::Tensor& t, const std::string& hint) {
    const void* storage = t.data_ptr();
    if (const auto it = m_initializerOf.find(storage); it != m_initializerOf.end()) return it->second;
    const auto named = m_parameterNames.find(storage);
    const std::string name = floats(named != m_parameterNames.end() ? named->second : hint, t);
    m_initializerOf[storage] = name;
    return name;
  }

  std::string floats(const std::string& hint, const torch::Tensor& t) {
    const torch::Tensor f = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    return m_model.addFloats(hint, f.sizes().vec(), f.data_ptr<float>());
  }

  std::string floats(const std::string& hint, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    return m_model.addFloats(hint, dims, values.data());
  }

  /// Adds `op` reading `inputs`; its output is the ONNX value of the node's first output.
  onnx::NodeProto& emit(const Node* n, const std::string& op, const std::vector<std::string>& inputs) {
    onnx::NodeProto& node = m_model.addNode(op, inputs);
    m_names[n->output(0)] = node.output(0);
    return node;
  }

  // --- rules ---------------------------------------------------------------------------------------------------

  void conv(const Node* n) {
    const bool conv2d = n->kind() == c10::aten::conv2d;
    // aten::conv2d(input, weight, bias, stride, padding, dilation, groups);
    // aten::_convolution / convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
    // groups, ...)
    if (n->input(4)->type()->kind() == c10::TypeKind::StringType) refuse(n, "with string padding");
    if (!conv2d && constant(n->input(6)).toBool()) refuse(n, "(transposed)");
    const int64_t groups = intOf(n->input(conv2d ? 6 : 8));
    const std::vector<int64_t> kernel = sizesOf(n->input(1));
    const size_t rank = kernel.size() - 2;
    std::vector<int64_t> pads = spatial(n->input(4), rank);
    pads.insert(pads.end(), pads.begin(), pads.end());
    std::vector<std::string> inputs = {tensor(n->input(0)), tensor(n->input(1))};
    if (!isNone(n->input(2))) inputs.push_back(tensor(n->input(2)));
    auto& node = emit(n, "Conv", inputs);
    setAttribute(node, "kernel_shape", std::vector<int64_t>(kernel.begin() + 2, kernel.end()));
    setAttribute(node, "strides", spatial(n->input(3), rank));
    setAttribute(node, "pads", pads);
    setAttribute(node, "dilations", spatial(n->input(5), rank));
    setAttribute(node, "group", groups);
  }

  // aten::batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
  void batchNorm(const Node* n) {
    if (constant(n->input(5)).toBool()) refuse(n, "in training mode");
    if (isNone(n->input(3)) || isNone(n->input(4))) refuse(n, "without running statistics");
    const int64_t channels = sizesOf(n->input(3)).at(0);
    const std::string scale = isNone(n->input(1)) ? floats("bn_scale", {channels}, std::vector<float>(channels, 1.f))
                                                  : tensor(n->input(1));
    const std::string bias = isNone(n->input(2)) ? floats("bn_bias", {channels}, std::vector<float>(channels, 0.f))
                                                 : tensor(n->input(2));
    auto& node = emit(n, "BatchNormalization",
                      {tensor(n->input(0)), scale, bias, tensor(n->input(3)), tensor(n->input(4))});
    setAttribute(node, "epsilon", static_cast<float>(constant(n->input(7)).toDouble()));
  }

  void relu(const Node* n) { emit(n, "Relu", {tensor(n->input(0))}); }

  // aten::add(self, other, alpha)
  void add(const Node* n) {
    if (n->inputs().size() > 2 && constant(n->input(2)).toScalar().toDouble() != 1.0) refuse(n, "with alpha != 1");
    emit(n, "Add", {tensor(n->input(0)), tensor(n->input(1))});
  }

  // aten::mean(self, dim, keepdim, dtype): over the spatial dims of N x C x H x W it is the global average pool.
  void mean(const Node* n) {
    if (n->inputs().size() < 3) refuse(n, "over all elements");
    const size_t rank = sizesOf(n->input(0)).size();
    std::vector<int64_t> dims = intsOf(n->input(1));
    for (auto& d : dims) d = normalizedDim(d, rank);
    std::sort(dims.begin(), dims.end());
    const bool keepdim = constant(n->input(2)).toBool();
    if (rank == 4 && dims == std::vector<int64_t>{2, 3}) {
      const std::string pooled = m_model.addNode("GlobalAveragePool", {tensor(n->input(0))}).output(0);
      if (keepdim) {
        m_names[n->output()] = pooled;
      } else {
        setAttribute(emit(n, "Flatten", {pooled}), "axis", int64_t{1});
      }
      return;
    }
    auto& node = emit(n, "ReduceMean", {tensor(n->input(0))});
    setAttribute(node, "axes", dims);
    setAttribute(node, "keepdims", int64_t{keepdim ? 1 : 0});
  }

  void adaptiveAvgPool(const Node* n) {
    if (intsOf(n->input(1)) != std::vector<int64_t>{1, 1}) refuse(n, "to an output other than 1x1");
    emit(n, "GlobalAveragePool", {tensor(n->input(0))});
  }

  // aten::avg_pool2d(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
  void avgPool(const Node* n) {
    const std::vector<int64_t> kernel = spatial(n->input(1), 2);
    std::vector<int64_t> stride = intsOf(n->input(2));
    if (stride.empty()) stride = kernel;
    stride = stride.size() == 1 ? std::vector<int64_t>(2, stride.front()) : stride;
    const std::vector<int64_t> padding = spatial(n->input(3), 2);
    const bool ceil = constant(n->input(4)).toBool();
    const bool countPad = constant(n->input(5)).toBool();
    if (!isNone(n->input(6))) refuse(n, "with a divisor override");
    const bool padded = padding[0] > 0 || padding[1] > 0;
    std::string x = tensor(n->input(0));
    std::vector<int64_t> pads = {padding[0], padding[1], padding[0], padding[1]};
    if (padded && countPad) {
      // Zero padding as its own node: every window then holds kernel-area values, which is PyTorch's
      // count_include_pad, whatever a runtime assumes about AveragePool's padding.
      if (ceil) refuse(n, "with ceil_mode and count_include_pad");
      x = m_model.addNode("Pad", {x, m_model.addInt64s("pads", {0, 0, padding[0], padding[1], 0, 0, padding[0], padding[1]}),
                                  floats("pad_value", {}, {0.f})})
              .output(0);
      pads.assign(4, 0);
    }
    auto& node = emit(n, "AveragePool", {x});
    setAttribute(node, "kernel_shape", kernel);
    setAttribute(node, "strides", stride);
    setAttribute(node, "pads", pads);
    if (ceil) setAttribute(node, "ceil_mode", int64_t{1});
  }

  // aten::max_pool2d(self, kernel_size, stride, padding, dilation, ceil_mode)
  void maxPool(const Node* n) {
    const std::vector<int64_t> kernel = spatial(n->input(1), 2);
    std::vector<int64_t> stride = intsOf(n->input(2));
    if (stride.empty()) stride = kernel;
    stride = stride.size() == 1 ? std::vector<int64_t>(2, stride.front()) : stride;
    std::vector<int64_t> pads = spatial(n->input(3), 2);
    pads.insert(pads.end(), pads.begin(), pads.end());
    const std::vector<int64_t> dilation = spatial(n->input(4), 2);
    auto& node = emit(n, "MaxPool", {tensor(n->input(0))});
    setAttribute(node, "kernel_shape", kernel);
    setAttribute(node, "strides", stride);
    setAttribute(node, "pads", pads);
    if (dilation != std::vector<int64_t>{1, 1}) setAttribute(node, "dilations", dilation);
    if (constant(n->input(5)).toBool()) setAttribute(node, "ceil_mode", int64_t{1});
  }

  // aten::linear(input, weight, bias): y = x W^T + b
  void linear(const Node* n) {
    if (sizesOf(n->input(0)).size() != 2) refuse(n, "on an input that is not N x features");
    std::vector<std::string> inputs = {tensor(n->input(0)), tensor(n->input(1))};
    if (!isNone(n->input(2))) inputs.push_back(tensor(n->input(2)));
    setAttribute(emit(n, "Gemm", inputs), "transB", int64_t{1});
  }

  // aten::addmm(self, mat1, mat2, beta, alpha): beta * self + alpha * mat1 @ mat2 (a traced linear layer, with
  // mat2 = t(weight)). A constant mat2 is written as the untransposed weight with transB = 1: the form of a
  // linear layer that importers expect (OpenCV reads Gemm's B as out x in unless transB is 0).
  void addmm(const Node* n) {
    const Value* mat2 = n->input(2);
    const Node* producer = mat2->node();
    std::string weight;
    bool transposed = false;
    if (producer->kind() == c10::aten::t && constantTensor(producer->input(0))) {
      weight = tensor(producer->input(0));
      transposed = true;
    } else if (const auto t = constantTensor(mat2); t && t->dim() == 2) {
      weight = floats("weight", t->t());
      transposed = true;
    } else {
      weight = tensor(mat2);
    }
    auto& node = emit(n, "Gemm", {tensor(n->input(1)), weight, tensor(n->input(0))});
    setAttribute(node, "alpha", static_cast<float>(constant(n->input(4)).toScalar().toDouble()));
    setAttribute(node, "beta", static_cast<float>(constant(n->input(3)).toScalar().toDouble()));
    setAttribute(node, "transB", int64_t{transposed ? 1 : 0});
  }

  // aten::t(self), aten::transpose(self, dim0, dim1), aten::permute(self, dims); folded when self is constant.
  void transpose(const Node* n) {
    const size_t rank = sizesOf(n->input(0)).size();
    std::vector<int64_t> perm(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(i);
    const c10::Symbol kind = n->kind();
    if (kind == c10::aten::permute) {
      perm = intsOf(n->input(1));
      for (auto& d : perm) d = normalizedDim(d, rank);
    } else if (rank >= 2) {
      const int64_t a = kind == c10::aten::t ? 0 : normalizedDim(intOf(n->input(1)), rank);
      const int64_t b = kind == c10::aten::t ? 1 : normalizedDim(intOf(n->input(2)), rank);
      std::swap(perm[a], perm[b]);
    }
    if (const auto t = constantTensor(n->input(0))) {
      m_folded[n->output()] = t->permute(perm).contiguous();
      return;
    }
    setAttribute(emit(n, "Transpose", {tensor(n->input(0))}), "perm", perm);
  }

  // aten::cat(tensors, dim)
  void concat(const Node* n) {
    const Node* list = n->input(0)->node();
    if (list->kind() != torch::jit::prim::ListConstruct) refuse(n, "of a list computed at run time");
    std::vector<std::string> inputs;
    for (const Value* v : list->inputs()) inputs.push_back(tensor(v));
    const size_t rank = sizesOf(n->output()).size();
    setAttribute(emit(n, "Concat", inputs), "axis", normalizedDim(intOf(n->input(1)), rank));
  }

  std::string sliceOf(const std::string& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
    return m_model
        .addNode("Slice", {x, m_model.addInt64s("starts", {start}), m_model.addInt64s("ends", {end}),
                           m_model.addInt64s("axes", {axis}), m_model.addInt64s("steps", {step})})
        .output(0);
  }

  // aten::narrow(self, dim, start, length), aten::slice(self, dim, start, end, step)
  void slice(const Node* n) {
    const std::vector<int64_t> sizes = sizesOf(n->input(0));
    const int64_t axis = normalizedDim(intOf(n->input(1)), sizes.size());
    int64_t start = isNone(n->input(2)) ? 0 : intOf(n->input(2));
    int64_t end = 0, step = 1;
    if (n->kind() == c10::aten::narrow) {
      if (start < 0) start += sizes.at(axis);
      end = start + intOf(n->input(3));
    } else {
      end = isNone(n->input(3)) ? std::numeric_limits<int64_t>::max() : intOf(n->input(3));
      step = intOf(n->input(4));
    }
    m_names[n->output()] = sliceOf(tensor(n->input(0)), axis, start, end, step);
  }

  // aten::split(self, split_size, dim), split_with_sizes(self, sizes, dim), chunk(self, chunks, dim): one Slice
  // per piece; prim::ListUnpack hands them out.
  void split(const Node* n) {
    const std::vector<int64_t> sizes = sizesOf(n->input(0));
    const int64_t axis = normalizedDim(intOf(n->input(2)), sizes.size());
    const int64_t total = sizes.at(axis);
    std::vector<int64_t> pieces;
    const c10::Symbol kind = n->kind();
    if (kind == c10::aten::split_with_sizes) {
      pieces = intsOf(n->input(1));
    } else {
      const int64_t step = kind == c10::aten::chunk ? (total + intOf(n->input(1)) - 1) / intOf(n->input(1)) : intOf(n->input(1));
      for (int64_t at = 0; at < total; at += step) pieces.push_back(std::min(step, total - at));
    }
    const std::string x = tensor(n->input(0));
    std::vector<std::string>& outputs = m_lists[n->output()];
    int64_t at = 0;
    for (int64_t piece : pieces) {
      outputs.push_back(sliceOf(x, axis, at, at + piece, 1));
      at += piece;
    }
  }

  void listUnpack(const Node* n) {
    const auto it = m_lists.find(n->input(0));
    if (it == m_lists.end() || it->second.size() != n->outputs().size()) refuse(n, "of a list that is not a split");
    for (size_t i = 0; i < n->outputs().size(); ++i) m_names[n->output(i)] = it->second[i];
  }

  // A batch-preserving target shape in a dynamic-batch export: 0 copies the batch from the input at run time.
  std::vector<int64_t> batchAware(const Node* n, std::vector<int64_t> shape) const {
    if (!m_dynamicBatch) return shape;
    const std::vector<int64_t> in = sizesOf(n->input(0));
    const std::vector<int64_t> out = sizesOf(n->output());
    if (in.empty() || out.empty() || in[0] != m_traceBatch || out[0] != m_traceBatch)
      throw InputError("ONNX export of " + m_arch + ": '" + std::string(n->kind().toQualString()) +
                           "' mixes the batch with other dimensions, so the batch cannot be dynamic",
                       "export with a fixed batch size");
    shape[0] = 0;
    return shape;
  }

  // aten::reshape(self, shape), aten::view(self, size)
  void reshape(const Node* n) {
    const std::vector<int64_t> shape = batchAware(n, intsOf(n->input(1)));
    emit(n, "Reshape", {tensor(n->input(0)), m_model.addInt64s("shape", shape)});
  }

  // aten::flatten(self, start_dim, end_dim)
  void flatten(const Node* n) {
    const std::vector<int64_t> in = sizesOf(n->input(0));
    const int64_t start = normalizedDim(intOf(n->input(1)), in.size());
    const int64_t end = normalizedDim(intOf(n->input(2)), in.size());
    if (start == 1 && end == static_cast<int64_t>(in.size()) - 1) {
      setAttribute(emit(n, "Flatten", {tensor(n->input(0))}), "axis", int64_t{1});
      return;
    }
    const std::vector<int64_t> shape = batchAware(n, sizesOf(n->output()));
    emit(n, "Reshape", {tensor(n->input(0)), m_model.addInt64s("shape", shape)});
  }

  // aten::constant_pad_nd(self, pad, value): pad lists (begin, end) pairs from the last dimension backwards.
  void pad(const Node* n) {
    const size_t rank = sizesOf(n->input(0)).size();
    const std::vector<int64_t> torchPads = intsOf(n->input(1));
    std::vector<int64_t> pads(2 * rank, 0);
    for (size_t k = 0; 2 * k + 1 < torchPads.size(); ++k) {
      const size_t dim = rank - 1 - k;
      pads[dim] = torchPads[2 * k];
      pads[rank + dim] = torchPads[2 * k + 1];
    }
    const float value = static_cast<float>(constant(n->input(2)).toScalar().toDouble());
    emit(n, "Pad", {tensor(n->input(0)), m_model.addInt64s("pads", pads), floats("pad_value", {}, {value})});
  }

  // Operations that do not change values at inference (dropout is traced with train = false).
  void alias(const Node* n) {
    if (n->kind() == c10::aten::dropout && constant(n->input(2)).toBool()) refuse(n, "in training mode");
    if (const auto t = constantTensor(n->input(0))) {
      m_folded[n->output()] = *t;
      return;
    }
    m_names[n->output()] = tensor(n->input(0));
  }

  OnnxModelBuilder& m_model;
  std::string m_arch;
  std::unordered_map<const void*, std::string> m_parameterNames;
  int64_t m_traceBatch;
  bool m_dynamicBatch;
  std::unordered_map<const Value*, std::string> m_names;                // traced value -> ONNX value
  std::unordered_map<const Value*, torch::Tensor> m_folded;             // constants computed at export time
  std::unordered_map<const Value*, std::vector<std::string>> m_lists;   // split results, for ListUnpack
  std::unordered_map<const void*, std::string> m_initializerOf;         // storage -> initializer
};

}  // namespace

void translateTrace(OnnxModelBuilder& model, const std::string& arch,
                    std::unordered_map<const void*, std::string> parameterNames, int64_t traceBatch, bool dynamicBatch,
                    const torch::jit::Graph& graph, const std::string& inputName, const std::string& outputName) {
  GraphTranslator(model, arch, std::move(parameterNames), traceBatch, dynamicBatch).translate(graph, inputName, outputName);
}

}  // namespace rkd
