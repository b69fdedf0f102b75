"""Requirements a project declares: requirements files, PEP 723 script metadata, pyproject.

Which source wins is ``project.resolve_project``'s rule; a project that declares nothing has
its requirements inferred from its imports (``inference``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ._core import Record
from .errors import ProjectError
from .pyproject import checked_requires_python, parse_toml, string_list

__all__ = [
    "Requirements",
    "ScriptMetadata",
    "absolute_local_paths",
    "check_local_paths",
    "local_path_of",
    "read_pyproject_dependencies",
    "read_requirements_file",
    "read_script_block",
    "read_script_metadata",
]

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_NAME = r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?=$|[\s\[<>=!~;@(])"  # compiled when first used
_DIRECT_REF_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-\[\], ]*?)\s*@\s*(\S+)(.*)$")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_SCRIPT_BLOCK = (  # compiled when first used: most entry points have no such block
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)[ \t]*$\s(?P<content>(^#(| .*)$\s)+)^# ///[ \t]*$"
)


class Requirements(Record):
    """The requirement lines of a project and where they came from."""

    _fields = ("lines", "source", "path")
    __slots__ = _fields

    lines: tuple[str, ...]
    source: str
    path: str | None

    def __init__(self, lines: tuple[str, ...], source: str, path: str | None = None) -> None:
        self.lines = lines
        self.source = source
        self.path = path

    def normalized(self) -> tuple[str, ...]:
        """Order-independent form for cache keys: collapsed, names canonical, unique, sorted."""
        out: set[str] = set()
        name_re = re.compile(_NAME)
        for line in self.lines:
            text = " ".join(line.split())
            match = name_re.match(text)
            if match and not text.startswith("-"):
                name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
                text = name + text[match.end(1) :]
            if text:
                out.add(text)
        return tuple(sorted(out))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"lines": list(self.lines), "source": self.source, "path": self.path}


# --------------------------------------------------------------------------- files


def _real(path: Path | str) -> Path:
    """``path`` with every link followed, as far as the links lead: a link loop stays as it is
    (``Path.resolve`` raises on one), and is then not inside any folder it points into."""
    return Path(os.path.realpath(path))


def _within(path: Path, root: Path) -> bool:
    """True when ``path`` (resolved) lies inside ``root`` (resolved)."""
    return _real(path).is_relative_to(_real(root))


def _display(path: Path, root: Path) -> str:
    try:
        return _real(path).relative_to(_real(root)).as_posix()
    except ValueError:
        return path.name


def _read_text(path: Path, root: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ProjectError(
            f"{what} '{_display(path, root)}' not found; fix the path or remove the reference."
        ) from None
    except UnicodeDecodeError:
        raise ProjectError(
            f"{what} '{_display(path, root)}' is not valid UTF-8 text; save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ProjectError(
            f"cannot read {what} '{_display(path, root)}': {exc.strerror or exc}; "
            "check that it is a readable file."
        ) from None


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join ``\\``-continued lines, strip comments and blanks; each with its first line's
    number."""
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not _COMMENT_RE.match(raw.strip()):
            pending += raw[:-1]
            continue
        line = _COMMENT_RE.sub("", pending + raw).strip()
        pending = ""
        if line:
            yield start, line
    if pending:
        line = _COMMENT_RE.sub("", pending).strip()
        if line:
            yield start, line


def _option_value(line: str, short: str | None, long: str) -> str | None:
    """The value of ``line`` when it is the option ``short``/``long``, else None."""
    if line.startswith(long):
        rest = line[len(long) :]
        if rest.startswith("="):
            return rest[1:].strip()
        if rest[:1].isspace():
            return rest.strip()
        return None
    if short and line.startswith(short) and not line.startswith("--"):
        rest = line[len(short) :]
        return rest[1:].strip() if rest.startswith("=") else rest.strip()
    return None


def _is_relative_path(text: str) -> bool:
    return not (text.startswith(("/", "~")) or "://" in text or re.match(r"^[A-Za-z]:[\\/]", text))


def _local_path(token: str, base: Path) -> Path | None:
    """The absolute path of a relative local path requirement, or None if not one."""
    if token.startswith("file:") and not token.startswith("file://"):
        rel = token[len("file:") :]
        return Path(os.path.normpath(base / rel)) if _is_relative_path(rel) else None
    if not _is_relative_path(token):
        return None
    if token in (".", "..") or token.startswith(("./", "../")):
        return Path(os.path.normpath(base / token))
    looks_like_path = "/" in token or token.endswith(_ARCHIVE_SUFFIXES)
    if looks_like_path and (base / token).exists():
        return Path(os.path.normpath(base / token))
    return None


