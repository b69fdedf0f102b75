"""The run's folders named in a program's arguments, expanded as a shell would expand them.

A user who writes ``--out $OUTPUT_FOLDER/result.csv`` means the run's output folder, which
does not exist until the run is prepared. When the program starts, ``$NAME`` and ``${NAME}``
are replaced by the program's own value of ``NAME`` for the run's folder variables only
(:data:`FOLDER_VARIABLES`); every other ``$`` is left as written. ``$$NAME`` keeps the text
``$NAME`` (one ``$`` less), for the rare argument that must hold the name itself. The record
keeps the arguments as the user wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .models import INPUT_PORTS, OUTPUT_PORTS

#: the variables an argument may name
FOLDER_VARIABLES = (
    "INPUT_FOLDER",
    "OUTPUT_FOLDER",
    "LOG_FOLDER",
    *(f"INPUT_{port}" for port in range(1, INPUT_PORTS + 1)),
    *(f"OUTPUT_{port}" for port in range(1, OUTPUT_PORTS + 1)),
)

_NAMES = "|".join(sorted(FOLDER_VARIABLES, key=len, reverse=True))
_REFERENCE = rf"\$(?P<escape>\$)?(?:\{{(?P<braced>{_NAMES})\}}|(?P<bare>{_NAMES})(?![A-Za-z0-9_]))"


def expand_folders(args: list[str], env: Mapping[str, str]) -> list[str]:
    """``args`` with each ``$NAME`` / ``${NAME}`` of a folder variable replaced by its value
    in ``env`` (a name ``env`` lacks is left as written)."""

    def replace(match: re.Match[str]) -> str:
        if match["escape"]:
            return match[0][1:]
        name = match["braced"] or match["bare"]
        return env.get(name, match[0])

    if not any("$" in arg for arg in args):
        return list(args)  # nothing to expand: the pattern is not even compiled
    reference = re.compile(_REFERENCE)
    return [reference.sub(replace, arg) if "$" in arg else arg for arg in args]
