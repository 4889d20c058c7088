# The application layer both front ends call, tested without widgets: teacher resolution, the ablation table
# text, run history (delete while running), store-path order, previews that leave the generator alone.
reviewkd_core_test(NAME test_services SOURCES test_services.cpp synthetic_data.cpp LABELS core TIMEOUT 900)
