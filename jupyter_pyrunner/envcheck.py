"""Is a cached environment still as it was built? A manifest of file stats, checked before reuse.

Every run with the same requirements shares one environment, and a program runs with the
rights of the user who owns the cache: it can write into its environment. A ``.pth`` file
dropped in ``site-packages`` runs at the start of every later run; ``pip install`` from inside
a program changes what every later run imports; an edited or deleted module, or a ``.pyc``
written for one, does the same. So an environment is verified before each reuse, and one that
changed is rebuilt (``EnvironmentManager.ensure``) or, when only bytecode changed, repaired.

**What is recorded.** At the end of the build, ``pyrunner-manifest`` lists every directory and
every file of the environment with its ``(inode, size, mtime_ns, ctime_ns)``. ``ctime`` is
the key: any write, truncation, ``chmod``, rename or new hard link sets it to *now*, and no
ordinary call sets it back (``os.utime`` can forge ``mtime``, not ``ctime``). A file added to
or removed from a folder changes the folder's times; a file edited in place changes its own,
not its folder's: so folders alone would miss an edited module (see "When" below).
The environment's files must be its own for this to mean anything: uv links files from its
cache by default (hard links on ext4), and an edit through such a link would change the cache
and every environment linked from it, and a rebuild would link the edited file again; and a
new link bumps ``ctime`` of the cache's file in every environment sharing it. The installer
therefore copies (``--link-mode copy``: 0.6-1.2 s more for a numpy+matplotlib build, here).

**When, and what it costs.** Before every reuse, the folders and the start-up files
(``_at_startup``: ``pyvenv.cfg``, ``bin/``, every file directly in ``site-packages`` with its
bytecode, so every ``.pth``, ``sitecustomize`` and ``usercustomize``): a file added, removed or
renamed anywhere changes its folder, and an edit of what Python runs at start is seen. After
every use, once the program has ended, every file (``EnvironmentManager.acquire``): an edit in
place anywhere is found then, written in the manifest (``changed``), and the next reuse
rebuilds. When a use did not end with that check (its supervisor was killed, or another run
still uses the environment), the next reuse checks every file itself (``.verified`` older
than ``.last-used``). Measured on a 2-core VM under load (``benchmarks/bench_env_integrity.py``):
a bare environment (21 entries) 0.06 ms either way; numpy + matplotlib (3,955 entries, 361 of
them checked before reuse) 1.3-1.8 ms before reuse, 10-23 ms for every file (``lstat`` costs
2.5-5 us here), the manifest's load 0.6 ms. Every file before every reuse would be 2-4x over
the budget of ~5 ms; folders alone would let an edited module reach the next run; checking all
files only now and then would let it reach several.

**Bytecode.** uv does not compile; ``installer.compile_later`` writes the ``.pyc`` files in
the background after the build (see ``environments``), while runs may already use the
environment. The build creates every ``__pycache__`` folder beforehand, so that writing a
``.pyc`` never changes a folder the manifest checks. Until the helper is done (the
manifest's ``sealed`` flag) the ``__pycache__`` folders are not checked. The helper writes
every ``.pyc`` itself (``force``: whatever was there is replaced), notes each one's stats
right after writing it, then deletes any ``.pyc`` whose stats differ or that it did not write
(a hostile ``.pyc`` written meanwhile, with a valid header, would otherwise be loaded: Python
checks only the source's mtime and size in the header), makes the folders read-only, and
records them: from then on they are checked like everything else. A ``.pyc`` that changed
later is deleted at the end of the run that changed it, or at the next reuse (Python then
reads the verified source), which also covers a ``.pyc`` Python itself wrote for an ``-O`` run: a repair, not a rebuild. The window
left: a run that starts while the helper is still compiling (seconds, once per environment)
may load a ``.pyc`` that a concurrent run wrote.

**Second layer.** After the build, files and folders are made read-only (``a-w``; the root
stays writable for the engine's markers, ``__pycache__`` folders until sealed). Where the
user is not root, that stops a program's mistakes (``pip install`` fails with "Permission
denied"); it stops neither root nor a program that ``chmod``-s back (the check then sees the
new ``ctime``). A read-only
bind mount would stop root too but needs privileges; ``PYTHONNOUSERSITE`` does not matter (a
venv without system site-packages never adds the user site).

**Not the goal.** A program runs with its user's full rights: it can change the engine, the
base interpreter, the user's home, or rewrite this manifest. The check keeps one run's changes
to its environment, accidental or not, from reaching the next runs through the cache; it is
not a sandbox.

This module uses the standard library only and keeps to Python 3.8 syntax: the background
helper runs it as a script with the environment's own interpreter (``python -I -S
envcheck.py seal ...``).
"""