def _rewrite_requirement(line: str, base: Path) -> str:
    """Rewrite relative local paths (``./pkg``, ``file:../x``, ``name @ ./y``) to absolute."""
    direct = _DIRECT_REF_RE.match(line)
    if direct and "://" not in direct.group(2):
        target = _local_path(direct.group(2), base)
        if target is not None:
            return f"{direct.group(1)} @ {target.as_uri()}{direct.group(3)}"
        return line
    token, sep, rest = line.partition(" ")
    extras = ""
    if token.endswith("]") and "[" in token:
        token, bracket, tail = token.partition("[")
        extras = bracket + tail
    target = _local_path(token, base)
    if target is None:
        return line
    new = target.as_uri() if token.startswith("file:") else str(target)
    return f"{new}{extras}{sep}{rest}"


_VERSION_CLAUSE = r"(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+"
_REQUIREMENT = (  # PEP 508 by name, then per-requirement options such as --hash
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*"
    rf"(?:\(?\s*{_VERSION_CLAUSE}(?:\s*,\s*{_VERSION_CLAUSE})*\s*\)?|@\s*\S+)?"
    r"\s*(?:;.*?)?(?:\s+--[a-z][a-z-]*(?:[= ]\S+)?)*\s*$"
)


def _check_requirement(line: str, where: str) -> None:
    """A ProjectError naming ``where`` unless ``line`` reads as one requirement: a name with
    optional extras, versions, URL and markers, or a path or URL (what an installer takes)."""
    if "://" in line or line.startswith(("/", "file:", "git+", "hg+", "svn+", "bzr+")):
        return
    if re.match(_REQUIREMENT, line):
        return
    target = line.split(";", 1)[0].strip()
    if "/" in target or target.endswith(_ARCHIVE_SUFFIXES):
        raise ProjectError(
            f"{where}: '{line}' names a file or folder that is not in the project; "
            "include it, or fix the path (relative to the requirements file)."
        )
    raise ProjectError(
        f"{where}: '{line}' is not a requirement; write one package per line, such as "
        "'numpy' or 'numpy>=1.26' (see pip's requirements file format)."
    )


def local_path_of(line: str) -> Path | None:
    """The local file or folder a requirement line installs (``/abs/pkg``, ``-e /abs/pkg``,
    ``name @ file:///abs/pkg``, ``file:///abs/pkg[extra]``), or None for one from an index
    or a remote URL. Lines read by :func:`read_requirements_file` carry absolute paths."""
    text = line.strip()
    editable = _option_value(text, "-e", "--editable")
    if editable is not None:
        text = editable
    elif text.startswith("-"):
        return None
    direct = _DIRECT_REF_RE.match(text)
    if direct:
        text = direct.group(2)
    token = text.split(";", 1)[0].split()[0] if text.split() else ""
    if token.endswith("]") and "[" in token:
        token = token[: token.index("[")]
    if token.startswith("file://"):
        from urllib.parse import unquote, urlparse

        token = unquote(urlparse(token).path)
    elif token.startswith("file:"):
        token = token[len("file:") :]
    return Path(token) if token.startswith("/") else None


def absolute_local_paths(
    lines: list[str], base: Path, root: Path | None = None, where: str = "pyproject.toml"
) -> list[str]:
    """``lines`` with relative local paths (``name @ file:../lib``, ``./pkg``) made absolute
    against ``base``, as a requirements file there would have them. With ``root`` (the
    project folder), a local path that leads outside it is a ProjectError naming ``where``."""
    out = [line if line.startswith("-") else _rewrite_requirement(line, base) for line in lines]
    if root is not None:
        for shown, line in zip(lines, out, strict=True):
            check_local_paths(line, root, f"'{where}'", shown=shown)
    return out


def _hides_a_path(word: str) -> bool:
    """Whether ``word`` holds a ``${NAME}`` (which uv and pip expand in requirement files and
    script blocks) anywhere but in a web URL (``https://${TOKEN}@index/...`` is fine)."""
    if "${" not in word:
        return False
    value = word.partition("=")[2] if word.startswith("-") else word
    value = value.partition("@")[2] if re.match(r"^[\w.\-\[\], ]+@", value) else value
    return not re.match(r"^(?:[a-z]+\+)?https?://", value, re.I)


