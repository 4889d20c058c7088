reviewkd_core_test(NAME test_train SOURCES test_train.cpp LABELS core TIMEOUT 900)
reviewkd_light_test(NAME test_config SOURCES test_config.cpp LINKS reviewkd_services LABELS core)
reviewkd_core_test(NAME test_cli SOURCES test_cli.cpp LABELS core TIMEOUT 900)
# Under ThreadSanitizer: training (2 threads: LibTorch's pool and the fused kernel's chunk workers) beside a
# reader thread, a lock released by another thread, and networks built on another thread. initialWeights... needs
# the teacher run of teacherRunEndToEnd.
reviewkd_tsan_test(test_train teacherRunEndToEnd readerWhileTraining closingMeetsAWriteLock
  initialWeightsIgnoreConcurrentBuilds)
