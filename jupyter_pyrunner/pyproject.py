"""What a ``pyproject.toml`` says about running its project: the dependencies (PEP 621
``[project]`` or Poetry's ``[tool.poetry.dependencies]``), the Python versions it accepts, and
whether the project itself is installed into a run, as ``uv run`` does.

Installable follows uv: a project is a package when it declares a ``[build-system]`` (or
``tool.uv.package = true``), unless ``tool.uv.package = false`` or Poetry's
``package-mode = false`` say otherwise. A pyproject holding only tool settings is not a project.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ._core import Record
from .errors import ProjectError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PyProject", "parse_toml", "read_pyproject"]


class PyProject(Record):
    """The run-relevant contents of one ``pyproject.toml``."""

    _fields = ("dependencies", "requires_python", "installable", "table")
    __slots__ = _fields

    #: requirement lines; None when the file declares none (nor says it has none)
    dependencies: list[str] | None
    #: PEP 440 specifier (Poetry's ``python`` converted), when given
    requires_python: str | None
    #: the project itself is a package to install into the run
    installable: bool
    #: where the dependencies came from: ``[project]``, ``[tool.poetry]`` or None
    table: str | None

    def __init__(
        self,
        dependencies: list[str] | None,
        requires_python: str | None,
        installable: bool,
        table: str | None,
    ) -> None:
        self.dependencies = dependencies
        self.requires_python = requires_python
        self.installable = installable
        self.table = table


def parse_toml(text: str, what: str, alternative: str, first_line: int = 1) -> dict[str, Any]:
    """Parse TOML text, or raise a ProjectError naming ``what``, the line and a way out.

    ``first_line`` is the line of the file where ``text`` starts (a PEP 723 block inside a
    script), so that the line in the message is the file's.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ProjectError(
                f"reading {what} needs Python 3.11+ or the 'tomli' package; {alternative}."
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = _shift_line(str(exc), first_line - 1)
        raise ProjectError(
            f"{what} is not valid TOML ({message}); fix it or {alternative}."
        ) from None


def _shift_line(message: str, offset: int) -> str:
    """tomllib's "(at line N, column M)" counted from the file's start instead of the text's."""
    import re

    if not offset:
        return message
    return re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + offset}", message)


def string_list(value: object, where: str) -> list[str]:
    """``value`` as a list of non-blank strings, or a ProjectError naming ``where``."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(f'{where} must be a list of strings such as ["numpy>=1.26"].')
    return [v.strip() for v in value if v.strip()]


def checked_requires_python(value: object, where: str) -> str | None:
    """A ``requires-python`` value checked to be a specifier pyrunner can match."""
    if value is None:
        return None
    from .versionspec import check_specifier

    if not isinstance(value, str):
        raise ProjectError(f'{where} must be a string such as ">=3.10".')
    try:
        check_specifier(value)
    except ValueError as exc:
        raise ProjectError(
            f"{where} '{value}' is not a version specifier ({exc}); write it as, "
            'for example, ">=3.10".'
        ) from None
    return value.strip() or None


def read_pyproject(path: Path) -> PyProject:
    """Read ``path`` (a ``pyproject.toml``); a ProjectError for a file that cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectError(f"'{path.name}' is not valid UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise ProjectError(
            f"cannot read '{path.name}': {exc.strerror or exc}; check that it is a readable file."
        ) from None
    data = parse_toml(text, f"'{path.name}'", "add a requirements.txt")
    project = data.get("project")
    tool = _table(data, "tool") or {}
    poetry = _table(tool, "poetry")
    where = f"'{path.name}'"
    requires = None
    if isinstance(project, dict):
        requires = checked_requires_python(
            project.get("requires-python"), f"[project] requires-python in {where}"
        )
        deps = None
        if "dependencies" in project:
            deps = string_list(project["dependencies"], f"[project].dependencies in {where}")
        if deps is not None or poetry is None:
            return PyProject(deps, requires, _installable(data, tool, poetry), "[project]")
    if poetry is not None:
        from .poetry import poetry_requirements

        deps, poetry_python = poetry_requirements(poetry, where)
        requires = requires or poetry_python
        return PyProject(deps, requires, _installable(data, tool, poetry), "[tool.poetry]")
    return PyProject(None, None, _installable(data, tool, poetry), None)


def _table(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    return value if isinstance(value, dict) else None


def _installable(data: dict[str, Any], tool: dict[str, Any], poetry: dict[str, Any] | None) -> bool:
    uv = _table(tool, "uv") or {}
    package = uv.get("package")
    if isinstance(package, bool):
        return package
    if poetry is not None and poetry.get("package-mode") is False:
        return False
    return isinstance(data.get("build-system"), dict)