def _named_paths(line: str) -> Iterator[str]:
    """Every absolute local path ``line`` names, in any word: a path, a ``file:`` URL (also
    after ``name @``, and a local repository's ``git+file:``), an option's value
    (``--find-links /x``, ``--find-links=/x``). These are what an installer would read, and
    what the environment's key reads (``envspec``)."""
    for word in line.split():
        if word.startswith("-") and "=" in word:
            word = word.partition("=")[2]
        elif "@" in word and not re.match(r"^/|^([a-z]+\+)?file:", word):
            word = word.partition("@")[2]  # name@file:///x; a URL's user@host is no path
        if re.match(r"^[a-z]+\+file:", word):
            word = word.partition("+")[2]  # git+file:///repo@rev: the repository's path
        if word.endswith("]") and "[" in word:
            word = word[: word.index("[")]
        if word.startswith("file:"):
            from urllib.parse import unquote, urlparse

            url = urlparse(word)
            host = "" if url.netloc in ("", "localhost") else "/" + url.netloc
            word = unquote(host + url.path)  # file://etc/x: the "host" is a path too
        if word.startswith("/"):
            yield word


def check_local_paths(line: str, root: Path, where: str, *, shown: str | None = None) -> None:
    """A ProjectError naming ``where`` (and ``shown``, the line as the user wrote it) when a
    local path in ``line`` leads outside ``root`` (links followed) or into a link loop.

    An installer reads a local package whole, and the environment's key reads it too: a path
    out of the project would let a requirements file make pyrunner read any folder of the
    machine (the store's other runs, ``/``) into a run, as ``-r`` already may not."""
    import errno

    text = line if shown is None else shown
    if any(_hides_a_path(word) for word in line.split()):
        # the installer expands ${NAME} itself: a path hidden in a variable cannot be checked
        raise ProjectError(
            f"{where}: '{text}' uses an environment variable; a local path must be written "
            "out, inside the project (variables are allowed only in an index URL)."
        )
    real_root = _real(root)
    for named in _named_paths(line):
        try:
            real = Path(os.path.realpath(named, strict=True))
        except FileNotFoundError:
            real = _real(named)  # not there (yet): the installer will say so
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise ProjectError(
                    f"{where}: '{text}' names a path that cannot be read "
                    f"({exc.strerror or exc}); fix the path or remove the line."
                ) from None
            raise ProjectError(
                f"{where}: '{text}' names a symbolic link that leads back to itself (a loop); "
                "fix the link or remove the line."
            ) from None
        if not real.is_relative_to(real_root):
            raise ProjectError(
                f"{where}: '{text}' leads outside the project folder; a local package, wheel "
                "or folder must be part of the project (copy it in), or come from an index."
            )


def _read_requirements(path: Path, root: Path, seen: set[Path], *, keep: bool) -> list[str]:
    resolved = _real(path)
    if not resolved.is_relative_to(_real(root)):
        raise ProjectError(
            f"requirements file '{path.name}' lies outside the project folder; "
            "include only files from inside the project."
        )
    if resolved in seen:
        return []  # already included: cycles and repeats are read once
    seen.add(resolved)
    base = resolved.parent
    lines: list[str] = []
    for number, line in _logical_lines(_read_text(resolved, root, "requirements file")):
        include = _option_value(line, "-r", "--requirement")
        constraint = _option_value(line, "-c", "--constraint")
        if include is not None or constraint is not None:
            ref = include if include is not None else constraint
            if not ref or "://" in ref:
                raise ProjectError(
                    f"'{line}' in '{_display(resolved, root)}' must name a file of the project."
                )
            target = Path(os.path.normpath(base / ref))
            if not _within(target, root):
                raise ProjectError(
                    f"'{line}' in '{_display(resolved, root)}' points outside the project "
                    "folder; keep included requirement files inside the project."
                )
            if include is not None:
                lines.extend(_read_requirements(target, root, seen, keep=keep))
            else:
                # Constraints are not requirements: validate, then pass by absolute path.
                _read_requirements(target, root, set(seen), keep=False)
                lines.append(f"-c {_real(target)}")
            continue
        where = f"'{_display(resolved, root)}', line {number}"
        out = _rewritten_line(line, base, where)
        check_local_paths(out, root, where, shown=line)
        lines.append(out)
    return lines if keep else []


