#include "synthetic_data.h"

#include <fstream>
#include <random>
#include <stdexcept>
#include <vector>

namespace rkdtest {
namespace {

void put32(std::ofstream& out, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  out.write(reinterpret_cast<const char*>(b), 4);
}

void writeSplit(const std::string& dir, const std::string& prefix, int perClass, std::mt19937& rng) {
  const int n = perClass * 10;
  std::ofstream images(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
  std::ofstream labels(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
  if (!images || !labels) throw std::runtime_error("cannot write synthetic data into " + dir);
  put32(images, 2051);
  put32(images, static_cast<uint32_t>(n));
  put32(images, 28);
  put32(images, 28);
  put32(labels, 2049);
  put32(labels, static_cast<uint32_t>(n));
  std::uniform_int_distribution<int> noise(0, 60), jitter(-1, 1);
  std::vector<unsigned char> img(28 * 28);
  for (int i = 0; i < n; ++i) {
    const int c = i % 10;
    for (auto& p : img) p = static_cast<unsigned char>(noise(rng));
    const int row = 2 + (c / 5) * 12 + jitter(rng), col = 1 + (c % 5) * 5 + jitter(rng);
    for (int y = row; y < row + 7 && y < 28; ++y)
      for (int x = col; x < col + 7 && x < 28; ++x) img[static_cast<size_t>(y * 28 + x)] = 230;
    images.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
    const unsigned char label = static_cast<unsigned char>(c);
    labels.write(reinterpret_cast<const char*>(&label), 1);
  }
}

}  // namespace

void writeSyntheticMnist(const std::string& dir, int perClassTrain, int perClassTest, uint32_t seed) {
  std::mt19937 rng(seed);
  writeSplit(dir, "train", perClassTrain, rng);
  writeSplit(dir, "t10k", perClassTest, rng);
}

}  // namespace rkdtest
