#pragma once
// A feature snapshot as bytes: rank 0 (or any trainer) writes the latest one beside the run's checkpoints, so a
// studio following the run from the store shows the stage features too. Torch-free.
#include <string>

#include "core/vocabulary/progress.h"

namespace rkd {

/// "RKDSNAP1", then the fields in a fixed order (little-endian integers and float32 values).
std::string encodeSnapshot(const FeatureSnapshot& snapshot);
/// The inverse; throws InputError naming `what` for bytes that are not a whole snapshot (wrong magic, cut, a
/// map whose shape does not match its values, absurd counts).
FeatureSnapshot decodeSnapshot(const std::string& bytes, const std::string& what);

/// The file name of the latest snapshot in a run's folder.
inline constexpr const char kSnapshotFileName[] = "snapshot.bin";

}  // namespace rkd
