#include "core/export/onnx_graph.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

namespace rkd {
namespace {

// Opset 13 was released with IR version 7; a file declaring the oldest IR version its operators need is read
// by the widest range of runtimes.
constexpr int64_t kIrVersion = 7;

}  // namespace

OnnxModelBuilder::OnnxModelBuilder(const std::string& graphName, int64_t opset, const std::string& producerVersion) {
  m_model.set_ir_version(kIrVersion);
  m_model.set_producer_name("ReviewKD Studio");
  m_model.set_producer_version(producerVersion);
  auto* set = m_model.add_opset_import();
  set->set_domain("");
  set->set_version(opset);
  m_model.mutable_graph()->set_name(graphName);
}

std::string OnnxModelBuilder::freeName(const std::string& wanted) {
  std::string name = wanted;
  for (int64_t k = 1; m_names.count(name); ++k) name = wanted + "_" + std::to_string(k);
  m_names.insert(name);
  return name;
}

void OnnxModelBuilder::declare(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& dims) {
  m_names.insert(name);
  info->set_name(name);
  auto* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = tensor->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
}

void OnnxModelBuilder::addInput(const std::string& name, const std::vector<int64_t>& dims) {
  declare(m_model.mutable_graph()->add_input(), name, dims);
}

void OnnxModelBuilder::addOutput(const std::string& name, const std::vector<int64_t>& dims) {
  declare(m_model.mutable_graph()->add_output(), name, dims);
}

std::string OnnxModelBuilder::addFloats(const std::string& wanted, const std::vector<int64_t>& dims, const float* data) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  auto* t = m_model.mutable_graph()->add_initializer();
  t->set_name(freeName(wanted));
  t->set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  // raw_data is little-endian, as x86 and ARM hold floats in memory.
  t->set_raw_data(reinterpret_cast<const char*>(data), static_cast<size_t>(count) * sizeof(float));
  m_initializers.insert(t->name());
  return t->name();
}

std::string OnnxModelBuilder::addInt64s(const std::string& wanted, const std::vector<int64_t>& values) {
  // Slices and reshapes repeat the same few bounds and shapes: one initializer each.
  const auto known = m_int64s.find({wanted, values});
  if (known != m_int64s.end()) return known->second;
  auto* t = m_model.mutable_graph()->add_initializer();
  t->set_name(freeName(wanted));
  t->set_data_type(onnx::TensorProto_DataType_INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  t->set_raw_data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t));
  m_initializers.insert(t->name());
  m_int64s[{wanted, values}] = t->name();
  return t->name();
}

bool OnnxModelBuilder::isInitializer(const std::string& name) const { return m_initializers.count(name) > 0; }

onnx::NodeProto& OnnxModelBuilder::addNode(const std::string& op, const std::vector<std::string>& inputs, int outputs) {
  auto* node = m_model.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(freeName(op + "_" + std::to_string(m_nextIndex[op]++)));
  for (const auto& in : inputs) node->add_input(in);
  if (outputs == 1) {
    node->add_output(node->name());
  } else {
    for (int i = 0; i < outputs; ++i) node->add_output(freeName(node->name() + "_" + std::to_string(i)));
  }
  return *node;
}

void OnnxModelBuilder::renameValue(const std::string& from, const std::string& to) {
  for (auto& node : *m_model.mutable_graph()->mutable_node()) {
    for (auto& in : *node.mutable_input())
      if (in == from) in = to;
    for (auto& out : *node.mutable_output())
      if (out == from) out = to;
  }
  m_names.insert(to);
}

void OnnxModelBuilder::validate() const {
  onnx::checker::check_model(m_model);
  // Inference runs on a copy: the file keeps only the declared input and output shapes.
  onnx::ModelProto inferred = m_model;
  onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
}

std::map<std::string, int64_t> OnnxModelBuilder::opCounts() const {
  std::map<std::string, int64_t> counts;
  for (const auto& node : m_model.graph().node()) ++counts[node.op_type()];
  return counts;
}

void setAttribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INT);
  a->set_i(value);
}

void setAttribute(onnx::NodeProto& node, const std::string& name, float value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
  a->set_f(value);
}

void setAttribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INTS);
  for (int64_t v : values) a->add_ints(v);
}

}  // namespace rkd
