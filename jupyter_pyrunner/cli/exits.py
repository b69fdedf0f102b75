"""The command's exit codes besides the program's own (documented in docs/usage.md)."""

#: pyrunner could not run the project (invalid project or options, environment build failed)
EXIT_INVALID = 2
#: the run was stopped at its time limit (as `timeout` does)
EXIT_TIMEOUT = 124
#: the run was cancelled, or interrupted with Ctrl-C
EXIT_CANCELLED = 130
