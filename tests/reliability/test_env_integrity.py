"""One run cannot contaminate the environment cache: what a program changes in its environment
(a ``.pth`` file, ``pip install``, an edited or deleted module, a forged ``.pyc``) never reaches
the next run with the same requirements, which rebuilds (or repairs) it and says so in its log.

The tests run as root, for whom the read-only modes set after a build stop nothing: what they
prove is the check before reuse (``envcheck``)."""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.envcheck import MANIFEST_NAME, check, load
from jupyter_pyrunner.environments import (
    COMPILED,
    EnvironmentManager,
    EnvSpec,
    Interpreter,
    find_uv,
)

pytestmark = pytest.mark.network

CHANGED = "was changed by an earlier run"


def _run(project, main: str, requirements: str = "six\n"):  # type: ignore[no-untyped-def]
    handle = run_project(project({"main.py": main, "requirements.txt": requirements}))
    return handle


def _sealed_env(home: Path, project, requirement: str = "six") -> Path:  # type: ignore[no-untyped-def]
    """The environment of ``requirement``, built by a first harmless run, once its bytecode
    is written and recorded (what every later run finds)."""
    first = _run(project, f"import {requirement}\n", f"{requirement}\n")
    assert first.status is RunStatus.SUCCEEDED, first.log_text()
    (env,) = [
        p.parent
        for p in (home / "envs").glob("*/pyrunner-env.json")
        if requirement in p.read_text()
    ]
    deadline = time.time() + 120
    while not (env / COMPILED).exists():
        assert time.time() < deadline, "the bytecode helper did not finish"
        time.sleep(0.05)
    assert (env / COMPILED).read_text() == "ok"
    assert load(str(env))["sealed"]  # type: ignore[index]
    return env


def _after(project, tamper: str, home: Path):  # type: ignore[no-untyped-def]
    """A run that does ``tamper``, then an unrelated run with the same requirements; the
    first says it changed its environment, the next that it rebuilt it."""
    _sealed_env(home, project)
    bad = _run(project, tamper)
    assert bad.status is RunStatus.SUCCEEDED, bad.log_text()
    assert "by this run" in bad.log_text()
    return _run(project, "import six\nprint('next run:', six.__name__)\n")


def test_a_pth_file_left_by_a_run_is_not_executed_by_the_next(
    home: Path, project, tmp_path: Path
) -> None:
    ran = tmp_path / "pth-ran"
    tamper = f"""
import pathlib, six
site = pathlib.Path(six.__file__).parent
(site / "zz_hostile.pth").write_text("import pathlib; pathlib.Path({str(ran)!r}).write_text('x')\\n")
"""
    nxt = _after(project, tamper, home)
    assert nxt.status is RunStatus.SUCCEEDED, nxt.log_text()
    assert not ran.exists(), "the .pth file of an earlier run was executed"
    log = nxt.log_text()
    assert CHANGED in log and "zz_hostile.pth added" in log and "it is rebuilt" in log
    again = _run(project, "import six\n")  # the rebuilt one is reused as it is
    assert CHANGED not in again.log_text() and "built in" not in again.log_text()


def _wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel, ``injected``, installable offline."""
    path = folder / "injected-1.0-py3-none-any.whl"
    info = "injected-1.0.dist-info"
    files = {
        "injected.py": "VALUE = 'injected'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: injected\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            zf.writestr(name, text)
    return path


def test_a_package_installed_by_a_run_is_gone_for_the_next(
    home: Path, project, tmp_path: Path
) -> None:
    wheel = _wheel(tmp_path)
    tamper = f"""
import subprocess, sys
subprocess.run([{find_uv()!r}, "pip", "install", "--python", sys.executable, {str(wheel)!r}],
               check=True)
