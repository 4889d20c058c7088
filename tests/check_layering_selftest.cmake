# The layering check, checked: on a copy of the project's sources it passes; with one upward include planted in
# the store (core/store -> core/train), with a widget that includes a LibTorch header, or with an include
# sideways (core/models -> core/data), it fails and names the file. Run by CTest as layering_selftest:
#   cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch folder> -P tests/check_layering_selftest.cmake
cmake_minimum_required(VERSION 3.16)
set(check "${CMAKE_CURRENT_LIST_DIR}/check_layering.cmake")

function(copy_tree into)
  file(REMOVE_RECURSE "${into}")
  foreach(top core app widgets)
    file(COPY "${SOURCE_DIR}/${top}" DESTINATION "${into}" FILES_MATCHING PATTERN "*.h" PATTERN "*.cpp" PATTERN "*.inc")
  endforeach()
endfunction()

function(run_check tree out_rc out_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DSOURCE_DIR=${tree} -P "${check}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE text)
  string(REGEX REPLACE "[ \t\r\n]+" " " text "${text}")  # CMake wraps a long message
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

set(tree "${WORK_DIR}/layering_tree")
copy_tree("${tree}")
run_check("${tree}" rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the unchanged copy of the sources should pass:\n${text}")
endif()

# name | file to plant | its content | what the failure must say
set(cases upward sideways torch)
set(upward_file "core/store/planted.h")
set(upward_text "#pragma once\n#include \"core/train/trainer.h\"\n")
set(upward_says "core/store/planted.h: includes core/train/trainer.h")
set(sideways_file "core/models/planted.cpp")
set(sideways_text "#include \"core/data/dataset.h\"\n")
set(sideways_says "core/models/planted.cpp: includes core/data/dataset.h")
set(torch_file "widgets/planted.cpp")
set(torch_text "#include <torch/torch.h>\n")
set(torch_says "widgets/planted.cpp: includes torch/torch.h, but widgets builds without LibTorch")

foreach(case IN LISTS cases)
  file(WRITE "${tree}/${${case}_file}" "${${case}_text}")
  run_check("${tree}" rc text)
  file(REMOVE "${tree}/${${case}_file}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${case}: the check passed with ${${case}_file} planted")
  endif()
  string(FIND "${text}" "${${case}_says}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${case}: the check failed, but without naming the planted include; it said:\n${text}")
  endif()
  message(STATUS "${case}: refused as it should be (${${case}_says})")
endforeach()
file(REMOVE_RECURSE "${tree}")
