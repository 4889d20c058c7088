// Run configurations: a JSON config file through loadRunConfig (`reviewkd train --config`, the studio's Open),
// and `--set key=value` overrides through applyOverrides. Input: the config file, optionally followed by a NUL
// byte and override lines (one per line), applied to the loaded config (or to the defaults when it was refused).
// A config that loads must survive the round trip the store gives it (toJson, text, runConfigFromJson) unchanged.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/common/errors.h"
#include "core/vocabulary/run_config.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void requireRoundTrip(const rkd::RunConfig& c) {
  const nlohmann::json j = rkd::toJson(c);
  rkd::RunConfig again;
  try {
    again = rkd::runConfigFromJson(nlohmann::json::parse(j.dump()), "round trip");
  } catch (const rkd::InputError&) {
    __builtin_trap();  // a config that validated was written as JSON that does not read back
  }
  if (rkd::toJson(again) != j) __builtin_trap();
  (void)c.summary();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rkd::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* text = reinterpret_cast<const char*>(data);
  const auto* nul = static_cast<const char*>(std::memchr(text, 0, size));
  const size_t fileBytes = nul ? size_t(nul - text) : size;
  const std::string path = rkd::fuzz::writeScratch("config.json", data, fileBytes);
  std::vector<std::string> overrides;
  if (nul) {
    std::string line;
    for (const char* p = nul + 1; p < text + size; ++p) {
      if (*p == '\n') {
        overrides.push_back(line);
        line.clear();
      } else {
        line += *p;
      }
    }
    if (!line.empty()) overrides.push_back(line);
  }
  rkd::RunConfig config;
  try {
    config = rkd::loadRunConfig(path);
    requireRoundTrip(config);
  } catch (const rkd::InputError&) {
  }
  if (!overrides.empty()) {
    try {
      requireRoundTrip(rkd::applyOverrides(config, overrides));
    } catch (const rkd::InputError&) {
    }
  }
  return 0;
}