import injected
"""
    nxt = _after(project, tamper, home)
    assert "next run: six" in nxt.log_text()
    probe = _run(
        project, "import importlib.util\nprint('found:', importlib.util.find_spec('injected'))\n"
    )
    assert "found: None" in probe.log_text()
    assert CHANGED in nxt.log_text() and "injected" in nxt.log_text()


def test_an_edited_module_is_restored(home: Path, project) -> None:
    tamper = "import six\nopen(six.__file__, 'a').write(\"\\nprint('TAMPERED')\\n\")\n"
    nxt = _after(project, tamper, home)
    assert nxt.status is RunStatus.SUCCEEDED
    assert "TAMPERED" not in nxt.log_text()
    assert "six.py was modified" in nxt.log_text() and "it is rebuilt" in nxt.log_text()


def test_a_deleted_module_is_restored(home: Path, project) -> None:
    nxt = _after(project, "import os, six\nos.unlink(six.__file__)\n", home)
    assert nxt.status is RunStatus.SUCCEEDED, nxt.log_text()
    assert "next run: six" in nxt.log_text() and CHANGED in nxt.log_text()


FORGE = """
import importlib.util, pathlib, six
from importlib._bootstrap_external import _code_to_timestamp_pyc
src = pathlib.Path(six.__file__)
st = src.stat()
code = compile(src.read_text() + "\\nprint('FORGED BYTECODE RAN')\\n", str(src), "exec")
data = _code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size)
with open(importlib.util.cache_from_source(str(src)), "r+b") as f:  # in place: same inode
    f.truncate(0)
    f.write(data)
"""


def test_a_forged_pyc_is_not_loaded_by_the_next_run(home: Path, project) -> None:
    """Its header matches the source (mtime, size), so Python would load it without a look
    at the source; the check sees the file changed and deletes it."""
    nxt = _after(project, FORGE, home)
    log = nxt.log_text()
    assert nxt.status is RunStatus.SUCCEEDED, log
    assert "FORGED BYTECODE RAN" not in log and "bytecode" not in log


FORGE_SUBMODULE = FORGE.replace(
    "import importlib.util, pathlib, six",
    "import importlib.util, pathlib\nimport packaging.version as six",
)
EDIT_SUBMODULE = (
    "import packaging.version as m\nopen(m.__file__, 'a').write(\"\\nprint('TAMPERED')\\n\")\n"
)


def test_a_change_left_by_a_run_whose_supervisor_died_is_found_before_reuse(
    home: Path, project
) -> None:
    """Its supervisor did not check every file after the program: the next run does it first
    (the check of folders and start-up files made before every reuse misses a module edited
    in place in a sub-package)."""
    env = _sealed_env(home, project, "packaging")
    python = str(env / "bin" / "python")
    probe = "import packaging.version\nprint('next run')\n"
    for tamper, said in (
        (FORGE_SUBMODULE, "by an earlier run; removed"),
        (EDIT_SUBMODULE, "it is rebuilt"),
    ):
        (env / ".last-used").touch()  # a run began, then its supervisor was killed
        subprocess.run([python, "-c", tamper], check=True)
        assert check(str(env), full=False) is None and check(str(env), full=True) is not None
        nxt = _run(project, probe, "packaging\n")
        log = nxt.log_text()
        assert "next run" in log and "TAMPERED" not in log and "FORGED" not in log
        assert said in log and "version" in log


def _spec(*reqs: str) -> EnvSpec:
    return EnvSpec(tuple(reqs), Interpreter.current())


def test_a_pyc_forged_while_the_helper_compiles_is_replaced(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the seal ``__pycache__`` is not checked: the helper writes every ``.pyc`` itself
    and keeps only what it wrote."""
    from jupyter_pyrunner import environments
    from jupyter_pyrunner.installer import compile_later

    monkeypatch.setattr(environments, "compile_later", lambda *_a: 0)  # started by hand below
    env, _ = EnvironmentManager(home).ensure(_spec("six"))
    assert not load(str(env.path))["sealed"]  # type: ignore[index]
    six = next(env.path.glob("lib/python*/site-packages/six.py"))
    forged = subprocess.run(
        [env.python, "-c", FORGE.replace('"r+b"', '"wb"')], capture_output=True, text=True
    )
    assert forged.returncode == 0, forged.stderr
    stranger = six.parent / "__pycache__" / "stranger.cpython-311.pyc"
    stranger.write_bytes(b"not from the helper")
    assert check(str(env.path)) is None  # not sealed yet: bytecode is the helper's business
    compile_later(env.python, env.path / COMPILED, dict(os.environ))
    deadline = time.time() + 120
    while not (env.path / COMPILED).exists():
        assert time.time() < deadline
        time.sleep(0.05)
    assert (env.path / COMPILED).read_text() == "ok"
    assert not stranger.exists()
    out = subprocess.run([env.python, "-c", "import six"], capture_output=True, text=True)
    assert "FORGED" not in out.stdout
    assert check(str(env.path)) is None


def test_an_environment_without_a_manifest_is_rebuilt(home: Path) -> None:
    """Made by an older version, it may already carry what an earlier run left."""
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(_spec("six"))
    (env.path / MANIFEST_NAME).unlink()
    lines: list[str] = []
    again, built = manager.ensure(_spec("six"), log=lines.append)
    assert built and any("no integrity manifest" in line for line in lines)
    assert check(str(again.path)) is None


