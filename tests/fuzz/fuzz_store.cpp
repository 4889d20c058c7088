// Opening a run store file (RunStore: SQLite open, the foreign/newer check, WAL, migrations of older schemas,
// interrupted-run recovery), then what the history view reads of it: the run list and, for the first runs, the
// record, metric keys and series, checkpoints, tags and notes. Input: the store file (no -wal beside it).
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/common/errors.h"
#include "core/store/run_store.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rkd::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rkd::fuzz::writeScratch("runs.sqlite", data, size);
  // SQLite's side files of the last input (a hot journal or WAL would be replayed into this one).
  for (const char* side : {"-wal", "-shm", "-journal"}) std::remove((path + side).c_str());
  try {
    rkd::RunStore store(path);
    int shown = 0;
    for (const rkd::RunSummary& s : store.listRuns()) {
      if (shown++ == 4) break;
      (void)store.getRun(s.id);
      for (const std::string& key : store.metricKeys(s.id)) (void)store.metrics(s.id, key);
      (void)store.listCheckpoints(s.id);
      (void)store.tags(s.id);
      (void)store.notes(s.id);
      (void)store.classAccuracy(s.id);
    }
  } catch (const rkd::InputError&) {
    // a file that is no store, or a value refused
  } catch (const rkd::StoreError&) {
    // SQLite refused the damaged file: a store failure, reported as such (exit 3)
  }
  return 0;
}
