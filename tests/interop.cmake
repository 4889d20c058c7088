# Interchange with Python PyTorch: exported files loaded by tests/python/check_export.py under /usr/bin/python3
# (Debian python3-torch); the suite skips itself when that interpreter cannot import torch.
reviewkd_core_test(NAME test_interop SOURCES test_interop.cpp LABELS core)
if(TARGET test_interop)
  target_compile_definitions(test_interop PRIVATE
    REVIEWKD_INTEROP_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/python/check_export.py")
endif()
