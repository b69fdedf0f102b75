"""pip's index settings carried over to uv, which does not read them.

A user whose pip is set up for a private index or a mirror (``PIP_INDEX_URL``, a ``pip.conf``)
expects an environment built with uv to come from there too, not from the public index. When
uv's own index settings are absent, the ones pip would use are turned into uv's variables:

=====================  ==========================  =========================================
pip's setting          uv's variable               carried over when
=====================  ==========================  =========================================
``index-url``          ``UV_INDEX_URL``            uv has no index setting of its own (any
``extra-index-url``    ``UV_EXTRA_INDEX_URL``      of ``UV_INDEX_URL``, ``UV_DEFAULT_INDEX``,
``find-links``         ``UV_FIND_LINKS``           ``UV_INDEX``, ``UV_EXTRA_INDEX_URL``,
                                                   ``UV_FIND_LINKS`` or an index in a
                                                   ``uv.toml`` / ``[tool.uv]``)
``trusted-host``       ``UV_INSECURE_HOST``        ``UV_INSECURE_HOST`` is unset
``cert``               ``SSL_CERT_FILE``           ``SSL_CERT_FILE`` is unset
``constraint``         ``UV_CONSTRAINT``           ``UV_CONSTRAINT`` is unset
=====================  ==========================  =========================================

pip's value is found as pip finds it: its ``PIP_*`` variables win over its files; in the files
the ``[install]`` section wins over ``[global]``; the files are read in pip's order, a later one
winning (``/etc/xdg/pip/pip.conf`` and the other ``XDG_CONFIG_DIRS``, ``/etc/pip.conf``,
``~/.pip/pip.conf``, ``~/.config/pip/pip.conf``, the pip.conf of the environment pyrunner runs
in, then ``PIP_CONFIG_FILE``); the user's files are skipped when ``PIP_CONFIG_FILE`` names a
file that exists, and ``PIP_CONFIG_FILE=/dev/null`` turns every file off. The index group is
taken whole or not at all: an index of pip's mixed with one of uv's would be neither's.

The pip fallback (no uv) needs none of this: pip reads its own settings.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat as _stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "INDEX_VARIABLES",
    "carry_over",
    "index_key",
    "index_summary",
    "mask_credentials",
    "pip_settings",
]

#: uv's own variables that choose where packages come from
INDEX_VARIABLES = (
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
)

#: pip's index settings and uv's variable for each: taken together or not at all
_INDEX_GROUP = {
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "find-links": "UV_FIND_LINKS",
}
#: pip's other settings and uv's variable for each: each taken when uv's is unset
_SINGLE = {
    "trusted-host": "UV_INSECURE_HOST",
    "cert": "SSL_CERT_FILE",
    "constraint": "UV_CONSTRAINT",
}
#: how uv splits each variable holding several values (pip splits them all on whitespace)
_UV_SEPARATOR = {"UV_FIND_LINKS": ","}

#: the keys of a uv configuration that choose where packages come from
_UV_INDEX_KEYS = ("index", "index-url", "extra-index-url", "find-links", "no-index")
#: the settings that decide which packages an environment gets (its cache key)
_KEYED = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS")


# -- pip's side ------------------------------------------------------------------------------
def _pip_config_files(environ: Mapping[str, str], prefix: str) -> list[Path]:
    """The pip.conf files pip reads, in the order it reads them (a later one wins)."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d, "pip", "pip.conf") for d in dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and os.path.exists(env_file)):
        home = Path(environ.get("HOME") or os.path.expanduser("~"))
        config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        files += [home / ".pip" / "pip.conf", Path(config_home, "pip", "pip.conf")]
    files.append(Path(prefix, "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def _normalize(name: str) -> str:
    """pip's spelling of an option name: ``INDEX_URL``, ``--index-url`` → ``index-url``."""
    return name.lower().lstrip("-").replace("_", "-")


def _read_sections(path: Path) -> dict[str, dict[str, str]]:
    """The ``[global]`` and ``[install]`` sections of one pip.conf ({} when absent or
    unreadable: pip would complain about a broken file, uv would not, and neither is ours)."""
    import configparser

    parser = configparser.RawConfigParser()
    parser.optionxform = _normalize  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return {}
    return {s: dict(parser.items(s)) for s in ("global", "install") if parser.has_section(s)}


def _well_formed(sections: object) -> bool:
    """True for what :func:`_read_sections` returns. A cache file damaged or edited by hand
    is parsed again from the pip.conf files, never trusted into a traceback."""
    return isinstance(sections, dict) and all(
        name in ("global", "install")
        and isinstance(items, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in items.items())
        for name, items in sections.items()
    )


#: how recent a pip.conf's change may be for what it holds to be kept (see ``_SectionCache``)
_RACY_NS = 2_000_000_000


class _SectionCache:
    """What each pip.conf held when last read, kept in a file (``path``) and trusted while the
    file's size, times and inode are the same: every run reads pip's settings, and parsing
    them (``configparser``) costs more than the rest of a short run's start. The cache may hold
    an index's credentials, as pip.conf does: it is written for its owner alone."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, object]] = {}
        self.changed = False
        if path is not None:
            import json

            try:
                with open(path, encoding="utf-8") as f:
                    loaded = json.load(f)
            except (OSError, ValueError):
                loaded = {}
            if isinstance(loaded, dict):
                self.entries = loaded

    def sections(self, path: Path) -> dict[str, dict[str, str]]:
        try:
            st = os.stat(path)
        except OSError:
            return {}
        if not _stat.S_ISREG(st.st_mode):
            return {}
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        entry = self.entries.get(str(path))
        if isinstance(entry, dict) and entry.get("stat") == signature:
            kept = entry.get("sections")
            if _well_formed(kept):
                return kept  # type: ignore[return-value]
        found = _read_sections(path)
        # a file changed within the file system's time step of now could change again with the
        # same times (coarse timestamps): such an entry is not kept, as git does with its index
        if time.time_ns() - st.st_ctime_ns >= _RACY_NS:
            self.entries[str(path)] = {"stat": signature, "sections": found}
            self.changed = True
        return found

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        import json

        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as f:
                json.dump(self.entries, f)
            os.replace(tmp, self.path)
        except OSError:  # a cache: the next run reads the files again
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def pip_settings(
    environ: Mapping[str, str], prefix: str | None = None, *, cache: Path | None = None
) -> dict[str, str]:
    """The value pip would use for each of the carried-over settings, by pip's precedence:
    its variables over its files, ``[install]`` over ``[global]``, a later file over an
    earlier one. ``prefix`` is the environment whose own pip.conf counts (pyrunner's).
    ``cache``: a file where what the files held is kept for the next call (see
    :class:`_SectionCache`)."""
    wanted = (*_INDEX_GROUP, *_SINGLE)
    by_section: dict[str, dict[str, str]] = {"global": {}, "install": {}}
    files = _SectionCache(cache)
    for path in _pip_config_files(environ, sys.prefix if prefix is None else prefix):
        for section, items in files.sections(path).items():
            by_section[section].update(items)
    files.save()
    found: dict[str, str] = {}
    for layer in (by_section["global"], by_section["install"]):
        found.update({k: v for k, v in layer.items() if k in wanted and v.strip()})
    for name, value in environ.items():
        if name.startswith("PIP_") and value.strip():
            key = _normalize(name[4:])
            if key in wanted:
                found[key] = value
    return {k: " ".join(found[k].split()) for k in wanted if k in found}


# -- uv's side -------------------------------------------------------------------------------
def _uv_config_files(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """The uv.toml (or pyproject.toml with ``[tool.uv]``) files uv would read when started in
    ``cwd``: the project's nearest, the user's, the system's."""
    if environ.get("UV_NO_CONFIG"):
        return []
    if environ.get("UV_CONFIG_FILE"):
        return [Path(environ["UV_CONFIG_FILE"])]
    found: list[Path] = []
    for folder in (cwd, *cwd.parents):
        if (folder / "uv.toml").is_file():
            found.append(folder / "uv.toml")
            break
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv" in _text(pyproject):
            found.append(pyproject)
            break
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    user = Path(environ.get("XDG_CONFIG_HOME") or home / ".config", "uv", "uv.toml")
    if user.is_file():
        found.append(user)
    dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    system = [Path(d, "uv", "uv.toml") for d in dirs if d] + [Path("/etc/uv/uv.toml")]
    found += [p for p in system if p.is_file()][:1]
    return found


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _uv_index_config(path: Path) -> dict[str, object]:
    """The index settings of one uv configuration file (its top level and its ``[pip]``)."""
    text = _text(path)
    if "index" not in text and "find-links" not in text:
        return {}  # the usual case: nothing to parse
    try:
        import tomllib
    except ImportError:  # Python 3.10: any line naming an index setting counts
        lines = re.findall(
            r"(?m)^\s*\[*\s*((?:[\w.]+\.)?(?:index|index-url|extra-index-url"
            r"|find-links|no-index))\b.*$",
            text,
        )
        return {f"line{i}": line for i, line in enumerate(lines)}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("uv", {})
    found = {k: data[k] for k in _UV_INDEX_KEYS if k in data}
    pip_table = data.get("pip", {})
    found.update({f"pip.{k}": pip_table[k] for k in _UV_INDEX_KEYS if k in pip_table})
    return found


def _uv_index_configured(environ: Mapping[str, str], cwd: Path) -> dict[str, object]:
    """uv's own index settings, from its variables and its configuration files ({} if none)."""
    found: dict[str, object] = {n: environ[n] for n in INDEX_VARIABLES if environ.get(n)}
    for path in _uv_config_files(environ, cwd):
        found.update({f"{path}:{k}": v for k, v in _uv_index_config(path).items()})
    return found


def _here() -> Path:
    """The folder uv starts in (the installer inherits ours); ``/`` when it was removed."""
    try:
        return Path.cwd()
    except OSError:
        return Path("/")


# -- the carrying over -----------------------------------------------------------------------
def _reachable(location: str) -> bool:
    """False for a local find-links folder that does not exist (a URL is always tried)."""
    if location.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return os.path.exists(unquote(urlparse(location).path))
    return "://" in location or os.path.exists(location)


def _as_uv(variable: str, value: str) -> str:
    return _UV_SEPARATOR.get(variable, " ").join(value.split())


def carry_over(
    environ: Mapping[str, str],
    *,
    cwd: Path | None = None,
    prefix: str | None = None,
    cache: Path | None = None,
) -> dict[str, str]:
    """The uv variables to add to ``environ`` (the installer's) so that uv uses what pip
    would: nothing for a setting uv already has. See the module's docstring for the rule."""
    pip = pip_settings(environ, prefix, cache=cache)
    added: dict[str, str] = {}
    if not _uv_index_configured(environ, _here() if cwd is None else cwd):
        if "find-links" in pip:  # pip passes over a missing folder, uv stops at it
            pip["find-links"] = " ".join(filter(_reachable, pip["find-links"].split()))
        for key, variable in _INDEX_GROUP.items():
            if pip.get(key):
                added[variable] = _as_uv(variable, pip[key])
    for key, variable in _SINGLE.items():
        if key in pip and not environ.get(variable):
            added[variable] = _as_uv(variable, pip[key])
    return added


def index_key(settings: Mapping[str, str], *, cwd: Path | None = None) -> str:
    """What of the installer's ``settings`` decides which packages an environment gets, as
    text for its cache key: the index variables, the constraints (by content) and any index
    of uv's own configuration files. Empty when the public index is used unconstrained, so
    that the keys of such environments do not change."""
    import json

    material: dict[str, object] = {k: settings[k] for k in _KEYED if settings.get(k)}
    for path in _uv_config_files(settings, _here() if cwd is None else cwd):
        material.update({f"{path}:{k}": v for k, v in _uv_index_config(path).items()})
    constraints = settings.get("UV_CONSTRAINT", "").split()
    if constraints:
        from .envspec import content_digest

        material["UV_CONSTRAINT"] = [
            content_digest(Path(p)) if os.path.exists(p) else p for p in constraints
        ]
    return json.dumps(material, sort_keys=True, default=str) if material else ""


# -- what the build message says -------------------------------------------------------------
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def mask_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def index_summary(settings: Mapping[str, str]) -> str | None:
    """Where the installer with these ``settings`` takes packages from, for the build
    message (credentials masked); None when it is the public index alone."""
    parts = []
    for variable, label in (
        ("UV_DEFAULT_INDEX", "index"),
        ("UV_INDEX_URL", "index"),
        ("UV_INDEX", "extra index"),
        ("UV_EXTRA_INDEX_URL", "extra index"),
        ("UV_FIND_LINKS", "find-links"),
    ):
        value = settings.get(variable, "").strip()
        if value:
            shown = ", ".join(value.replace(",", " ").split())
            parts.append(f"{label} {shown}")
    if not parts:
        return None
    return mask_credentials("; ".join(dict.fromkeys(parts)))
