reviewkd_core_test(NAME test_io SOURCES test_io.cpp LABELS core)
