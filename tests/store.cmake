# Run store suite. store_writer_child is a second process that writes to a store, for the WAL reader test and the
# kill -9 recovery test; its path reaches the test through REVIEWKD_STORE_CHILD.
if(TARGET Qt6::Test AND REVIEWKD_CORE_SUITES)
  add_executable(store_writer_child store_writer_child.cpp)
  target_link_libraries(store_writer_child PRIVATE reviewkd_store)
  reviewkd_warnings(store_writer_child)
endif()
reviewkd_light_test(NAME test_store SOURCES test_store.cpp LINKS reviewkd_store LABELS core TIMEOUT 120)
if(TARGET test_store)
  target_compile_definitions(test_store PRIVATE REVIEWKD_STORE_CHILD="$<TARGET_FILE:store_writer_child>")
  add_dependencies(test_store store_writer_child)
endif()
# Under ThreadSanitizer: a reader thread beside a writer thread, recovery racing another connection's write lock,
# and readers beside writer processes (store_writer_child is instrumented too).
reviewkd_tsan_test(test_store readerThreadSeesWholeBatches recoveryDecidesInsideItsTransaction
  readerSeesConsistentDataWhileChildWrites killedWriterLeavesAnInterruptedRun deleteRefusesARunWithALiveWriter)
# What the store enforces against a hostile or unlucky user: one row per metric point (and the migration that drops
# a double resume's duplicates), the resume's claim, paths that are not stores, bounded text.
reviewkd_light_test(NAME test_store_guards SOURCES test_store_guards.cpp LINKS reviewkd_store LABELS core TIMEOUT 120)
