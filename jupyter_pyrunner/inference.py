"""Requirements inferred from a project's imports, for projects that declare none.

As oSparc's Python Runner does, every ``.py`` file is scanned offline and its imports mapped
to distribution names (``sklearn`` → ``scikit-learn``). The mapping is this project's own table
first (``importnames``: modules shipped inside other distributions, namespace packages such as
``google.protobuf``), then pipreqs' mapping file, then the import's own name.

When the installer cannot resolve an inferred name, :func:`explain_unresolved` turns its error
into a message that names the import the package was guessed from and how to fix it.

Importing this module is cheap: the heavier standard modules and the mapping data are loaded
only when needed, and a cached inference loads none of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

from ._core import sha256
from .projectfiles import iter_project_files

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    import ast

__all__ = ["explain_unresolved", "infer_requirements", "infer_with_origins"]

#: 2: our own import table, dotted namespace imports, origins stored beside the names
_CACHE_FORMAT = 2

#: standard modules that newer Pythons removed (PEP 594 and others): never a distribution
_REMOVED_STDLIB = frozenset(
    [
        "aifc",
        "asynchat",
        "asyncore",
        "audioop",
        "binhex",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "distutils",
        "formatter",
        "imghdr",
        "imp",
        "lib2to3",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "parser",
        "pipes",
        "smtpd",
        "sndhdr",
        "spwd",
        "sunau",
        "symbol",
        "telnetlib",
        "uu",
        "xdrlib",
    ]
)

#: what to do when a guessed name is wrong, in the words of the run options
FIX_HINT = (
    "Requirements are guessed from the imports only when the project declares none: "
    "add a requirements.txt beside the entry point that names the packages it needs "
    "(or declare them in the script's PEP 723 metadata), or give them with the run "
    "(--requirements 'NAME ...' on the command line, requirements=[...] from Python), "
    "then run it again."
)

Origins = list[tuple[str, list[str]]]


def _python_sources(root: Path, shallow: bool = False) -> list[tuple[PurePosixPath, bytes]]:
    """Relative path and content of every non-ignored ``.py`` file inside ``root`` (with
    ``shallow``, of those directly in it)."""
    real_root = root.resolve()
    out: list[tuple[PurePosixPath, bytes]] = []
    for rel in iter_project_files(root):
        if rel.suffix != ".py" or (shallow and len(rel.parts) > 1):
            continue
        path = root / rel
        try:
            if not path.resolve().is_relative_to(real_root) or not path.is_file():
                continue
            out.append((rel, path.read_bytes()))
        except (OSError, RuntimeError):  # RuntimeError: a link loop named like a script
            continue
    return out


def _pipreqs_version() -> str:
    """Names pipreqs' installed distribution without importing it or importlib.metadata."""
    import importlib.util

    spec = importlib.util.find_spec("pipreqs")
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    folder = Path(next(iter(spec.submodule_search_locations))).parent
    try:  # the names that glob("pipreqs-*.dist-info") gives, without compiling a pattern
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.name.startswith("pipreqs-")]
    except OSError:
        names = []
    return ",".join(sorted(n for n in names if n.endswith(".dist-info"))) or "unknown"


def _table_digest() -> str:
    """A digest of our own import table: a corrected entry invalidates cached answers."""
    from .importnames import DISTRIBUTIONS, NAMESPACES

    text = repr((sorted(DISTRIBUTIONS.items()), sorted(NAMESPACES)))
    return sha256(text.encode()).hexdigest()[:16]


