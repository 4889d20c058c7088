#include "core/models/zoo_match.h"

#include <algorithm>
#include <map>


#include "core/io/state_dict.h"
#include "core/models/generator_scope.h"
#include "core/models/backbone.h"

namespace rkd {
namespace {

// Names and shapes of one zoo network built for 100 classes and 3 channels; the classifier's rows and the
// first convolution's input channels are the two dimensions a file may legitimately change.
struct Signature {
  std::string arch;
  std::vector<std::pair<std::string, std::vector<int64_t>>> entries;
  std::string classifierWeight, classifierBias, firstConv;
};

const std::vector<Signature>& signatures() {
  static const std::vector<Signature> all = [] {
    GeneratorScope borrowed;  // reading names must not move the weights of a run started later
    std::vector<Signature> out;
    for (const ZooEntry& e : zooEntries()) {
      Backbone net = createBackbone({e.name, 100, 3});
      Signature s;
      s.arch = e.name;
      for (const auto& [name, t] : stateDict(*net)) s.entries.emplace_back(name, t.sizes().vec());
      s.classifierWeight = net->classifierName() + ".weight";
      s.classifierBias = net->classifierName() + ".bias";
      for (const auto& p : net->named_parameters(true))
        if (p.value().dim() == 4) {
          s.firstConv = p.key();
          break;
        }
      out.push_back(std::move(s));
    }
    return out;
  }();
  return all;
}

}  // namespace

std::string ZooFit::describe() const {
  std::string s = arch + " (" + std::to_string(numClasses) + " classes, " + std::to_string(inChannels) +
                  " input channel" + (inChannels == 1 ? ")" : "s)");
  if (!exact())
    s += "; " + std::to_string(matched) + " of " + std::to_string(expected) + " entries fit, " + std::to_string(extra) +
         " others in the file";
  return s;
}

std::vector<ZooFit> rankZooFits(const TensorMap& tensors, size_t limit) {
  std::vector<ZooFit> fits;
  for (const Signature& s : signatures()) {
    ZooFit f;
    f.arch = s.arch;
    auto classifier = tensors.find(s.classifierWeight);
    if (classifier != tensors.end() && classifier->second.dim() == 2) f.numClasses = classifier->second.size(0);
    auto conv = tensors.find(s.firstConv);
    if (conv != tensors.end() && conv->second.dim() == 4) f.inChannels = conv->second.size(1);
    f.expected = static_cast<int64_t>(s.entries.size());
    int64_t present = 0;
    for (const auto& [name, shape] : s.entries) {
      auto it = tensors.find(name);
      if (it == tensors.end()) continue;
      ++present;
      std::vector<int64_t> want = shape;
      if ((name == s.classifierWeight || name == s.classifierBias) && f.numClasses > 0) want[0] = f.numClasses;
      if (name == s.firstConv && f.inChannels > 0) want[1] = f.inChannels;
      if (it->second.sizes().vec() == want) ++f.matched;
    }
    f.extra = static_cast<int64_t>(tensors.size()) - present;
    if (f.matched > 0) fits.push_back(f);
  }
  std::stable_sort(fits.begin(), fits.end(), [](const ZooFit& a, const ZooFit& b) {
    if (a.exact() != b.exact()) return a.exact();
    // Share of the network that fits, then fewer stray entries.
    const double fa = double(a.matched) / double(a.expected + a.extra);
    const double fb = double(b.matched) / double(b.expected + b.extra);
    return fa > fb;
  });
  if (fits.size() > limit) fits.resize(limit);
  return fits;
}

ShapeEntries shapeEntries(const std::string& arch) {
  GeneratorScope borrowed;  // reading names must not move the weights of a run started later
  Backbone net = createBackbone({arch, 1, 3});
  ShapeEntries e;
  e.classifierWeight = net->classifierName() + ".weight";
  for (const auto& p : net->named_parameters(true))
    if (p.value().dim() == 4) {
      e.stemWeight = p.key();
      break;
    }
  return e;
}

int64_t inputChannelsFor(const TensorMap& tensors, const std::string& arch) {
  auto it = tensors.find(shapeEntries(arch).stemWeight);
  return it != tensors.end() && it->second.dim() == 4 ? it->second.size(1) : 0;
}

std::string zooFitSentence(const TensorMap& tensors) {
  const std::vector<ZooFit> fits = rankZooFits(tensors);
  if (fits.empty()) return "";
  if (fits.front().exact()) return "it fits " + fits.front().describe();
  std::string s = "no zoo network fits it exactly; closest: ";
  for (size_t k = 0; k < fits.size(); ++k) s += (k ? "; " : "") + fits[k].describe();
  return s;
}

}  // namespace rkd
