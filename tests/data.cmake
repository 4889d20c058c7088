reviewkd_core_test(NAME test_data SOURCES test_data.cpp LABELS core)
