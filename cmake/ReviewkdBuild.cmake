# Build defaults shared by every target of the project: standard, build type, ccache, warnings, torch PCH.

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# ccache with precompiled headers needs these sloppiness settings, otherwise every PCH user misses.
find_program(REVIEWKD_CCACHE ccache)
if(REVIEWKD_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${REVIEWKD_CCACHE})
  message(STATUS "ccache: ${REVIEWKD_CCACHE}")
endif()

# Warnings on our own targets only (never on LibTorch's headers, which are included as system headers).
function(reviewkd_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# The carried Debian headers must precede LibTorch's bundled fmt on a GPU machine (see shared/gpu-build.md).
function(reviewkd_deps_root target)
  if(REVIEWKD_DEPS_ROOT)
    target_include_directories(${target} BEFORE PRIVATE "${REVIEWKD_DEPS_ROOT}/usr/include")
  endif()
endfunction()

# Unity builds of the torch-using libraries: their files compiled in batches, so LibTorch's templates are
# instantiated once per batch instead of once per file. For builds from scratch (CI turns it on: scripts/test);
# a developer's incremental build is faster without it, since a change recompiles only its own file.
option(REVIEWKD_UNITY "Compile the torch-using libraries in unity batches (faster from scratch)" OFF)
set(REVIEWKD_UNITY_BATCH 8 CACHE STRING "Files per unity batch (REVIEWKD_UNITY)")

# One torch precompiled header, built once and reused by every torch-using target.
function(reviewkd_torch_target target)
  reviewkd_warnings(${target})
  reviewkd_deps_root(${target})
  if(TARGET reviewkd_pch)
    target_precompile_headers(${target} REUSE_FROM reviewkd_pch)
  endif()
  if(REVIEWKD_UNITY)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${REVIEWKD_UNITY_BATCH})
  endif()
endfunction()

# Sanitizers (docs/hacking.md, "Sanitizers"): REVIEWKD_SANITIZE=address,undefined or thread instruments every target of
# this project (compile and link); LibTorch, Qt, SQLite and the other system libraries stay uninstrumented.
# UBSan findings abort (no recovery), so a test that hits one fails. scripts/test --sanitize / --tsan set it.
set(REVIEWKD_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread | empty (none)")
if(REVIEWKD_SANITIZE)
  string(REPLACE "," ";" reviewkd_sanitizers "${REVIEWKD_SANITIZE}")
  foreach(s IN LISTS reviewkd_sanitizers)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "REVIEWKD_SANITIZE: unknown sanitizer '${s}'; give address,undefined or thread")
    endif()
  endforeach()
  if("thread" IN_LIST reviewkd_sanitizers AND "address" IN_LIST reviewkd_sanitizers)
    message(FATAL_ERROR "REVIEWKD_SANITIZE: thread and address cannot be combined; build them in two directories "
                        "(scripts/test --sanitize and scripts/test --tsan)")
  endif()
  set(reviewkd_sanitize_flags -fsanitize=${REVIEWKD_SANITIZE} -fno-omit-frame-pointer)
  # -O1 -g1 (line tables: every frame of a report keeps its file and line) in place of RelWithDebInfo's -O2 -g:
  # the instrumented build compiles a third faster (the torch PCH 53 -> 36 s, resnet.cpp + trainer.cpp 111 -> 75 s
  # here). A Debug build keeps -O0 -g.
  if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    list(APPEND reviewkd_sanitize_flags -O1 -g1)
  endif()
  if("undefined" IN_LIST reviewkd_sanitizers)
    list(APPEND reviewkd_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${reviewkd_sanitize_flags})
  add_link_options(-fsanitize=${REVIEWKD_SANITIZE})
  message(STATUS "sanitizers: ${REVIEWKD_SANITIZE}")
endif()
