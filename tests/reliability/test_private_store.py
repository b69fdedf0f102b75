"""The run store is private: another local user (``nobody``) reads no project, log, record,
output or upload, and cannot even list the runs; an older store is tightened when opened.

The store is made under a folder of its own in ``/tmp`` opened to everyone (0755), and a control
file beside it must be readable by ``nobody``: the refusals come from the store's own modes, not
from a private parent (pytest's temporary folders are 0700)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.store import RunStore

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to act as another user",
)


def as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *cmd], capture_output=True, text=True, timeout=30)


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder everyone may enter, with a control file everyone may read."""
    parent = Path(tempfile.mkdtemp(prefix="pyrunner-private-"))
    parent.chmod(0o755)
    control = parent / "control.txt"
    control.write_text("anyone may read this\n")
    control.chmod(0o644)
    assert as_nobody("cat", str(control)).returncode == 0, "the test could not mean anything"
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_another_user_reads_nothing_of_a_run(
    open_parent: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch, project
) -> None:
    home = open_parent / "home"
    monkeypatch.setenv("PYRUNNER_HOME", str(home))
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    folder = project(
        {
            "main.py": """
                import os, pathlib
                print("a line of the log only its owner may read")
                out = pathlib.Path(os.environ["OUTPUT_FOLDER"]) / "output_1" / "result.txt"
                out.write_text("an output")
            """,
            "requirements.txt": "",
        }
    )
    handle = run_project(folder)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    from jupyter_pyrunner.server.uploads import UploadStore

    writer = UploadStore(home / "uploads", max_size=1 << 20).new_upload("data.csv")
    writer.write(b"a,b\n1,2\n")
    upload = writer.finish()

    run_dir = home / "runs" / handle.id
    secrets = {
        "log": run_dir / "log.txt",
        "record": run_dir / "run.json",
        "output": run_dir / "outputs" / "output_1" / "result.txt",
        "project": run_dir / "inputs" / "input_1" / "main.py",
        "upload": home / "uploads" / upload["upload_id"] / "data" / "data.csv",
        "index": home / "index.sqlite",
    }
    for what, path in secrets.items():
        assert path.is_file(), what
        refused = as_nobody("cat", str(path))
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, what
    assert as_nobody("ls", str(home / "runs")).returncode != 0
    assert as_nobody("cat", str(open_parent / "control.txt")).returncode == 0

    for folder_path in (home, home / "runs", home / "envs", home / "cache", home / "uploads"):
        assert mode(folder_path) == 0o700, folder_path
    assert mode(run_dir) == 0o700
    for name in ("run.json", "log.txt", "log.idx"):
        assert mode(run_dir / name) == 0o600, name
    assert mode(home / "index.sqlite") == 0o600


def test_an_older_store_is_tightened_when_opened(open_parent: Path) -> None:
    """A store made before the store was private: folders 0755, files 0644, as umask 022 gives."""
    home = open_parent / "old-home"
    run_dir = home / "runs" / "20250101-000000-abcdef"
    run_dir.mkdir(parents=True)
    (home / "envs").mkdir()
    for folder in (home, home / "runs", home / "envs", run_dir):
        folder.chmod(0o755)
    (run_dir / "log.txt").write_text("an old secret\n")
    (home / "index.sqlite").write_bytes(b"")
    for path in (run_dir / "log.txt", home / "index.sqlite"):
        path.chmod(0o644)
    assert as_nobody("cat", str(run_dir / "log.txt")).returncode == 0  # readable before

    RunStore(home)

    assert as_nobody("cat", str(run_dir / "log.txt")).returncode != 0
    assert as_nobody("ls", str(home)).returncode != 0
    for folder in (home, home / "runs", home / "envs"):
        assert mode(folder) == 0o700, folder
    assert mode(home / "index.sqlite") == 0o600
    assert mode(run_dir) == 0o755  # not walked: the root's 0700 already keeps it private
