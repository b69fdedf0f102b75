"""What keeps ``pyrunner run`` quick to start, and that it changes nothing users see."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner import _core, environments
from jupyter_pyrunner.cli import _command_of, _parser
from jupyter_pyrunner.environments import EnvironmentManager
from jupyter_pyrunner.hostenv import scrub
from jupyter_pyrunner.models import RunRecord, RunSpec, RunStatus
from jupyter_pyrunner.requirements import Requirements


def test_a_run_imports_no_heavy_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from jupyter_pyrunner.cli import _parser\n"
        "import jupyter_pyrunner.sdk, jupyter_pyrunner.supervisor, jupyter_pyrunner.project\n"
        "_parser('run')\n"
        "print(sorted(m for m in ('dataclasses', 'inspect', 'typing', 'hashlib', 'uv', 'tokenize')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


#: modules a cached run of a small project does without (each costs a millisecond or more)
HEAVY = {
    "typing",
    "dataclasses",
    "inspect",
    "hashlib",
    "tokenize",
    "configparser",
    "mimetypes",
    "zipfile",
    "tomllib",
    "uv",
    "email",
    "tempfile",
    "jupyter_pyrunner.inference",
}


def test_a_cached_run_from_the_command_line_imports_no_heavy_module(home: Path, project) -> None:
    """The whole command, measured the way ``-X importtime`` sees it: the second run of a
    project (its environment cached, pip's settings read before) imports none of them."""
    folder = project({"main.py": "print('hello')\n", "requirements.txt": ""})
    command = [sys.executable, "-X", "importtime", "-m", "jupyter_pyrunner.cli", "run"]
    for _ in range(2):
        done = subprocess.run([*command, str(folder)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "jupyter_pyrunner.supervisor" in imported  # the listing is the run's
    assert sorted(HEAVY & imported) == []


def test_the_run_record_serialises_as_before() -> None:
    spec = RunSpec("src", inputs=["a"], args=["-v"], timeout=2.5, env_deny=["X*"])
    record = RunRecord(
        "20250101-000000-abcdef",
        "demo",
        RunStatus.RUNNING,
        1.0,
        spec,
        timings={"intake": 0.1},
        supervisor={"pid": 1, "host": "h", "start": 2},
    )
    data = record.to_dict()
    assert list(data) == list(RunRecord._fields)
    assert list(data["spec"]) == list(RunSpec._fields)
    assert data["status"] == "running" and data["spec"]["timeout"] == 2.5
    data["timings"]["intake"] = 9.0  # a copy: the record is untouched
    assert record.timings == {"intake": 0.1}
    again = RunRecord.from_dict(
        json.loads(json.dumps({**record.to_dict(), "unknown": 1, "spec": {"source": "src"}}))
    )
    assert again.status is RunStatus.RUNNING and again.spec == RunSpec("src")
    assert again.warnings == [] and again.executor == "local"


def test_value_classes_compare_and_show_their_fields() -> None:
    a = Requirements(("numpy",), "requirements.txt")
    assert a == Requirements(("numpy",), source="requirements.txt", path=None)
    assert a != Requirements(("numpy",), "inferred")
    assert hash(a) == hash(Requirements(("numpy",), "requirements.txt"))
    assert repr(a) == "Requirements(lines=('numpy',), source='requirements.txt', path=None)"
    with pytest.raises(TypeError):
        hash(RunSpec("x"))  # mutable, as a non-frozen dataclass


def test_uv_is_looked_for_only_when_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(environments, "find_uv", lambda: calls.append(1) or "/bin/uv")
    manager = EnvironmentManager(tmp_path)
    assert calls == []
    assert manager.uv == "/bin/uv" and manager.uv == "/bin/uv"
    assert calls == [1]
    assert EnvironmentManager(tmp_path, use_uv=False).uv is None
    assert calls == [1]


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["run", "x"], "run"),
        (["--home", "runs", "run", "x"], "run"),
        (["--ho=h", "env", "list"], "env"),
        (["--version", "show", "last"], "show"),
        (["-h", "run"], None),
        (["--h", "x", "run"], None),
        (["bogus"], None),
        ([], None),
    ],
)
def test_only_the_command_s_parser_is_built_when_certain(
    args: list[str], command: str | None
) -> None:
    assert _command_of(args) == command


def test_a_partial_parser_parses_as_the_full_one() -> None:
    args = ["--home", "h", "run", "src", "--input", "a", "--timeout", "3", "--json"]
    assert vars(_parser("run").parse_args(args)) == vars(_parser().parse_args(args))


def test_scrub_matches_fnmatch() -> None:
    patterns = ["JUPYTER_TOKEN", "JPY_*", "JUPYTERHUB_*TOKEN*", "A?B", "[AB]X*", "*SECRET"]
    names = [
        "JUPYTER_TOKEN",
        "JPY_X",
        "JPY",
        "JUPYTERHUB_API_TOKEN",
        "AxB",
        "BXy",
        "MY_SECRET",
        "OK",
    ]
    env = {name: "v" for name in names}
    expected = {
        k: v for k, v in env.items() if not any(fnmatch.fnmatchcase(k, p) for p in patterns)
    }
    assert scrub(env, patterns) == expected == {"JPY": "v", "OK": "v"}


def test_sha256_gives_hashlib_s_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = (b"", b"abc", bytes(300_000))
    expected = [hashlib.sha256(data).hexdigest() for data in samples]
    assert [_core.sha256(data).hexdigest() for data in samples] == expected
    monkeypatch.delitem(sys.modules, "hashlib")  # as at the start of a run: built-in sha256
    digest = _core.sha256(expected_size=10)
    digest.update(b"abc")
    assert digest.hexdigest() == expected[1]
    assert _core.sha256(b"").hexdigest() == expected[0]
    assert "hashlib" not in sys.modules
    assert _core.sha256(samples[2]).hexdigest() == expected[2]  # big: OpenSSL's
