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

void writeCifarSplit(const std::string& path, int perClass, std::mt19937& rng) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write synthetic data into " + path);
  std::uniform_int_distribution<int> noise(0, 60);
  std::vector<unsigned char> record(2 + 3 * 32 * 32);
  for (int i = 0; i < perClass * 100; ++i) {
    const int c = i % 100;
    record[0] = static_cast<unsigned char>(c / 5);  // coarse label
    record[1] = static_cast<unsigned char>(c);      // fine label
    for (size_t k = 2; k < record.size(); ++k) record[k] = static_cast<unsigned char>(noise(rng));
    const int row = (c / 4) % 4 * 8, col = c % 4 * 8, channel = c / 16 % 3;
    for (int y = row; y < row + 8; ++y)
      for (int x = col; x < col + 8; ++x) record[static_cast<size_t>(2 + channel * 1024 + y * 32 + x)] = 230;
    out.write(reinterpret_cast<const char*>(record.data()), static_cast<std::streamsize>(record.size()));
  }
}

}  // namespace

void writeSyntheticCifar100(const std::string& dir, int perClassTrain, int perClassTest, uint32_t seed) {
  std::mt19937 rng(seed);
  writeCifarSplit(dir + "/train.bin", perClassTrain, rng);
  writeCifarSplit(dir + "/test.bin", perClassTest, rng);
}

void writeSyntheticMnist(const std::string& dir, int perClassTrain, int perClassTest, uint32_t seed) {
  std::mt19937 rng(seed);
  writeSplit(dir, "train", perClassTrain, rng);
  writeSplit(dir, "t10k", perClassTest, rng);
}

}  // namespace rkdtest
