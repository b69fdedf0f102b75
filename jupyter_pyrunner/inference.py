"""Requirements inferred from a project's imports, for projects that declare none.

As oSparc's Python Runner does, every ``.py`` file is scanned offline with pipreqs' library
functions and the imports mapped to distribution names (``sklearn`` → ``scikit-learn``).
Importing this module is cheap: ``pipreqs`` (and the heavier standard modules) are imported
only when needed, and a cached inference never imports pipreqs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ._core import sha256
from .errors import ProjectError
from .projectfiles import iter_project_files

__all__ = ["infer_requirements"]

_CACHE_FORMAT = 1


def _python_sources(root: Path) -> list[tuple[PurePosixPath, bytes]]:
    """Relative path and content of every non-ignored ``.py`` file inside ``root``."""
    real_root = root.resolve()
    out: list[tuple[PurePosixPath, bytes]] = []
    for rel in iter_project_files(root):
        if rel.suffix != ".py":
            continue
        path = root / rel
        try:
            if not path.resolve().is_relative_to(real_root) or not path.is_file():
                continue
            out.append((rel, path.read_bytes()))
        except OSError:
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


def _cache_key(sources: list[tuple[PurePosixPath, bytes]]) -> str:
    digest = sha256(expected_size=sum(len(data) for _, data in sources))
    header = f"infer:{_CACHE_FORMAT}:pipreqs={_pipreqs_version()}:py={sys.version_info[:2]}"
    digest.update(header.encode())
    for rel, data in sources:
        name = rel.as_posix().encode()
        digest.update(b"\0%d:%s\0%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def _cache_load(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    reqs = data.get("requirements") if isinstance(data, dict) else None
    if isinstance(reqs, list) and all(isinstance(r, str) for r in reqs):
        return reqs
    return None


def _cache_store(path: Path, requirements: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": _CACHE_FORMAT, "requirements": requirements}, fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass  # the cache is an optimisation only


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silence pipreqs, which logs through the root logger (and may call basicConfig)."""
    import logging

    root_logger = logging.getLogger()
    guard = logging.NullHandler()
    root_logger.addHandler(guard)  # a handler present: logging.debug() won't call basicConfig
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
        root_logger.removeHandler(guard)


def _decode_source(data: bytes) -> str | None:
    """Source text of a Python file that parses, else None."""
    import ast
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
        ast.parse(text)
    except (SyntaxError, ValueError, LookupError, UnicodeDecodeError, RecursionError):
        return None
    return text


def _canonical(name: str) -> str:
    return re.sub(r"_+", "-", name.strip())


def _scan_imports(sources: list[tuple[PurePosixPath, bytes]]) -> list[str]:
    local: set[str] = set()
    for rel, _ in sources:
        local.update(rel.parent.parts)
        local.add(rel.stem)
    import tempfile
    import warnings

    with tempfile.TemporaryDirectory(prefix="pyrunner-infer-") as tmp:
        stage = Path(tmp)
        for rel, data in sources:
            text = _decode_source(data)
            if text is None:
                continue  # syntax error or bad encoding: skip the file, not the whole scan
            target = stage.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pipreqs import pipreqs
        except ImportError:
            raise ProjectError(
                "cannot infer the requirements: pipreqs is not installed; "
                "install it or add a requirements.txt beside the entry point."
            ) from None
        with _quiet_logging():
            try:
                imports: list[str] = list(pipreqs.get_all_imports(str(stage), follow_links=False))
                excluded = local | set(sys.stdlib_module_names) | {"__future__", "__main__"}
                wanted = sorted(name for name in imports if name and name not in excluded)
                names: list[str] = list(pipreqs.get_pkg_names(wanted))
            except Exception as exc:
                raise ProjectError(
                    f"could not infer the requirements from the imports ({exc}); "
                    "add a requirements.txt beside the entry point."
                ) from None
    result = {_canonical(n) for n in names if n.strip()}
    return sorted(result, key=lambda s: (s.lower(), s))


def infer_requirements(root: Path, *, cache_dir: Path | None = None) -> list[str]:
    """Distribution names the project's imports need, as oSparc's runner infers them.

    Every non-ignored ``.py`` file of ``root`` is scanned offline with pipreqs' library
    functions; files that do not parse are skipped. Standard-library modules, ``__future__``
    and the project's own modules and packages are left out; import names are mapped to
    distribution names by pipreqs' mapping (``sklearn`` → ``scikit-learn``). The result is
    sorted and unique.

    With ``cache_dir``, the result is stored there as a small JSON file keyed by a sha256 of
    the files' relative paths and contents (plus pipreqs' version); a cache hit returns
    without importing pipreqs.
    """
    root = Path(root)
    sources = _python_sources(root)
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
