#pragma once
// A tiny learnable dataset written as MNIST IDX files, so tests drive the real readers and the real trainer.
#include <cstdint>
#include <string>

namespace rkdtest {

/// Writes train-/t10k- images and labels IDX files into `dir`: 10 classes, `perClassTrain` and
/// `perClassTest` 28x28 images each. Class c shows a bright 7x7 block at a class-specific place on a noisy
/// background, so a small network learns it in an epoch or two.
void writeSyntheticMnist(const std::string& dir, int perClassTrain = 20, int perClassTest = 10, uint32_t seed = 7);

}  // namespace rkdtest
