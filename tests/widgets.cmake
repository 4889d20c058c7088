# GUI suites (label gui): Qt Test on the studio's widgets, offscreen (or under the Xvfb that scripts/test starts).
# They link reviewkd_widgets only: no torch headers, no torch PCH.
if(TARGET reviewkd_widgets)
  # The studio suites' helpers: a tiny run's config, temporary folders, synthetic data (QtCore), compiled once;
  # the screenshot helper on top, with the widgets.
  add_library(reviewkd_test_studio_support STATIC gui_support.cpp)
  target_link_libraries(reviewkd_test_studio_support PUBLIC reviewkd_controllers reviewkd_test_synthetic Qt6::Test)
  target_include_directories(reviewkd_test_studio_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  reviewkd_warnings(reviewkd_test_studio_support)
  add_library(reviewkd_test_gui_support STATIC gui_screenshot.cpp)
  target_link_libraries(reviewkd_test_gui_support PUBLIC reviewkd_test_studio_support reviewkd_widgets)
  target_compile_definitions(reviewkd_test_gui_support PRIVATE REVIEWKD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  reviewkd_warnings(reviewkd_test_gui_support)
endif()

function(reviewkd_gui_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS" ${ARGN})
  if(NOT TARGET reviewkd_widgets)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE reviewkd_test_gui_support)
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_definitions(${T_NAME} PRIVATE REVIEWKD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  reviewkd_warnings(${T_NAME})
  reviewkd_register_test(${T_NAME} "${T_LABELS}" "${T_TIMEOUT}")
endfunction()

reviewkd_gui_test(NAME test_live_views SOURCES test_live_views.cpp LABELS gui)
reviewkd_gui_test(NAME test_history_panel SOURCES test_history_panel.cpp LABELS gui)
reviewkd_gui_test(NAME test_studio SOURCES test_studio.cpp LABELS gui TIMEOUT 900)
# A real session on Fashion-MNIST for README's screenshots (a few minutes): slow.
reviewkd_gui_test(NAME test_screenshots SOURCES test_screenshots.cpp LABELS "gui;slow" TIMEOUT 1800)
# test_history_panel reads the ONNX model the panel exports with ONNX's protobuf classes (no torch header).
if(TARGET test_history_panel)
  target_link_libraries(test_history_panel PRIVATE onnx_proto)
  # Its fixtures fill a store directly (runs, metrics, tags) before the panel reads it through the services.
  target_link_libraries(test_history_panel PRIVATE reviewkd_store)
endif()
# The studio's QtCore controllers without a widget or a display (label gui: built with the studio).
if(TARGET reviewkd_controllers AND TARGET Qt6::Test)
  add_executable(test_controllers test_controllers.cpp)
  target_link_libraries(test_controllers PRIVATE reviewkd_test_studio_support reviewkd_controllers)
  reviewkd_warnings(test_controllers)
  reviewkd_register_test(test_controllers gui 600)
endif()