def _rewritten_line(line: str, base: Path, where: str) -> str:
    """A line of a requirements file in ``base`` (not an include) with its relative local
    paths made absolute; a ProjectError naming ``where`` when it is no requirement."""
    editable = _option_value(line, "-e", "--editable")
    if editable is not None:
        return f"-e {_rewrite_requirement(editable, base)}"
    links = _option_value(line, "-f", "--find-links")
    if links is not None:
        local = _is_relative_path(links) and (
            links.startswith(("./", "../")) or links == "." or (base / links).exists()
        )
        return f"--find-links {os.path.normpath(base / links)}" if local else line
    if line.startswith("-"):
        return line
    line = _rewrite_requirement(line, base)
    _check_requirement(line, where)
    return line


def read_requirements_file(path: Path, root: Path) -> list[str]:
    """Requirement lines of a requirements file, with ``-r`` includes inlined.

    Comments, blank lines and continuations are cleaned up; option lines are kept;
    ``-c`` constraint files are checked and kept as ``-c <absolute path>``; relative local
    paths are made absolute. Included files must stay inside ``root``.
    """
    return _read_requirements(Path(path), Path(root), set(), keep=True)


# --------------------------------------------------------------------------- metadata


def _source_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProjectError(
            f"cannot read '{path.name}': {exc.strerror or exc}; check that it is a readable file."
        ) from None


def _source_text(data: bytes) -> str:
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    return data.decode(encoding, errors="replace")


class ScriptMetadata(Record):
    """A PEP 723 ``# /// script`` block: its dependencies and the Pythons it accepts."""

    _fields = ("dependencies", "requires_python")
    __slots__ = _fields

    dependencies: list[str]
    requires_python: str | None

    def __init__(self, dependencies: list[str], requires_python: str | None = None) -> None:
        self.dependencies = dependencies
        self.requires_python = requires_python


_OPENING = re.compile(r"(?m)^# /// script[ \t]*$")


def read_script_block(entry: Path, root: Path | None = None) -> ScriptMetadata | None:
    """The PEP 723 ``# /// script`` block of ``entry``; None when it has none. A block that
    is opened but cannot be read (not closed, a line without ``#``, bad TOML) is a
    ProjectError naming the line, never taken for "no requirements". With ``root`` (the
    project folder), a dependency on a local path outside it is a ProjectError too."""
    raw = _source_bytes(entry)
    if b"# /// script" not in raw:
        # no block: a source encoding keeps ASCII text as is, so no need to decode (tokenize)
        return None
    text = _source_text(raw).replace("\r\n", "\n")
    openings = list(_OPENING.finditer(text))
    if not openings:
        return None
    blocks = [m for m in re.compile(_SCRIPT_BLOCK).finditer(text) if m.group("type") == "script"]
    if len(openings) > 1 or len(blocks) > 1:
        raise ProjectError(f"'{entry.name}' has several '# /// script' blocks; keep a single one.")
    first_line = text.count("\n", 0, openings[0].start()) + 1
    if not blocks and text[openings[0].end() :].startswith(("\n# ///\n", "\n# ///")):
        return ScriptMetadata([])  # an empty block
    if not blocks or blocks[0].start() != openings[0].start():
        raise ProjectError(
            f"'{entry.name}', line {first_line}: the '# /// script' block is not closed by a "
            "'# ///' line, or one of its lines does not start with '#'; fix the block "
            "(PEP 723) or remove it."
        )
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    data = parse_toml(
        content,
        f"the '# /// script' block of '{entry.name}'",
        "remove the block",
        first_line=first_line + 1,
    )
    deps = string_list(data.get("dependencies", []), f"'dependencies' in '{entry.name}'")
    requires = checked_requires_python(
        data.get("requires-python"), f"'requires-python' in '{entry.name}'"
    )
    if root is not None:
        for dep in deps:
            check_local_paths(dep, root, f"the '# /// script' block of '{entry.name}'")
    return ScriptMetadata(deps, requires)


def read_script_metadata(entry: Path) -> list[str] | None:
    """Dependencies of a PEP 723 ``# /// script`` block in ``entry``; None when it has none."""
    block = read_script_block(entry)
    return None if block is None else block.dependencies


def read_pyproject_dependencies(path: Path) -> list[str] | None:
    """The dependencies a pyproject.toml declares (``[project]`` or Poetry's); None when it
    declares none. :func:`pyproject.read_pyproject` tells the rest."""
    from .pyproject import read_pyproject

    return read_pyproject(path).dependencies
