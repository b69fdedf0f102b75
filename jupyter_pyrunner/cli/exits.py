"""The command's exit codes besides the program's own (the table is in docs/usage.md).

The program's own codes pass through unchanged (a program killed by signal N gives 128+N, as
shells report it), so pyrunner's own codes are those a program rarely uses for itself, as
``timeout`` and container runners do: 2, which argparse uses for a usage error, stays the
program's.
"""

#: pyrunner could not run the project: its own command line was wrong, the project or the
#: options were invalid, the environment could not be built, the run store was unusable
EXIT_INVALID = 125
#: the run was stopped at its time limit (as ``timeout`` does)
EXIT_TIMEOUT = 124
#: the run was cancelled, or interrupted with Ctrl-C
EXIT_CANCELLED = 130
