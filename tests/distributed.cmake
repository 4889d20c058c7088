# Data-parallel training on c10d: 2 worker processes over loopback with Gloo (the suite starts itself as the
# workers, and runs `reviewkd launch`).
reviewkd_core_test(NAME test_dist SOURCES test_dist.cpp LABELS core TIMEOUT 900)
if(TARGET test_dist)
  target_link_libraries(test_dist PRIVATE SQLite::SQLite3)
endif()
