#pragma once
// The engine's plain structs as Qt meta types, declared once for every widget, signal and test.
#include <QMetaType>
#include <vector>

#include "core/vocabulary/progress.h"
#include "core/vocabulary/run_config.h"

Q_DECLARE_METATYPE(rkd::StepProgress)
Q_DECLARE_METATYPE(std::vector<rkd::StepProgress>)
Q_DECLARE_METATYPE(rkd::EpochProgress)
Q_DECLARE_METATYPE(rkd::FeatureSnapshot)
Q_DECLARE_METATYPE(rkd::RunOutcome)
Q_DECLARE_METATYPE(rkd::RunConfig)
