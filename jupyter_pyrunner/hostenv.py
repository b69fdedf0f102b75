"""What of the host's environment may reach code that a project controls.

The program, the installer (which may run a project's own build scripts) and the detached
supervisor all get the host's variables minus these patterns. This keeps tokens out of the
program's reach through its environment or its parent's; it is not a boundary between users:
a program runs with the same user id as the process that started it.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping

#: Variables never passed on (fnmatch patterns), beside the user's own deny list.
DEFAULT_ENV_DENY = (
    "JUPYTER_TOKEN",
    "JUPYTER_PASSWORD",
    "JPY_*",
    "JUPYTERHUB_API_TOKEN",
    "JUPYTERHUB_*TOKEN*",
    "JUPYTERHUB_*SECRET*",
)

#: Variables that would undo the environment's isolation, dropped for the program only.
ISOLATION_BREAKERS = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX")


def deny_patterns(extra: Iterable[str] = ()) -> list[str]:
    """The default deny list, the user's ``PYRUNNER_ENV_DENY`` and ``extra``."""
    configured = [p.strip() for p in os.environ.get("PYRUNNER_ENV_DENY", "").split(",")]
    return [*DEFAULT_ENV_DENY, *(p for p in configured if p), *extra]


def scrub(env: Mapping[str, str], patterns: Iterable[str]) -> dict[str, str]:
    """``env`` without the variables matching any pattern (``fnmatch``, case-sensitive)."""
    # compiling every pattern to a regex costs about a millisecond at each run: plain names
    # and ``PREFIX*`` patterns are matched directly, and the others only on the variables
    # that start with their literal part
    exact: set[str] = set()
    prefixes: list[str] = []
    globs: list[tuple[str, str]] = []
    for pattern in patterns:
        cut = min((i for i in map(pattern.find, "*?[") if i >= 0), default=-1)
        if cut < 0:
            exact.add(pattern)
        elif cut == len(pattern) - 1 and pattern[cut] == "*":
            prefixes.append(pattern[:cut])
        else:
            globs.append((pattern[:cut], pattern))
    starts = tuple(prefixes)

    def denied(name: str) -> bool:
        return (
            name in exact
            or name.startswith(starts)
            or any(name.startswith(lit) and fnmatch.fnmatchcase(name, p) for lit, p in globs)
        )

    return {k: v for k, v in env.items() if not denied(k)}
