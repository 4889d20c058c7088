# The trainer (core/train) end to end on tiny synthetic data: runs, resume, stop, divergence.
reviewkd_core_test(NAME test_train SOURCES test_train.cpp LABELS core TIMEOUT 900)
# Under ThreadSanitizer: training (2 threads: LibTorch's pool and the fused kernel's chunk workers) beside a
# reader thread, a lock released by another thread, and networks built on another thread. initialWeights... needs
# the teacher run of teacherRunEndToEnd.
reviewkd_tsan_test(test_train teacherRunEndToEnd readerWhileTraining closingMeetsAWriteLock
  initialWeightsIgnoreConcurrentBuilds)
