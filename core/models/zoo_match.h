#pragma once
#include <string>
#include <vector>

#include "core/io/tensor_file.h"

namespace rkd {

/// How well a state dict fits one zoo network, by parameter names and shapes.
struct ZooFit {
  std::string arch;
  int64_t numClasses = 0;  ///< read from the file's classifier weight (0 when it has none)
  int64_t inChannels = 0;  ///< read from the file's first convolution weight (0 when it has none)
  int64_t matched = 0;     ///< network entries present in the file with the same shape
  int64_t expected = 0;    ///< entries the network has
  int64_t extra = 0;       ///< file entries the network does not have
  /// Every entry of the network is in the file with its shape, and the file has nothing else.
  bool exact() const { return matched == expected && extra == 0; }
  /// "resnet8 (100 classes, 3 input channels)", plus "; 51 of 53 entries fit, 2 others" when not exact.
  std::string describe() const;
};

/// The zoo networks that `tensors` fits best, best first: exact fits, then by the share of the network's
/// entries that fit. The class count and input channels are read from the file's shapes, so a file saved for
/// 10 classes and 1 channel fits resnet8 as well as one for 100 classes and 3 channels. At most `limit`
/// results, only networks with at least one fitting entry. The first call builds each zoo network once
/// (about a second); later calls reuse that.
std::vector<ZooFit> rankZooFits(const TensorMap& tensors, size_t limit = 3);

/// The two entries of a zoo network whose shapes depend on the data: the first convolution's weight (input
/// channels in dimension 1) and the classifier's weight (classes in dimension 0).
struct ShapeEntries {
  std::string stemWeight;        ///< "conv1.weight", "features.0.0.weight", ...
  std::string classifierWeight;  ///< "fc.weight", "classifier.weight", "linear.weight", ...
};
/// Builds one `arch` to read the names; LibTorch's global generator is left as it was.
ShapeEntries shapeEntries(const std::string& arch);

/// The input channels that `arch`'s first convolution has in `tensors` (0 when the file lacks that weight).
int64_t inputChannelsFor(const TensorMap& tensors, const std::string& arch);

/// One sentence for messages: "it fits resnet8 (100 classes, 3 input channels)", or the closest networks
/// when none fits exactly, or "" when nothing in the zoo resembles it.
std::string zooFitSentence(const TensorMap& tensors);

}  // namespace rkd
