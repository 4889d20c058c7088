#include "app/cli/cli.h"
#include "core/services/training_service.h"

int main(int argc, char** argv) {
  rkd::services::prepareProcess();  // before any thread starts (see threads.h)
  return rkd::cli::run(argc, argv);
}
