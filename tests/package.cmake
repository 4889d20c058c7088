# The Debian package (item 6 of the hardening issue): cpack from this build tree into a scratch folder, unpacked
# with dpkg-deb -x, control fields, copyright and man pages checked, the packaged reviewkd run on the system's
# libraries. Skipped (77) only where dpkg-deb is missing.
if(TARGET reviewkd-studio)
  set(_with_studio 1)
else()
  set(_with_studio 0)
endif()
add_test(NAME package_deb
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/package.sh ${CMAKE_CPACK_COMMAND} ${CMAKE_BINARY_DIR} ${PROJECT_VERSION}
          $<TARGET_FILE:reviewkd> ${_with_studio})
set_tests_properties(package_deb PROPERTIES LABELS "core;package" SKIP_RETURN_CODE 77 TIMEOUT 300
                     FIXTURES_REQUIRED man_pages)
# The man pages are not part of ALL (packaging/CMakeLists.txt): the test builds them first.
add_test(NAME package_man_pages COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target reviewkd_man_pages)
set_tests_properties(package_man_pages PROPERTIES LABELS "core;package" TIMEOUT 300 FIXTURES_SETUP man_pages)
