reviewkd_core_test(NAME test_train SOURCES test_train.cpp synthetic_data.cpp LABELS core TIMEOUT 900)
reviewkd_core_test(NAME test_config SOURCES test_config.cpp LABELS core)
reviewkd_core_test(NAME test_cli SOURCES test_cli.cpp synthetic_data.cpp LABELS core TIMEOUT 900)
