# REVIEWKD_FUZZ: the libFuzzer targets of tests/fuzz (scripts/fuzz configures, builds and runs them in
# build-fuzz/). Everything in such a build folder is compiled with AddressSanitizer, UndefinedBehaviorSanitizer
# and libFuzzer's coverage instrumentation; only the fuzz targets link libFuzzer's main. A build folder of its
# own: these flags make the engine several times slower.

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "REVIEWKD_FUZZ needs clang (libFuzzer is part of clang's runtime; Debian: clang, "
                      "libclang-rt-14-dev, scripts/setup --fuzz installs them), found ${CMAKE_CXX_COMPILER_ID} "
                      "${CMAKE_CXX_COMPILER}. Configure a separate build folder with -DCMAKE_CXX_COMPILER=clang++, "
                      "or run scripts/fuzz, which does.")
endif()

if(REVIEWKD_SANITIZE)
  message(FATAL_ERROR "REVIEWKD_FUZZ already builds with address,undefined; leave REVIEWKD_SANITIZE empty in a fuzz "
                      "build folder")
endif()

# UBSan's findings abort (-fno-sanitize-recover), so libFuzzer sees them as crashes and keeps the input.
# Line tables only: a crash's stack names file and line without the size of full debug info for LibTorch's
# headers.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -gline-tables-only)
add_link_options(-fsanitize=address,undefined)
