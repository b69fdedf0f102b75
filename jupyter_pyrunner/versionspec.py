"""Version constraints on Python itself: PEP 440 specifiers such as ``>=3.10,<3.13``, and
Poetry's caret and tilde constraints turned into PEP 440.

``requires-python`` is matched against interpreter versions, which are plain releases
(``3.11.7``), so a small parser is enough and keeps ``packaging`` out of the run path. Poetry's
``||`` (either constraint) is kept as an extension: a ``requires-python`` written that way
matches when any alternative does.
"""

from __future__ import annotations

import re

__all__ = ["check_specifier", "poetry_to_pep440", "version_matches"]

_OPERATORS = ("===", "~=", "==", "!=", "<=", ">=", "<", ">")
_VERSION_RE = re.compile(
    r"^v?(?P<release>\d+(?:\.\d+)*)(?P<wild>\.\*)?"
    r"(?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?$",
    re.IGNORECASE,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}

Key = tuple[tuple[int, ...], tuple[int, int]]


class _Version:
    """A parsed version: release numbers, whether it ends in ``.*``, and an ordering key."""

    __slots__ = ("key", "release", "text", "wildcard")

    def __init__(self, text: str) -> None:
        match = _VERSION_RE.match(text.strip())
        if match is None:
            raise ValueError(f"'{text}' is not a version")
        self.text = text.strip()
        self.release = tuple(int(p) for p in match.group("release").split("."))
        self.wildcard = match.group("wild") is not None
        if match.group("post") is not None:
            phase = (4, int(match.group("post") or 0))
        elif match.group("pre"):
            phase = (_PRE_RANK[match.group("pre").lower()], int(match.group("pre_n") or 0))
        elif match.group("dev") is not None:
            phase = (-1, int(match.group("dev") or 0))
        else:
            phase = (3, 0)  # a final release sorts after its pre-releases, before its post
        self.key: Key = (self.release, phase)


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    size = max(len(a), len(b))
    return a + (0,) * (size - len(a)), b + (0,) * (size - len(b))


def _compare(a: _Version, b: _Version) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` (``3.11`` equals ``3.11.0``)."""
    ra, rb = _padded(a.release, b.release)
    left, right = (ra, a.key[1]), (rb, b.key[1])
    return (left > right) - (left < right)


def _prefix_match(version: _Version, prefix: _Version) -> bool:
    """``version`` matches ``prefix.*`` (``3.11.7`` matches ``3.11.*``)."""
    padded, _ = _padded(version.release, prefix.release)
    return padded[: len(prefix.release)] == prefix.release


def _clause_matches(op: str, spec: _Version, version: _Version) -> bool:
    if op == "===":
        return version.text == spec.text
    if spec.wildcard:
        return _prefix_match(version, spec) == (op == "==")
    if op == "~=":
        return _compare(version, spec) >= 0 and _prefix_match(
            version, _Version(".".join(map(str, spec.release[:-1])))
        )
    order = _compare(version, spec)
    return {
        "==": order == 0,
        "!=": order != 0,
        "<=": order <= 0,
        ">=": order >= 0,
        "<": order < 0,
        ">": order > 0,
    }[op]


def _parse_clause(text: str) -> tuple[str, _Version]:
    clause = text.strip()
    op = next((o for o in _OPERATORS if clause.startswith(o)), None)
    if op is None:
        raise ValueError(f"'{clause}' has no comparison operator (such as >=)")
    version = _Version(clause[len(op) :])
    if version.wildcard and op not in ("==", "!="):
        raise ValueError(f"'{clause}': a '.*' version goes only with == or !=")
    if op == "~=" and len(version.release) < 2:
        raise ValueError(f"'{clause}': ~= needs at least two parts, such as ~=3.10")
    return op, version


def _alternatives(specifier: str) -> list[list[tuple[str, _Version]]]:
    """The ``||`` alternatives of ``specifier``, each a list of clauses that must all hold."""
    groups = []
    for alternative in specifier.split("||"):
        clauses = [c for c in alternative.split(",") if c.strip()]
        groups.append([_parse_clause(c) for c in clauses])
    return groups


def check_specifier(specifier: str) -> None:
    """Raise ValueError (saying what is wrong) unless ``specifier`` can be matched."""
    _alternatives(specifier)


def version_matches(specifier: str, version: str) -> bool:
    """True when ``version`` (such as ``3.11.7``) satisfies ``specifier`` (such as
    ``>=3.10,<3.13``; an empty one accepts everything). ValueError for a bad specifier."""
    if not specifier.strip():
        return True
    parsed = _Version(version)
    return any(
        all(_clause_matches(op, spec, parsed) for op, spec in group)
        for group in _alternatives(specifier)
    )


# --------------------------------------------------------------------------- Poetry

_POETRY_CLAUSE_RE = re.compile(r"(\^|~=|~|===|==|!=|<=|>=|<|>|=)?\s*([0-9*][0-9A-Za-z.*+!_-]*)")


def _bump(release: tuple[int, ...], index: int) -> str:
    """``release`` with the part at ``index`` raised by one and the parts after it zeroed."""
    parts = [*release[:index], release[index] + 1]
    parts += [0] * (len(release) - len(parts))
    return ".".join(map(str, parts))


def _poetry_clause(op: str, text: str) -> list[str]:
    if text == "*":
        return []
    if op in ("", "="):
        return [f"=={text}"]
    if op not in ("^", "~"):
        return [f"{op}{text}"]
    release = _Version(text).release
    if op == "^":
        index = next((i for i, part in enumerate(release) if part), len(release) - 1)
    else:
        index = 1 if len(release) >= 2 else 0
    return [f">={text}", f"<{_bump(release, index)}"]


def poetry_to_pep440(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier: ``^1.2`` → ``>=1.2,<2.0``,
    ``~1.2.3`` → ``>=1.2.3,<1.3.0``, ``1.4`` → ``==1.4``, ``*`` → ``""``. Alternatives
    (``^2 || ^3``) are joined by ``||``. ValueError when it cannot be read."""
    alternatives = []
    for alternative in constraint.split("||"):
        text = alternative.strip()
        clauses: list[str] = []
        position = 0
        for match in _POETRY_CLAUSE_RE.finditer(text):
            gap = text[position : match.start()]
            if gap.strip(" ,"):
                raise ValueError(f"cannot read '{gap.strip()}' in '{constraint}'")
            clauses += _poetry_clause(match.group(1) or "", match.group(2))
            position = match.end()
        if text[position:].strip(" ,") or (not clauses and text not in ("", "*")):
            raise ValueError(f"cannot read the version constraint '{constraint}'")
        alternatives.append(",".join(clauses))
    if any(not a for a in alternatives):
        return ""  # one alternative accepts everything
    result = " || ".join(alternatives)
    check_specifier(result)
    return result