from __future__ import annotations

import marshal
import os
import sys

MANIFEST_NAME = "pyrunner-manifest"
MANIFEST_VERSION = 2
PYCACHE = "__pycache__"
#: files of the environment's root that the engine writes after the build, and uv's lock file
#: (uv takes it when installing a run's project for the environment's interpreter); none of
#: them is read by Python
ENGINE_FILES = frozenset(
    {
        MANIFEST_NAME,
        "pyrunner-env.json",
        ".last-used",
        ".compiled",
        "pyrunner-requirements.txt",
        ".lock",
        ".verified",
    }
)
#: a bytecode helper that has not sealed the environment after this long has failed
SEAL_TIMEOUT = 3600.0

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    Stat = tuple[int, int, int, int]


def _key(st: os.stat_result) -> Stat:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _in_pycache(rel: str) -> bool:
    return rel.endswith("/" + PYCACHE) or rel == PYCACHE or f"{PYCACHE}/" in rel


def _at_startup(rel: str) -> bool:
    """A file Python reads at every start, or that decides what it runs: ``pyvenv.cfg``, the
    interpreter and scripts in ``bin/``, and every file directly in ``site-packages`` (the
    ``.pth`` files, ``sitecustomize``, ``usercustomize``, the modules ``.pth`` files import)
    with its bytecode."""
    if rel == "pyvenv.cfg" or rel.startswith("bin/"):
        return True
    parent = rel.rpartition("/")[0]
    return parent.endswith("site-packages") or parent.endswith(f"site-packages/{PYCACHE}")


def _quick(paths: list[str], stats: list[Stat], folders: set[str]) -> tuple[list[str], list[Stat]]:
    """The entries checked before every reuse: folders and start-up files."""
    chosen = [i for i, rel in enumerate(paths) if rel in folders or _at_startup(rel)]
    return [paths[i] for i in chosen], [stats[i] for i in chosen]


# -- the build's side ------------------------------------------------------------------------
def prepare(root: str, *, bytecode_later: bool) -> None:
    """Before the manifest: a ``__pycache__`` folder beside every ``.py`` file (so that writing
    bytecode later never changes a folder the manifest checks), then everything read-only but
    the root (and those folders while the bytecode is still to be written)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != PYCACHE]
        if any(name.endswith(".py") for name in files):
            cache = os.path.join(folder, PYCACHE)
            if not os.path.lexists(cache):
                os.mkdir(cache)
    _read_only(root, skip_pycache_dirs=bytecode_later)


def _read_only(root: str, *, skip_pycache_dirs: bool) -> None:
    """``chmod a-w`` on everything under ``root`` (not ``root`` itself, nor symbolic links)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            _drop_write(os.path.join(folder, name))
        if folder == root or (skip_pycache_dirs and os.path.basename(folder) == PYCACHE):
            continue
        _drop_write(folder)


def _drop_write(path: str) -> None:
    try:
        st = os.lstat(path)
        if not os.path.islink(path) and st.st_mode & 0o222:
            os.chmod(path, st.st_mode & 0o7555)
    except OSError:
        pass


