reviewkd_core_test(NAME test_distill SOURCES test_distill.cpp LABELS core)
