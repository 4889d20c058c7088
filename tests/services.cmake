# The application layer both front ends call, tested without widgets: teacher resolution, the ablation table
# text, run history (delete while running), store-path order, previews that leave the generator alone.
reviewkd_core_test(NAME test_services SOURCES test_services.cpp LABELS core TIMEOUT 900)
# What a hostile user broke, through the CLI (issue 20): exports onto devices, FIFOs and folders, two resumes of
# one run, a stop on an epoch's last step, FIFOs as inputs, an empty --db, launch's global options, terminal
# escapes, sizes, and the smaller findings.
reviewkd_core_test(NAME test_reliability SOURCES test_reliability.cpp LABELS core TIMEOUT 900)
# The statistics of repeated runs on known samples (Python's statistics, closed forms, the t table).
reviewkd_light_test(NAME test_statistics SOURCES test_statistics.cpp LINKS reviewkd_services LABELS core TIMEOUT 60)