def snapshot(root: str, *, sealed: bool) -> dict[str, Any]:
    """The manifest of the environment at ``root`` as it is now."""
    paths: list[str] = []
    stats: list[Stat] = []
    pyc_paths: list[str] = []
    pyc_stats: list[Stat] = []
    top: list[str] = []
    folders: set[str] = set()

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            rel = prefix + entry.name
            if (not prefix and entry.name in ENGINE_FILES) or ".pyrunner-tmp" in entry.name:
                continue
            if not prefix:
                top.append(entry.name)
            st = entry.stat(follow_symlinks=False)
            if _in_pycache(rel):
                pyc_paths.append(rel)
                pyc_stats.append(_key(st))
            else:
                paths.append(rel)
                stats.append(_key(st))
            if entry.is_dir(follow_symlinks=False):
                folders.add(rel)
                walk(entry.path, rel + "/")

    walk(root, "")
    manifest = {
        "version": MANIFEST_VERSION,
        "sealed": sealed,
        "time": _now(),
        "build": os.urandom(8).hex(),  # tells this build from a rebuild in the same place
        "root": top,
        "paths": paths,
        "stats": stats,
    }
    manifest["quick_paths"], manifest["quick_stats"] = _quick(paths, stats, folders)
    _set_pycache(manifest, pyc_paths, pyc_stats)
    return manifest


def _set_pycache(manifest: dict[str, Any], paths: list[str], stats: list[Stat]) -> None:
    """Record the ``__pycache__`` part of the manifest, and the part of it checked always."""
    manifest["pyc_paths"], manifest["pyc_stats"] = paths, stats
    folders = {rel for rel in paths if rel.endswith(PYCACHE)}
    manifest["quick_pyc_paths"], manifest["quick_pyc_stats"] = _quick(paths, stats, folders)


def _now() -> float:
    import time

    return time.time()


