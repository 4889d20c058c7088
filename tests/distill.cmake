reviewkd_core_test(NAME test_distill SOURCES test_distill.cpp LABELS core)
# Under ThreadSanitizer: the chunk workers of the fused attention kernel (the trainer's CPU step).
reviewkd_tsan_test(test_distill parallelChunksCoverEveryIndexOnce attentionMixFusedMatchesComposite)
