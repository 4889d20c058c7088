reviewkd_core_test(NAME test_data SOURCES test_data.cpp stb_image_write_impl.cpp LABELS core)
# stb_image_write 1.16's JPEG writer keeps its bit buffer in an int and shifts set bits out of the top
# (stbiw__jpg_writeBits: `bitBuf <<= 8`), undefined in C++17; UBSan (scripts/test --sanitize) stops there. The
# check is off for that third-party file only: it writes test fixtures, and the engine never links it.
set_source_files_properties(stb_image_write_impl.cpp PROPERTIES COMPILE_OPTIONS -fno-sanitize=shift-base
  SKIP_PRECOMPILE_HEADERS ON)
