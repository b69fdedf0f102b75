"""Checks of the values a run is asked for, with messages written for the user.

``RunSpec.validate`` is their one caller: every face turns its input (command-line words, a
magic's line, a JSON body, widget values) into a ``RunSpec`` and shows the engine's message.
"""

from __future__ import annotations

import math
import os
import re

from .errors import InvalidRunSpecError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

#: an environment variable's name, or an fnmatch pattern of names (``AWS_*``, ``TOKEN_?``)
_VARIABLE_PATTERN = re.compile(r"[^\s=\0]+")
#: the longest path, and the longest name in a path, Linux accepts (PATH_MAX, NAME_MAX)
MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255
#: what a command line keeps free for what pyrunner adds to it (interpreter, entry point,
#: the run's variables), on top of the environment it inherits
_COMMAND_LINE_RESERVE = 64 * 1024


def path_text(value: Any, what: str, *, optional: bool = True) -> None:
    """A path given as text: not empty, no NUL (``None`` is fine when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidRunSpecError(f"{what} must be a non-empty path")
    if "\0" in value:
        raise InvalidRunSpecError(f"{what} cannot contain a NUL character")
    try:
        encoded = os.fsencode(value)
    except UnicodeError:
        raise InvalidRunSpecError(f"{what} holds characters that cannot be a file name") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidRunSpecError(
            f"{what} is {len(encoded):,} bytes long; the limit is {MAX_PATH_BYTES:,} bytes"
        )
    if any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise InvalidRunSpecError(
            f"{what} holds a name longer than {MAX_NAME_BYTES} bytes, which no file can have"
        )


def text_list(value: Any, what: str, *, item: str) -> None:
    """A list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRunSpecError(f"{what} must be a list, each item {item}")


def arguments(args: Any, max_one: int, max_all: int) -> None:
    """The program's arguments: strings without NUL, within what a command line may hold:
    ``max_all`` bytes, and never more than this machine's ``ARG_MAX`` leaves beside the
    environment (past it, starting the program would fail after the run was accepted)."""
    text_list(args, "the program's arguments (args)", item="a string")
    max_all = min(max_all, command_line_room())
    total = 0
    for arg in args:
        if "\0" in arg:
            raise InvalidRunSpecError("an argument for the program cannot contain a NUL character")
        try:
            size = len(os.fsencode(arg)) + 1
        except UnicodeError:
            raise InvalidRunSpecError(
                "an argument for the program holds characters that cannot be passed to it"
            ) from None
        if size > max_one:
            raise InvalidRunSpecError(
                f"an argument for the program is {size - 1} bytes long; the limit is "
                f"{max_one} bytes: pass big values in an input file instead"
            )
        total += size + 8  # the kernel counts a pointer per argument too
    if total > max_all:
        raise InvalidRunSpecError(
            f"the program's arguments take {total} bytes; the limit is {max_all} bytes: "
            "pass big values in an input file instead"
        )


def command_line_room() -> int:
    """Bytes this machine lets a command line take beside the environment a run inherits
    (``ARG_MAX`` counts both, each string with its NUL and a pointer)."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):  # not known here: the documented maximum alone applies
        return 1 << 62
    environment = sum(len(k) + len(v) + 2 + 8 for k, v in os.environb.items())
    return max(0, arg_max - environment - _COMMAND_LINE_RESERVE)


def positive(value: Any, what: str, unit: str, maximum: float, *, whole: bool = False) -> None:
    """A limit: ``None`` (no limit), or a number more than 0 and at most ``maximum``."""
    if value is None:
        return
    noun = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRunSpecError(f"{what} must be {noun} of {unit}, not {value!r}")
    shown = _shown(value)
    if isinstance(value, float) and not math.isfinite(value):  # (an int is always finite)
        raise InvalidRunSpecError(f"{what} must be {noun} of {unit}, not {shown}")
    if whole and value != int(value):
        raise InvalidRunSpecError(f"{what} must be a whole number of {unit}, not {shown}")
    if value <= 0:
        raise InvalidRunSpecError(f"{what} must be more than 0 {unit}, not {shown}")
    if value > maximum:
        raise InvalidRunSpecError(f"{what} must be at most {maximum:g} {unit}, not {shown}")


#: a Dask worker resource's name (``GPU``, ``MEMORY``, ``licence.matlab``)
_RESOURCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
MAX_RESOURCES = 16


def resource_amounts(value: Any) -> None:
    """Dask worker resources a run asks for: ``None``, or up to 16 names with amounts > 0."""
    if value is None:
        return
    what = "the resources of the run (resources)"
    if not isinstance(value, dict):
        raise InvalidRunSpecError(f"{what} must map names to amounts, such as {{'GPU': 1}}")
    if len(value) > MAX_RESOURCES:
        raise InvalidRunSpecError(f"{what} may name at most {MAX_RESOURCES}, not {len(value)}")
    for name, amount in value.items():
        if not isinstance(name, str) or not _RESOURCE_NAME.fullmatch(name):
            shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
            raise InvalidRunSpecError(
                f"{shown} is not a resource name (a letter, then up to 63 letters, digits "
                "or '_.-', such as GPU)"
            )
        if amount is None:
            raise InvalidRunSpecError(f"the resource {name} must be a number of units, not None")
        positive(amount, f"the resource {name}", "units", 1e18)


def _shown(value: float) -> str:
    """A number as the user typed it, however big (``:g`` fails on a huge int)."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 20 else text[:17] + "..."


def requirement_list(value: Any, most: int) -> None:
    """Requirements given with a run: names, specifiers or ``name @ URL``, one per item.

    Installer options (``-r``, ``--index-url``...) and local paths belong in a requirements file
    inside the project, where their paths are checked against it; here they are refused."""
    what = "the requirements (requirements)"
    text_list(value, what, item="a requirement such as 'numpy>=1.26'")
    if len(value) > most:
        raise InvalidRunSpecError(f"{what}: {len(value)} given, at most {most}")
    for item in value:
        if not item.strip() or len(item) > 1000 or any(c in item for c in "\0\r\n"):
            raise InvalidRunSpecError(f"{what}: {item[:60]!r} is not a requirement")
        local = re.search(r"@\s*(?:[./~$]|\w+\+file:)|file:|\$\{", item, re.I)
        if item.lstrip().startswith(("-", ".", "/", "~", "$")) or local:
            raise InvalidRunSpecError(
                f"{what}: {item[:60]!r} is an option or a local path; put it in a "
                "requirements.txt inside the project instead"
            )


def choice(value: Any, what: str, accepted: tuple[str, ...]) -> None:
    """One of a few words, spelled exactly."""
    if not isinstance(value, str) or value not in accepted:
        words = " or ".join(f"'{word}'" for word in accepted)
        raise InvalidRunSpecError(f"{what} must be {words}, not {value!r}")


def switch(value: Any, what: str) -> None:
    if not isinstance(value, bool):
        raise InvalidRunSpecError(f"'{what}' must be true or false, not {value!r}")


def variable_pattern(pattern: str) -> None:
    """A name of environment variables to withhold, or an fnmatch pattern of such names."""
    if not _VARIABLE_PATTERN.fullmatch(pattern):
        raise InvalidRunSpecError(
            f"'{pattern}' in env_deny is not a variable name or pattern "
            "(a name without spaces or '=', with the wildcards '*', '?', '[...]')"
        )
