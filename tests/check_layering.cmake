# design.md's layering as a test, on the sources: the table below says, for every folder of the project, which
# folders its files may include. Any include of a project header outside that list (a folder further up, or one
# beside it that the table leaves out) fails, and so does a LibTorch header in a folder that must build without
# it. Run by CTest as layering:
#   cmake -DSOURCE_DIR=<repo> -P tests/check_layering.cmake
# Its own check: tests/check_layering_selftest.cmake plants an upward include and a torch header in a widget.
#
# From the ground up (core/CMakeLists.txt adds the folders in this order):
#   common -> vocabulary -> runtime -> io, store -> models, data -> distill, export, distributed -> train
#   -> parity -> services -> widgets/controllers -> widgets -> app
cmake_minimum_required(VERSION 3.16)
set(layers common vocabulary runtime io store models data distill export distributed train parity services)

set(allowed_core/common       core/common)
set(allowed_core/vocabulary   core/common core/vocabulary)
set(allowed_core/runtime      core/common core/runtime)
set(allowed_core/io           core/common core/runtime core/io)
set(allowed_core/store        core/common core/vocabulary core/store)
set(allowed_core/models       core/common core/runtime core/io core/models)
set(allowed_core/data         core/common core/runtime core/data)
set(allowed_core/distill      core/common core/runtime core/io core/models core/distill)
set(allowed_core/export       core/common core/runtime core/io core/models core/export)
set(allowed_core/distributed  core/common core/runtime core/io core/models core/distributed)
set(allowed_core/train        core/common core/vocabulary core/runtime core/io core/store core/models core/data
                              core/distill core/distributed core/train)
set(allowed_core/parity       core/common core/runtime core/io core/models core/distill core/parity)
set(allowed_core/services     core/common core/vocabulary core/runtime core/io core/store core/models core/data
                              core/distill core/export core/distributed core/train core/parity core/services)
# The studio reaches the engine only through the services (and the vocabulary their headers speak); its QtCore
# controllers sit under its widgets.
set(allowed_widgets/controllers core/vocabulary core/services widgets/controllers)
set(allowed_widgets           core/vocabulary core/services widgets/controllers widgets)
# The CLI is a front end like the studio; only its diagnostics (parity, bench, devices) use the engine directly.
set(allowed_app/cli           core/common core/vocabulary core/services app/cli)
set(allowed_app               core/vocabulary core/services widgets/controllers widgets app/cli app)
set(diagnostics app/cli/cmd_parity.cpp app/cli/cmd_bench.cpp app/cli/cmd_devices.cpp app/cli/bench_step.h)
set(allowed_diagnostics ${allowed_app/cli} core/runtime core/io core/models core/data core/distill
                        core/distributed core/train core/parity)
# Folders that build without LibTorch.
set(torch_free core/common core/vocabulary core/store widgets/controllers widgets)

set(folders app app/cli widgets widgets/controllers)
foreach(layer IN LISTS layers)
  list(APPEND folders core/${layer})
endforeach()

set(problems "")
set(count 0)
foreach(folder IN LISTS folders)
  if(NOT DEFINED allowed_${folder})
    list(APPEND problems "${folder}: no row in the table of tests/check_layering.cmake; add one")
    continue()
  endif()
  file(GLOB files "${SOURCE_DIR}/${folder}/*.h" "${SOURCE_DIR}/${folder}/*.cpp" "${SOURCE_DIR}/${folder}/*.inc")
  foreach(f IN LISTS files)
    math(EXPR count "${count} + 1")
    file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
    set(allowed ${allowed_${folder}})
    if(rel IN_LIST diagnostics)
      set(allowed ${allowed_diagnostics})
    endif()
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(line MATCHES "[<\"]((core|widgets|app)/[^>\"]*)[>\"]")
        set(header "${CMAKE_MATCH_1}")
        # The folder a header lives in: core/<layer>, app/cli, app, widgets/controllers, widgets.
        if(header MATCHES "^(core/[^/]+)/")
          set(target "${CMAKE_MATCH_1}")
        elseif(header MATCHES "^(app/cli)/")
          set(target "${CMAKE_MATCH_1}")
        elseif(header MATCHES "^widgets/controllers/")
          set(target widgets/controllers)
        elseif(header MATCHES "^widgets/")
          set(target widgets)
        else()
          set(target app)
        endif()
        if(NOT target IN_LIST allowed)
          list(JOIN allowed ", " may)
          list(APPEND problems "${rel}: includes ${header}, but ${folder} may include only ${may}")
        endif()
      endif()
      if(folder IN_LIST torch_free AND line MATCHES "[<\"]((torch|ATen|c10|caffe2)/[^>\"]*)[>\"]")
        list(APPEND problems "${rel}: includes ${CMAKE_MATCH_1}, but ${folder} builds without LibTorch")
      endif()
    endforeach()
  endforeach()
endforeach()

if(problems)
  list(JOIN problems "\n" text)
  message(FATAL_ERROR "layering broken:\n${text}")
endif()
list(LENGTH folders nfolders)
message(STATUS "layering holds: ${count} files in ${nfolders} folders include only what the table allows")
