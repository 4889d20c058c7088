#include "app/cli/cli.h"

int main(int argc, char** argv) { return rkd::cli::run(argc, argv); }
