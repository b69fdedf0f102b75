"""Poetry's ``[tool.poetry.dependencies]`` as requirement lines uv understands.

Poetry writes constraints its own way (``^1.2``, ``~1.2``, tables with ``git``, ``path``,
``extras``, ``python``, ``markers``); they become PEP 440 / PEP 508 text. Only the main
dependencies count: groups (``dev``, ``test``...) and optional dependencies are what a run of
the program does not need. ``python = "^3.10"`` is the project's ``requires-python``.
"""

from __future__ import annotations

from .errors import ProjectError
from .versionspec import poetry_to_pep440

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

__all__ = ["poetry_requirements"]


def poetry_requirements(poetry: dict[str, Any], where: str) -> tuple[list[str] | None, str | None]:
    """The requirement lines and ``requires-python`` of a ``[tool.poetry]`` table (the
    lines are None when it has no ``dependencies`` table)."""
    deps = poetry.get("dependencies")
    if deps is None:
        return None, None
    if not isinstance(deps, dict):
        raise ProjectError(f"[tool.poetry.dependencies] in {where} must be a table.")
    lines: list[str] = []
    requires_python = None
    for name, value in deps.items():
        context = f"'{name}' in [tool.poetry.dependencies] of {where}"
        if name.lower() == "python":
            if not isinstance(value, str):
                raise ProjectError(f'{context} must be a string such as "^3.10".')
            requires_python = _pep440(value, context) or None
            continue
        for item in value if isinstance(value, list) else [value]:
            line = _line(name, item, context)
            if line is not None:
                lines.append(line)
    return lines, requires_python


def _pep440(constraint: str, context: str) -> str:
    try:
        return poetry_to_pep440(constraint)
    except ValueError as exc:
        raise ProjectError(
            f'{context}: {exc}; write it as Poetry documents it (such as "^1.2"), '
            "or list the requirements in a requirements.txt."
        ) from None


def _line(name: str, value: object, context: str) -> str | None:
    """One requirement line for ``name``; None for an optional dependency."""
    if isinstance(value, str):
        return name + _version_part(value, context)
    if not isinstance(value, dict):
        raise ProjectError(f"{context} must be a version string or a table.")
    if value.get("optional") is True:
        return None  # only installed with an extra, which a run does not ask for
    extras = value.get("extras") or []
    head = name + (f"[{','.join(extras)}]" if extras else "")
    if "git" in value:
        ref = value.get("rev") or value.get("tag") or value.get("branch")
        url = f"git+{value['git']}" + (f"@{ref}" if ref else "")
        if value.get("subdirectory"):
            url += f"#subdirectory={value['subdirectory']}"
        body = f"{head} @ {url}"
    elif "url" in value:
        body = f"{head} @ {value['url']}"
    elif "path" in value:
        body = f"{head} @ file:{value['path']}"
    else:
        body = head + _version_part(str(value.get("version", "*")), context)
    markers = _markers(value, context)
    return f"{body} ; {markers}" if markers else body


def _version_part(constraint: str, context: str) -> str:
    specifier = _pep440(constraint, context)
    if "||" in specifier:
        raise ProjectError(
            f"{context}: '{constraint}' allows either of several ranges, which a requirement "
            "cannot say; choose one range, or list the requirements in a requirements.txt."
        )
    return specifier


def _markers(value: dict[str, Any], context: str) -> str:
    """PEP 508 markers from Poetry's ``python`` and ``markers`` keys."""
    parts = []
    python = value.get("python")
    if isinstance(python, str):
        alternatives = []
        for alternative in _pep440(python, context).split("||"):
            clauses = [c.strip() for c in alternative.split(",") if c.strip()]
            alternatives.append(" and ".join(_python_marker(c) for c in clauses))
        joined = [a for a in alternatives if a]
        if len(joined) == 1:
            parts.append(joined[0])
        elif joined:
            parts.append("(" + " or ".join(f"({a})" for a in joined) + ")")
    if isinstance(value.get("markers"), str) and value["markers"].strip():
        parts.append(f"({value['markers'].strip()})")
    return " and ".join(parts)


def _python_marker(clause: str) -> str:
    """``>=3.8`` → ``python_full_version >= "3.8"`` (``==3.8.*`` keeps its wildcard)."""
    op = next(o for o in ("===", "~=", "==", "!=", "<=", ">=", "<", ">") if clause.startswith(o))
    version = clause[len(op) :].strip()
    variable = "python_version" if version.endswith(".*") else "python_full_version"
    return f'{variable} {op} "{version}"'