def test_an_environment_is_its_own_read_only_copy(home: Path) -> None:
    """Copied from uv's cache, not linked (an edit would change the cache and every
    environment linked from it), and read-only: a second layer where the user is not root."""
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(_spec("six"))
    six = next(env.path.glob("lib/python*/site-packages/six.py"))
    assert six.stat().st_nlink == 1
    assert six.stat().st_mode & 0o222 == 0
    assert six.parent.stat().st_mode & 0o222 == 0
    assert manager.remove(env.key) and not env.path.exists()


def test_a_run_writing_bytecode_does_not_force_a_rebuild(
    home: Path, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python writes ``.pyc`` files where it may: with every one written by the helper, a
    run that allows it writes none, and the next run reuses the environment."""
    _sealed_env(home, project)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    for _ in range(2):
        handle = _run(project, "import six, json, email.parser\n")
        assert handle.status is RunStatus.SUCCEEDED
        assert CHANGED not in handle.log_text() and "bytecode" not in handle.log_text()


#: each attack run does one of these to its environment (``MARK``: a file the attack's code
#: writes when it is executed; ``TARGET``: a module of ``packaging``, picked per round)
ATTACKS = {
    "pth": "(SITE / 'zz.pth').write_text(f'import pathlib; pathlib.Path({MARK!r}).touch()\\n')",
    "sitecustomize": "(SITE / 'sitecustomize.py').write_text(f'import pathlib; pathlib.Path({MARK!r}).touch()\\n')",
    "edit": "open(TARGET, 'a').write(f'\\nimport pathlib; pathlib.Path({MARK!r}).touch()\\n')",
    "forge-pyc": (
        "st = os.stat(TARGET); code = compile(open(TARGET).read() + f'\\nimport pathlib; "
        "pathlib.Path({MARK!r}).touch()\\n', TARGET, 'exec')\n"
        "from importlib._bootstrap_external import _code_to_timestamp_pyc\n"
        "pyc = importlib.util.cache_from_source(TARGET)\n"
        "with open(pyc, 'r+b') as f:\n"
        "    f.truncate(0); f.write(_code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size))"
    ),
    "delete": "os.unlink(TARGET)",
    "pyvenv": "open(SITE.parents[2] / 'pyvenv.cfg', 'a').write('include-system-site-packages = true\\n')",
}


@pytest.mark.stress
def test_repeated_attacks_never_reach_the_next_run(home: Path, project, tmp_path: Path) -> None:
    """60 attack runs (10 rounds of each attack, on modules picked at random), each followed
    by a run that imports every module of ``packaging`` and looks for the attack's effect."""
    import random

    env = _sealed_env(home, project, "packaging")
    modules = sorted(
        p.relative_to(env).as_posix()
        for p in env.glob("lib/python*/site-packages/packaging/**/*.py")
        if p.name != "__init__.py"
    )
    rng = random.Random(17)
    probe = (
        "import pathlib, pkgutil, importlib, sys, packaging\n"
        "names = [m.name for m in pkgutil.walk_packages(packaging.__path__, 'packaging.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print('imported', len(names), 'prefix-ok', sys.prefix != sys.base_prefix)\n"
    )
    held = 0
    for round_ in range(10):
        for kind, action in ATTACKS.items():
            mark = tmp_path / f"ran-{kind}-{round_}"
            target = str(env / rng.choice(modules))
            attack = (
                "import importlib.util, os, pathlib, packaging\n"
                f"MARK, TARGET = {str(mark)!r}, {target!r}\n"
                "SITE = pathlib.Path(packaging.__file__).parent.parent\n"
                f"{action}\n"
            )
            bad = _run(project, attack, "packaging\n")
            assert bad.status is RunStatus.SUCCEEDED, (kind, bad.log_text())
            assert "by this run" in bad.log_text(), kind
            nxt = _run(project, probe, "packaging\n")
            log = nxt.log_text()
            assert nxt.status is RunStatus.SUCCEEDED, (kind, log)
            assert not mark.exists(), f"{kind}: the attack's code ran in the next run"
            repaired = "by this run; removed" in bad.log_text()  # bytecode: deleted at once
            assert "imported" in log and (repaired or "it is rebuilt" in log), (kind, log)
            held += 1
    assert held == 10 * len(ATTACKS)
