"""The command's exit codes besides the program's own (the table is in docs/usage.md).

The program's own codes pass through unchanged (a program killed by signal N gives 128+N, as
shells report it), so pyrunner's own codes are those a program rarely uses for itself, as
``timeout`` and container runners do: 2, which argparse uses for a usage error, stays the
program's. A run the engine stopped records the same code the command exits with
(``limits``: 124 time limit, 130 cancel, 137 memory limit).
"""

from ..limits import EXIT_CANCELLED, EXIT_MEMORY, EXIT_TIMEOUT

__all__ = ["EXIT_CANCELLED", "EXIT_INVALID", "EXIT_MEMORY", "EXIT_TIMEOUT"]

#: pyrunner could not run the project: its own command line was wrong, the project or the
#: options were invalid, the environment could not be built, the run store was unusable
EXIT_INVALID = 125