def write(root: str, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (a reader sees the old one or the new one)."""
    tmp = os.path.join(root, f".{MANIFEST_NAME}.{os.getpid()}.pyrunner-tmp")
    with open(tmp, "wb") as f:
        marshal.dump(manifest, f, 4)
    os.replace(tmp, os.path.join(root, MANIFEST_NAME))


def load(root: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(root, MANIFEST_NAME), "rb") as f:
            data = f.read()  # at once: marshal.load(f) reads object by object, 30x slower
        manifest = marshal.loads(data)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        return None
    return manifest


def mark_changed(root: str, reason: str) -> None:
    """Record that the environment changed (``reason``): every later check says so."""
    manifest = load(root)
    if manifest is not None and not manifest.get("changed"):
        manifest["changed"] = reason
        write(root, manifest)


# -- before each reuse -----------------------------------------------------------------------
class Finding:
    """What changed. ``kind``: ``changed`` (rebuild), ``bytecode`` (only ``.pyc`` files did:
    ``repair`` deletes them) or ``unverifiable`` (no manifest: made by an older version)."""

    __slots__ = ("kind", "reason")

    def __init__(self, reason: str, kind: str = "changed") -> None:
        self.reason = reason
        self.kind = kind

    def __repr__(self) -> str:
        return f"Finding({self.reason!r}, {self.kind!r})"


def check(root: str, *, full: bool = True) -> Finding | None:
    """None when the environment at ``root`` is as its manifest says; else what changed.

    ``full``: every file; otherwise its folders and start-up files only (``_at_startup``),
    which sees every file added, removed or renamed anywhere, and every change to what
    Python runs at start, but not a file edited in place elsewhere (see the module)."""
    manifest = load(root)
    if manifest is None:
        return Finding("has no integrity manifest (made by an older version)", "unverifiable")
    if manifest.get("changed"):
        return Finding(str(manifest["changed"]))
    try:
        top = [n for n in os.listdir(root) if n not in ENGINE_FILES and ".pyrunner-tmp" not in n]
    except OSError:
        return Finding("its folder is gone")
    if sorted(top) != manifest["root"]:
        return Finding(_difference(root, "", manifest))
    kind = "" if full else "quick_"
    changed = _first_change(root, manifest[f"{kind}paths"], manifest[f"{kind}stats"])
    if changed is not None:
        return Finding(_describe(root, changed, manifest))
    if not manifest["sealed"]:
        if _now() - float(manifest["time"]) > SEAL_TIMEOUT:
            return Finding("its bytecode was never sealed")
        return None
    changed = _first_change(root, manifest[f"{kind}pyc_paths"], manifest[f"{kind}pyc_stats"])
    if changed is not None:
        return Finding(f"bytecode in {_shown(changed)} was written", "bytecode")
    return None


def _first_change(root: str, paths: list[str], stats: list[Stat]) -> str | None:
    """The first of ``paths`` whose stats differ from ``stats`` (fast path: one comparison)."""
    lstat = os.lstat
    prefix = root + "/"
    current: list[Stat] = []
    append = current.append
    try:
        for rel in paths:
            st = lstat(prefix + rel)
            append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    except OSError:
        return paths[len(current)]
    if current == stats:
        return None
    for rel, now, then in zip(paths, current, stats):  # noqa: B905 (3.8: no strict=)
        if now != then:
            return rel
    return None  # pragma: no cover - the lists differed


def _shown(rel: str) -> str:
    """A path for the log: what follows ``site-packages/`` when it is there."""
    _head, sep, tail = rel.partition("site-packages/")
    return tail if sep else rel


def _describe(root: str, rel: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(root, rel)
    if not os.path.lexists(path):
        return f"{_shown(rel)} was removed"
    if os.path.isdir(path) and not os.path.islink(path):
        return _difference(root, rel + "/", manifest)
    return f"{_shown(rel)} was modified"


def _difference(root: str, prefix: str, manifest: dict[str, Any]) -> str:
    """What was added to or removed from the folder ``prefix`` (``""``: the root)."""
    folder = os.path.join(root, prefix)
    try:
        now = set(os.listdir(folder))
    except OSError:
        now = set()
    if prefix:
        known = manifest["paths"] + manifest["pyc_paths"]
        then = {
            p[len(prefix) :] for p in known if p.startswith(prefix) and "/" not in p[len(prefix) :]
        }
    else:
        now -= ENGINE_FILES
        now = {n for n in now if ".pyrunner-tmp" not in n}
        then = set(manifest["root"])
    where = _shown(prefix.rstrip("/")) or "its root folder"
    added, removed = sorted(now - then), sorted(then - now)
    parts = []
    if added:
        parts.append(f"{', '.join(added[:3])}{' and more' if len(added) > 3 else ''} added")
    if removed:
        parts.append(f"{', '.join(removed[:3])}{' and more' if len(removed) > 3 else ''} removed")
    return f"{where}: {'; '.join(parts)}" if parts else f"{where} was changed"


def repair(root: str) -> bool:
    """Delete every ``.pyc`` whose stats are not the manifest's, and any file added to a
    ``__pycache__`` folder, then record the folders as they are; True if all went well (the
    non-bytecode part must have been checked first)."""
    manifest = load(root)
    if manifest is None or not manifest["sealed"]:
        return False
    expected = dict(zip(manifest["pyc_paths"], manifest["pyc_stats"]))  # noqa: B905 (3.8)
    kept = {rel: st for rel, st in expected.items() if not rel.endswith(PYCACHE)}
    folders = [rel for rel in manifest["pyc_paths"] if rel.endswith(PYCACHE)]
    try:
        files = _clean_pycache(root, folders, kept)
    except OSError:
        return False
    if files is None:
        return False
    _set_pycache(manifest, *_pycache_records(root, folders, files))
    write(root, manifest)
    return True


def _clean_pycache(
    root: str, folders: list[str], trusted: dict[str, Stat]
) -> dict[str, Stat] | None:
    """Leave in each ``__pycache__`` folder only the files of ``trusted`` with the same stats,
    make the folder read-only; the files kept, or None if the folder changed meanwhile."""
    kept: dict[str, Stat] = {}
    for folder in folders:
        path = os.path.join(root, folder)
        st = os.lstat(path)
        os.chmod(path, st.st_mode | 0o700)
        for name in os.listdir(path):
            rel = f"{folder}/{name}"
            try:
                now = _key(os.lstat(os.path.join(path, name)))
            except FileNotFoundError:
                continue
            if trusted.get(rel) == now:
                kept[rel] = now
            else:
                os.unlink(os.path.join(path, name))
        os.chmod(path, (st.st_mode | 0o700) & 0o7555)
        if {f"{folder}/{n}" for n in os.listdir(path)} != {
            r for r in kept if r.startswith(folder + "/") and "/" not in r[len(folder) + 1 :]
        }:
            return None
    return kept


def _pycache_records(
    root: str, folders: list[str], files: dict[str, Stat]
) -> tuple[list[str], list[Stat]]:
    paths: list[str] = []
    stats: list[Stat] = []
    for folder in folders:
        paths.append(folder)
        stats.append(_key(os.lstat(os.path.join(root, folder))))
        for rel in sorted(r for r in files if r.startswith(folder + "/")):
            if "/" not in rel[len(folder) + 1 :]:
                paths.append(rel)
                stats.append(files[rel])
    return paths, stats


# -- the background helper: bytecode, then the seal -------------------------------------------
def _compile_chunk(root: str, sources: list[str]) -> tuple[dict[str, Stat], int]:
    """Compile each source to its ``.pyc`` (replacing whatever was there), read-only; the stats
    of each ``.pyc`` right after it was written, and how many sources failed."""
    import importlib.util
    import py_compile

    written: dict[str, Stat] = {}
    failed = 0
    for rel in sources:
        source = os.path.join(root, rel)
        cfile = importlib.util.cache_from_source(source)
        try:
            if os.path.lexists(cfile) and not os.path.isfile(cfile):
                os.unlink(cfile)
            py_compile.compile(
                source,
                cfile=cfile,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
            )
            _drop_write(cfile)
            written[os.path.relpath(cfile, root)] = _key(os.lstat(cfile))
        except (py_compile.PyCompileError, OSError, ValueError, SyntaxError):
            failed += 1
    return written, failed


def _compile_all(root: str, sources: list[str]) -> tuple[dict[str, Stat], int]:
    chunks = [sources[i : i + 200] for i in range(0, len(sources), 200)]
    written: dict[str, Stat] = {}
    failed = 0
    try:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
            results = list(pool.map(_compile_chunk, [root] * len(chunks), chunks))
    except Exception:  # no process pool here (no semaphores...): one process does it all
        results = [_compile_chunk(root, chunk) for chunk in chunks]
    for done, bad in results:
        written.update(done)
        failed += bad
    return written, failed


def seal(root: str) -> str:
    """Compile the environment's bytecode and record it: ``ok``, ``partial`` (some sources do
    not compile: Python cannot import them either), ``changed`` (the environment changed
    meanwhile: the next reuse rebuilds it), ``missing`` (no manifest to seal) or ``stale``
    (the environment was rebuilt in its place meanwhile)."""
    manifest = load(root)
    if manifest is None:
        return "missing"
    if manifest["sealed"]:
        return "ok"
    sources = [
        rel
        for rel in manifest["paths"]
        if rel.endswith(".py")
        and "site-packages/" in rel
        and not os.path.islink(os.path.join(root, rel))
    ]
    written, failed = _compile_all(root, sources)
    state = _build_state(root, manifest)
    if state:
        return state  # rebuilt meanwhile (its own helper seals it), or found changed
    trusted = dict(zip(manifest["pyc_paths"], manifest["pyc_stats"]))  # noqa: B905 (3.8)
    trusted.update(written)
    folders = [rel for rel in manifest["pyc_paths"] if rel.endswith(PYCACHE)]
    files = _clean_pycache(root, folders, trusted)
    changed = _first_change(root, manifest["paths"], manifest["stats"])
    state = _build_state(root, manifest)
    if state:
        return state
    if files is None or changed is not None:
        manifest["changed"] = (
            _describe(root, changed, manifest) if changed else "bytecode changed while compiled"
        )
        write(root, manifest)
        return "changed"
    _set_pycache(manifest, *_pycache_records(root, folders, files))
    manifest["sealed"] = True
    write(root, manifest)
    return "partial" if failed else "ok"


def _build_state(root: str, manifest: dict[str, Any]) -> str:
    """``""`` while ``root`` holds the build ``manifest`` describes, unchanged; ``stale`` once
    another build took its place, ``changed`` once a check found it changed."""
    current = load(root)
    if current is None or current.get("build") != manifest["build"]:
        return "stale"
    return "changed" if current.get("changed") else ""


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "seal":
        sys.stderr.write("usage: envcheck.py seal ENV_ROOT DONE_MARKER\n")
        return 2
    root, marker = os.path.abspath(argv[1]), argv[2]
    try:
        outcome = seal(root)
    except OSError:
        outcome = "failed"
    if outcome not in ("missing", "stale"):
        with open(marker, "w") as f:
            f.write(outcome)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
