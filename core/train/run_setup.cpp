#include "core/train/run_setup.h"

namespace rkd {

DatasetSpec datasetSpecOf(const DataConfig& d, int64_t seed) {
  DatasetSpec s;
  s.kind = datasetKindFromString(d.kind);
  s.path = d.path;
  s.perClass = d.perClass;
  s.testPerClass = d.testPerClass;
  s.valCount = d.validation;
  s.seed = static_cast<uint64_t>(d.subsetSeed >= 0 ? d.subsetSeed : seed);
  s.subset = d.subset == "first" ? SubsetChoice::First : SubsetChoice::Random;
  s.padTo = d.padTo;
  s.mean = d.mean;
  s.std = d.std;
  s.folderImageSize = d.imageSize;
  s.channels = d.channels == "auto" ? 0 : std::stoll(d.channels);
  return s;
}

AugmentOptions augmentationOf(const DataConfig& d) {
  AugmentOptions a = defaultAugmentation(datasetKindFromString(d.kind));
  if (d.flip == "on") a.horizontalFlip = true;
  if (d.flip == "off") a.horizontalFlip = false;
  if (d.cropPadding >= 0) a.cropPadding = d.cropPadding;
  return a;
}

DistillSettings distillSettingsOf(const RunConfig& c) {
  DistillSettings s;
  if (c.kind == "teacher" || c.method == "student-alone")
    s.method = Method::StudentAlone;
  else if (c.method == "kd")
    s.method = Method::HintonKD;
  else
    s.method = Method::ReviewKD;
  s.review = c.review.review;
  s.residual = c.review.residual;
  s.abf = c.review.abf;
  s.hcl = c.review.hcl;
  s.pyramid = c.review.pyramid;
  s.reviewWeight = c.review.weight;
  s.ceWeight = c.ceWeight;
  s.kdWeight = c.kdWeight;
  s.kdTemperature = c.kdTemperature;
  s.warmupEpochs = static_cast<int>(c.review.warmupEpochs);
  s.validate();
  return s;
}

}  // namespace rkd
