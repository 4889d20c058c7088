#include "app/cli/cli.h"
#include "core/train/threads.h"

int main(int argc, char** argv) {
  rkd::retainFreedMemory();  // before any thread starts (see threads.h)
  return rkd::cli::run(argc, argv);
}
