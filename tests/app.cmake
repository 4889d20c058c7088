# The command line (app/cli) as a user runs it: `reviewkd` child processes, their output and exit codes.
reviewkd_core_test(NAME test_cli SOURCES test_cli.cpp LABELS core TIMEOUT 900)