def _cache_key(sources: list[tuple[PurePosixPath, bytes]]) -> str:
    digest = sha256(expected_size=sum(len(data) for _, data in sources))
    header = (
        f"infer:{_CACHE_FORMAT}:table={_table_digest()}:pipreqs={_pipreqs_version()}"
        f":py={sys.version_info[:2]}"
    )
    digest.update(header.encode())
    for rel, data in sources:
        name = rel.as_posix().encode()
        digest.update(b"\0%d:%s\0%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def _cache_load(path: Path) -> Origins | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return None
    items = data.get("requirements")
    if not isinstance(items, list):
        return None
    out: Origins = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            return None
        name, imports = item
        if not (isinstance(imports, list) and all(isinstance(i, str) for i in imports)):
            return None
        out.append((name, imports))
    return out


def _cache_store(path: Path, result: Origins) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": _CACHE_FORMAT, "requirements": result}, fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass  # the cache is an optimisation only


def _parse_source(data: bytes) -> ast.Module | None:
    """The syntax tree of a Python file that parses, else None."""
    import ast
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return ast.parse(data.decode(encoding))
    except (SyntaxError, ValueError, LookupError, UnicodeDecodeError, RecursionError):
        return None


def _imported_names(tree: ast.Module, namespaces: frozenset[str]) -> set[str]:
    """Every absolute module a file imports, dotted as written, anywhere in the file.

    ``from google import protobuf`` is read as ``google.protobuf`` when ``google`` is a
    namespace: below a namespace the next component names the distribution.
    """
    import ast

    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module in namespaces:
                names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return names


def _pipreqs_mapping() -> dict[str, str]:
    """pipreqs' own import → distribution file (empty without pipreqs), read as data: its
    module imports ``requests``, which costs more than the whole scan."""
    try:
        from importlib.resources import files

        text = files("pipreqs").joinpath("mapping").read_text(encoding="utf-8")
    except (ImportError, OSError, ValueError):
        return {}
    pairs = (line.strip().partition(":") for line in text.splitlines())
    return {key: value for key, sep, value in pairs if sep and key and value}


class _Resolver:
    """Import name → (requirement, the import it was taken from), by the rules of the
    module docstring; None for a bare namespace (``import google``), which needs nothing."""

    def __init__(self) -> None:
        from .importnames import NAMESPACES, by_import

        self.table = by_import()
        self.namespaces = NAMESPACES
        self._fallback: dict[str, str] | None = None

    def resolve(self, name: str) -> tuple[str, str] | None:
        parts = name.split(".")
        for depth in range(len(parts), 0, -1):
            key = ".".join(parts[:depth])
            if key in self.table:
                return self.table[key], key
        depth = 1
        while depth < len(parts) and ".".join(parts[:depth]) in self.namespaces:
            depth += 1
        if parts[0] in self.namespaces:
            if ".".join(parts[:depth]) in self.namespaces:
                return None  # the namespace alone
            return "-".join(parts[:depth]).replace("_", "-"), ".".join(parts[:depth])
        if self._fallback is None:
            self._fallback = _pipreqs_mapping()
        return _canonical(self._fallback.get(parts[0], parts[0])), parts[0]


def _canonical(name: str) -> str:
    return re.sub(r"_+", "-", name.strip())


def _merge_ranges(found: dict[str, set[str]]) -> dict[str, set[str]]:
    """``setuptools`` beside ``setuptools<82``: one requirement, the narrower, with both
    origins (two lines of one distribution would be redundant in the environment's key)."""
    ranged = {_dist_name(r): r for r in found if _dist_name(r) != r}
    out: dict[str, set[str]] = {}
    for req, imports in found.items():
        target = ranged.get(req, req)
        out.setdefault(target, set()).update(imports)
    return out


def _scan_imports(sources: list[tuple[PurePosixPath, bytes]]) -> Origins:
    local: set[str] = set()
    for rel, _ in sources:
        local.update(rel.parent.parts)
        local.add(rel.stem)
    excluded = local | set(sys.stdlib_module_names) | _REMOVED_STDLIB | {"__main__"}
    resolver = _Resolver()
    found: dict[str, set[str]] = {}
    for _, data in sources:
        tree = _parse_source(data)
        if tree is None:
            continue  # syntax error or bad encoding: skip the file, not the whole scan
        for name in _imported_names(tree, resolver.namespaces):
            if not name or name.split(".")[0] in excluded:
                continue
            hit = resolver.resolve(name)
            if hit is not None:
                found.setdefault(hit[0], set()).add(hit[1])
    merged = _merge_ranges(found)
    return [(req, sorted(merged[req])) for req in sorted(merged, key=lambda s: (s.lower(), s))]


def infer_with_origins(
    root: Path, *, cache_dir: Path | None = None, shallow: bool = False
) -> Origins:
    """Each distribution the project's imports need, with the imports it was inferred from
    (``[("matplotlib", ["matplotlib", "mpl_toolkits.mplot3d"]), ...]``), sorted by name.

    Every non-ignored ``.py`` file of ``root`` is scanned offline; files that do not parse are
    skipped. Standard-library modules, ``__future__`` and the project's own modules and
    packages are left out. With ``shallow``, only the files directly in ``root`` are read: a
    script run from a folder it merely sits in shares that folder with unrelated projects.

    With ``cache_dir``, the result is stored there as a small JSON file keyed by a sha256 of
    the files' relative paths and contents (plus the mapping's version); a cache hit returns
    without parsing anything.
    """
    root = Path(root)
    sources = _python_sources(root, shallow)
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"inferred-{_cache_key(sources)}.json"
        cached = _cache_load(cache_file)
        if cached is not None:
            return cached
    result = _scan_imports(sources) if sources else []
    if cache_file is not None:
        _cache_store(cache_file, result)
    return result


def infer_requirements(
    root: Path, *, cache_dir: Path | None = None, shallow: bool = False
) -> list[str]:
    """The distribution names of :func:`infer_with_origins`, sorted and unique."""
    return [name for name, _ in infer_with_origins(root, cache_dir=cache_dir, shallow=shallow)]


# -- an installer's failure, explained ------------------------------------------------------
#: what uv and pip print when a name cannot be had from the index; group 1 is the requirement
_UNRESOLVED = (
    re.compile(r"Because (\S+) was not found in the (?:package registry|provided package)"),
    re.compile(r"No matching distribution found for (\S+)"),
)
#: what uv prints when a requirement's only candidate is an sdist that does not build
_UNBUILDABLE = re.compile(r"Failed to build `([^`]+)`")


def _dist_name(requirement: str) -> str:
    """The distribution a requirement line (or an installer's ``name==1.0``) names."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else requirement.strip()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", _dist_name(name)).lower()


def _named(details: str, patterns: tuple[re.Pattern[str], ...]) -> list[str]:
    """The normalised distribution names the installer's text names by ``patterns``."""
    text = " ".join(details.split())  # a long message may be wrapped over lines
    return [_normal(m.group(1)) for p in patterns for m in p.finditer(text)]


def explain_unresolved(
    details: str,
    requirements: list[str],
    imports_by_requirement: dict[str, list[str]] | None = None,
) -> str | None:
    """A message for a build that failed because one of ``requirements`` cannot be had from
    the package index (uv or pip's ``details``), naming the import each was inferred from
    (``imports_by_requirement``: given when the requirements were inferred) and how to fix
    it; None when the failure is something else (a network error, a compiler error...).
    """
    by_normal = {_normal(r): r for r in requirements}
    missing = [by_normal[n] for n in dict.fromkeys(_named(details, _UNRESOLVED)) if n in by_normal]
    broken = [
        by_normal[n]
        for n in dict.fromkeys(_named(details, (_UNBUILDABLE,)))
        if n in by_normal and by_normal[n] not in missing
    ]
    if not missing and not broken:
        return None
    if imports_by_requirement is None:
        lines = [f"the package index has no '{r}', named in the requirements" for r in missing]
        lines += [f"'{r}', named in the requirements, could not be built" for r in broken]
        return "\n".join([*lines, "Check the names in the project's requirements."])
    origins = {_normal(r): imports for r, imports in imports_by_requirement.items()}

    def source(req: str) -> str:
        imports = origins.get(_normal(req)) or []
        shown = ", ".join(f"'import {i}'" for i in imports)
        return f"guessed from {shown}" if shown else "guessed from the imports"

    lines = [f"the package index has no '{r}' ({source(r)})" for r in missing]
    lines += [f"'{r}' ({source(r)}) could not be built" for r in broken]
    return "\n".join([*lines, FIX_HINT])
