"""A sweep's parameters and its argument templates: checked, expanded, substituted.

The rules every face shares (the CLI's ``--param``, the Python API, a REST body): a parameter
is an identifier given once with at least one value; ``{name}`` in an argument is replaced by
the run's value and ``{{`` / ``}}`` are literal braces; anything else in braces is refused at
submission, as is a sweep of more than :data:`MAX_COMBINATIONS` runs.
"""

from __future__ import annotations

import json
import math

from .errors import InvalidRunSpecError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

#: the most combinations one sweep may have (each is a run, with its own folder)
MAX_COMBINATIONS = 10_000
#: what one value and one name may hold; the combination's JSON must fit one variable
MAX_VALUE_BYTES = 4096
MAX_NAME_LENGTH = 100
MAX_PARAMS_JSON = 64 * 1024
#: the columns a sweep's table gives each run beside its parameters: no parameter takes these names
RUN_COLUMNS = ("run", "status", "exit_code", "progress", "duration", "message")


def check_params(params: Any) -> dict[str, list[str]]:
    """The parameters as ``{name: [value, ...]}``, in the order given, checked: at least one,
    each an identifier given once, each with at least one value (strings, or numbers taken as
    their text), and at most :data:`MAX_COMBINATIONS` combinations in all. ``params`` is a
    mapping or a sequence of ``(name, values)`` pairs (a name given twice is refused)."""
    pairs = list(params.items()) if hasattr(params, "items") else _pairs(params)
    if not pairs:
        raise InvalidRunSpecError(
            "a sweep needs at least one parameter with its values (--param NAME=V1,V2)"
        )
    checked: dict[str, list[str]] = {}
    for name, values in pairs:
        _check_name(name)
        if name in checked:
            raise InvalidRunSpecError(f"the parameter '{name}' is given twice: give it once")
        checked[name] = _values(name, values)
    count = combination_count(checked)
    if count > MAX_COMBINATIONS:
        sizes = " x ".join(str(len(v)) for v in checked.values())
        raise InvalidRunSpecError(
            f"the parameters make {count:,} combinations ({sizes}); a sweep may have at most "
            f"{MAX_COMBINATIONS:,}"
        )
    widest = {name: max(values, key=len) for name, values in checked.items()}
    if len(json.dumps(widest)) > MAX_PARAMS_JSON:
        raise InvalidRunSpecError(
            f"the parameters' values are too long together: a combination must fit in "
            f"{MAX_PARAMS_JSON // 1024} KiB; pass big values in an input file instead"
        )
    return checked


def _pairs(params: Any) -> list[tuple[Any, Any]]:
    try:
        pairs = [tuple(pair) for pair in params]
    except TypeError:
        pairs = [()]
    if not all(len(pair) == 2 for pair in pairs):
        raise InvalidRunSpecError(
            "the parameters must map each name to its list of values, e.g. {'a': ['1', '2']}"
        )
    return pairs


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier() or len(name) > MAX_NAME_LENGTH:
        shown = repr(name)[:60]
        raise InvalidRunSpecError(
            f"{shown} is not a parameter name: use letters, digits and '_', not starting with "
            "a digit (as a Python identifier)"
        )
    if name in RUN_COLUMNS:
        raise InvalidRunSpecError(
            f"'{name}' names a column of the sweep's table ({', '.join(RUN_COLUMNS)}): "
            "give the parameter another name"
        )


def _values(name: str, values: Any) -> list[str]:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise InvalidRunSpecError(f"the values of '{name}' must be a list, e.g. ['1', '2']")
    texts: list[str] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidRunSpecError(
                f"a value of '{name}' must be text or a number, not {repr(value)[:40]}"
            )
        if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity in JSON
            raise InvalidRunSpecError(f"a value of '{name}' must be a finite number, not {value}")
        text = value if isinstance(value, str) else str(value)
        if "\0" in text or len(text.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            raise InvalidRunSpecError(
                f"a value of '{name}' holds a NUL character or is longer than "
                f"{MAX_VALUE_BYTES} bytes"
            )
        texts.append(text)
    if not texts:
        raise InvalidRunSpecError(f"the parameter '{name}' has no values: give at least one")
    return texts


def combination_count(params: Mapping[str, Sequence[str]]) -> int:
    """How many combinations :func:`expand` would make (without making them)."""
    count = 1
    for values in params.values():
        count *= len(values)
    return count


def expand(params: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """The cartesian product of the parameters' values, in the order given: the last
    parameter varies fastest (``{a: [1, 2], b: [x, y]}`` → a1 bx, a1 by, a2 bx, a2 by)."""
    import itertools

    names = list(params)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*params.values())]


def _pieces(arg: str) -> list[tuple[bool, str]]:
    """``arg`` cut into (is a name, text) pieces: ``{name}`` is a name, ``{{`` and ``}}``
    literal braces; a lone brace or a brace holding anything but a name is refused."""
    pieces: list[tuple[bool, str]] = []
    text: list[str] = []
    i = 0
    while i < len(arg):
        char = arg[i]
        if char in "{}" and arg.startswith(char * 2, i):
            text.append(char)
            i += 2
        elif char == "{":
            end = arg.find("}", i + 1)
            name = arg[i + 1 : end] if end > 0 else ""
            if end < 0 or not name.isidentifier():
                raise InvalidRunSpecError(
                    f"the argument {_short(arg)} holds a '{{' that does not enclose a "
                    "parameter name: write {name} for a value, {{ and }} for literal braces"
                )
            pieces += [(False, "".join(text)), (True, name)]
            text = []
            i = end + 1
        elif char == "}":
            raise InvalidRunSpecError(
                f"the argument {_short(arg)} holds a lone '}}': write }}}} for a literal brace"
            )
        else:
            text.append(char)
            i += 1
    pieces.append((False, "".join(text)))
    return pieces


def _short(arg: str) -> str:
    return repr(arg) if len(arg) <= 60 else repr(arg[:57] + "...")


def placeholders(args: Sequence[str]) -> list[str]:
    """The parameter names the arguments hold (``{name}``), in order, checked for form."""
    return [text for arg in args for is_name, text in _pieces(arg) if is_name]


def check_placeholders(args: Sequence[str], names: Iterable[str]) -> None:
    """Every ``{name}`` in ``args`` must be one of ``names``."""
    known = set(names)
    unknown = [name for name in placeholders(args) if name not in known]
    if unknown:
        listed = ", ".join(sorted(known))
        raise InvalidRunSpecError(
            f"the arguments name {{{unknown[0]}}}, which is not a parameter of the sweep "
            f"(its parameters: {listed}); write {{{{ and }}}} for literal braces"
        )


def substitute(args: Sequence[str], params: Mapping[str, str]) -> list[str]:
    """``args`` with each ``{name}`` replaced by that parameter's value (``{{`` and ``}}``
    give literal braces). An unknown name raises ``InvalidRunSpecError``."""
    check_placeholders(args, params)
    return ["".join(params[t] if is_name else t for is_name, t in _pieces(arg)) for arg in args]
