#pragma once
// A tiny learnable dataset written as MNIST IDX files, so tests drive the real readers and the real trainer.
#include <cstdint>
#include <string>

namespace rkdtest {

/// Writes train-/t10k- images and labels IDX files into `dir`: 10 classes, `perClassTrain` and
/// `perClassTest` 28x28 images each. Class c shows a bright 7x7 block at a class-specific place on a noisy
/// background, so a small network learns it in an epoch or two.
void writeSyntheticMnist(const std::string& dir, int perClassTrain = 20, int perClassTest = 10, uint32_t seed = 7);

/// Writes a CIFAR-100 binary folder (`dir`/train.bin and test.bin, the layout readCifar100 reads): 100 classes
/// of 32x32 RGB images, `perClassTrain` and `perClassTest` each, class c a coloured 8x8 block at a
/// class-specific place and colour on noise. For runs that need CIFAR-100's shape (e.g. a teacher from a real
/// PyTorch CIFAR-100 checkpoint), not for learning anything.
void writeSyntheticCifar100(const std::string& dir, int perClassTrain = 2, int perClassTest = 1, uint32_t seed = 7);

}  // namespace rkdtest
