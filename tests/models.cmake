reviewkd_core_test(NAME test_models SOURCES test_models.cpp LABELS core)
