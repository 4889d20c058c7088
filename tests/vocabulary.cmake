# The run configuration (core/vocabulary: the field table, the strict reader, --set, the messages) and the presets
# and ablation rows built from it (core/services' catalog): no torch header.
reviewkd_light_test(NAME test_config SOURCES test_config.cpp LINKS reviewkd_services LABELS core)
