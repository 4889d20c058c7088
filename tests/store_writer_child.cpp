// A writer process for test_store's multi-process tests. It opens a run store, creates a running run, prints
// "run <id>" on stdout, and writes metrics:
//   store_writer_child STORE batches BATCH SLEEP_MS   write BATCH points of key "x" per transaction (steps
//                                                     0, 1, 2, ... with value = step), then finish the run
//   store_writer_child STORE forever                  write small batches as fast as it can until killed
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "core/store/run_store.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: store_writer_child STORE (batches N BATCH SLEEP_MS | forever)\n";
    return 2;
  }
  try {
    rkd::RunStore store(argv[1]);
    const std::string mode = argv[2];
    rkd::RunRecord run;
    run.name = "child-" + mode;
    run.kind = rkd::RunKind::Student;
    run.method = "kd";
    run.config = {{"mode", mode}};
    const int64_t id = store.createRun(run);
    std::cout << "run " << id << std::endl;  // endl: the parent waits for this line

    if (mode == "batches" && argc >= 6) {
      const int batches = std::atoi(argv[3]);
      const int batch = std::atoi(argv[4]);
      const int sleepMs = std::atoi(argv[5]);
      rkd::MetricWriter writer(store, id, static_cast<size_t>(batch), std::chrono::hours(1));
      int64_t step = 0;
      for (int b = 0; b < batches; ++b) {
        for (int i = 0; i < batch; ++i, ++step) writer.add(0, step, "x", static_cast<double>(step));
        if (sleepMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs));
      }
      writer.flush();
      store.finishRun(id);
      std::cout << "done" << std::endl;
      return 0;
    }
    if (mode == "forever") {
      rkd::MetricWriter writer(store, id, 64, std::chrono::milliseconds(5));
      for (int64_t step = 0;; ++step) {
        writer.add(static_cast<int>(step / 1000), step, "train/loss", 1.0 / static_cast<double>(step + 1));
        writer.add(static_cast<int>(step / 1000), step, "lr", 0.1);
        if (step % 1000 == 999) store.recordEpoch(id, static_cast<int>(step / 1000) + 1, 0.5);
      }
    }
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  } catch (const rkd::UserError& e) {
    std::cerr << e.full() << "\n";
    return 1;
  }
}
