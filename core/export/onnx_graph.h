#pragma once
// Internal to reviewkd_export: an ONNX model under construction, on ONNX's own protobuf classes. Knows nothing
// of torch: names, initializers, nodes, attributes, validation and serialisation.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

namespace rkd {

/// One ONNX model: a single graph in the default domain at one opset.
class OnnxModelBuilder {
 public:
  /// `producerVersion` goes into the model's metadata beside the producer name "ReviewKD Studio".
  OnnxModelBuilder(const std::string& graphName, int64_t opset, const std::string& producerVersion);

  /// Declares a float graph input or output; a negative dimension becomes the symbolic dimension "batch".
  void addInput(const std::string& name, const std::vector<int64_t>& dims);
  void addOutput(const std::string& name, const std::vector<int64_t>& dims);

  /// A float32 initializer holding `data` (row-major, product of dims values). Named `wanted` when that name is
  /// free, else `wanted_<k>`; returns the name.
  std::string addFloats(const std::string& wanted, const std::vector<int64_t>& dims, const float* data);
  /// A 1-D int64 initializer (shapes, pads, slice bounds); the same `wanted` and values give the same one.
  std::string addInt64s(const std::string& wanted, const std::vector<int64_t>& values);
  bool isInitializer(const std::string& name) const;

  /// Appends a node of type `op` reading `inputs`. It and its outputs are named `<op>_<k>` (`<op>_<k>_<i>` for
  /// several outputs); returns the node so the caller can add attributes.
  onnx::NodeProto& addNode(const std::string& op, const std::vector<std::string>& inputs, int outputs = 1);

  /// Renames a node output everywhere it appears (the graph's output must carry the declared name).
  void renameValue(const std::string& from, const std::string& to);

  /// ONNX's checker, then strict shape inference (which also checks the inferred shapes against the declared
  /// input and output shapes). Throws std::runtime_error carrying ONNX's message.
  void validate() const;

  const onnx::ModelProto& model() const { return m_model; }
  /// Nodes per operator type.
  std::map<std::string, int64_t> opCounts() const;

 private:
  std::string freeName(const std::string& wanted);
  void declare(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& dims);

  onnx::ModelProto m_model;
  std::set<std::string> m_names;
  std::set<std::string> m_initializers;
  std::map<std::pair<std::string, std::vector<int64_t>>, std::string> m_int64s;
  std::map<std::string, int64_t> m_nextIndex;
};

/// Attribute setters for OnnxModelBuilder::addNode's result.
void setAttribute(onnx::NodeProto& node, const std::string& name, int64_t value);
void setAttribute(onnx::NodeProto& node, const std::string& name, float value);
void setAttribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values);

}  // namespace rkd
