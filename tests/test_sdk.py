"""The Python API the other faces use: run here, or start detached and follow."""

from __future__ import annotations

import concurrent.futures
import zipfile
from pathlib import Path

import pytest

from jupyter_pyrunner import ProjectError, RunStatus, RunStore, run_project, start_run

from .conftest import marker_processes, program_output, wait_for_output, zip_folder


def test_a_zip_wrapped_in_a_top_folder_runs_with_its_sibling_modules(
    home: Path, project, tmp_path: Path
) -> None:
    src = project(
        {
            "main.py": """
            import os, pathlib
            from utils.maths import double
            from helpers import greet
            greet(double(21))
            pathlib.Path(os.environ["OUTPUT_FOLDER"], "answer.txt").write_text(str(double(21)))
        """,
            "utils/__init__.py": "",
            "utils/maths.py": "def double(x):\n    return 2 * x\n",
            "helpers.py": "def greet(x):\n    print(f'answer {x}')\n",
            "requirements.txt": "",
        }
    )
    archive = zip_folder(src, tmp_path / "myproj.zip", prefix="myproj/")
    handle = run_project(archive)
    record = handle.record
    assert record.status is RunStatus.SUCCEEDED, handle.log_text()
    assert record.name == "myproj" and record.entry == "myproj/main.py"
    assert record.source_sha256 and len(record.source_sha256) == 64
    assert program_output(handle) == "answer 42\n"
    assert [f.path for f in handle.outputs] == ["answer.txt"]


def test_inputs_fill_ports_two_to_five_and_zips_are_unpacked_beside_themselves(
    home: Path, project, tmp_path: Path
) -> None:
    src = project(
        {
            "main.py": """
        import os
        for port in range(2, 6):
            folder = os.environ[f"INPUT_{port}"]
            print(port, sorted(os.listdir(folder)))
    """,
            "requirements.txt": "",
        }
    )
    data_file = tmp_path / "data.csv"
    data_file.write_text("a,b\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/y.txt", "y")
    handle = run_project(src, inputs=[data_file, folder, archive])
    assert program_output(handle).splitlines() == [
        "2 ['data.csv']",
        "3 ['x.txt']",
        "4 ['bundle.zip', 'inner']",  # as oSparc's runner: the zip stays, its contents beside it
        "5 []",
    ]


def test_more_than_four_inputs_is_a_clear_error(home: Path, project, tmp_path: Path) -> None:
    src = project({"main.py": "print(1)"})
    with pytest.raises(ProjectError, match="input ports"):
        run_project(src, inputs=[tmp_path] * 5)
    assert RunStore(home).count() == 0


def test_an_invalid_project_leaves_no_run_in_the_history_and_nothing_extracted(
    home: Path, project
) -> None:
    """As over REST, from the CLI and the magic: a project that never ran is not a run."""
    src = project({"a.py": "print(1)", "b.py": "print(2)"})
    with pytest.raises(ProjectError, match=r"main\.py"):
        run_project(src)
    store = RunStore(home)
    assert store.list_runs() == []
    assert list((home / "runs").iterdir()) == []


def test_a_hostile_zip_is_refused_and_nothing_is_written_outside(
    home: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("main.py", "print('hi')")
        zf.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(ProjectError):
        run_project(archive)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert RunStore(home).list_runs() == [] and list((home / "runs").iterdir()) == []


def test_started_runs_are_followed_live_and_completely(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import sys, time
        for i in range(30):
            print(f"tick {i}", flush=True)
            time.sleep(0.02)
        print("warn", file=sys.stderr)
    """,
            "requirements.txt": "",
        }
    )
    handle = start_run(src)
    chunks = list(handle.follow())
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.SUCCEEDED
    text = "".join(c.text for c in chunks if c.stream == "stdout")
    assert text == "".join(f"tick {i}\n" for i in range(30))
    assert any(c.stream == "stderr" and "warn" in c.text for c in chunks)
    # a late reader from a saved offset sees the rest, and nothing twice
    middle = len("".join(f"tick {i}\n" for i in range(10)).encode())
    first_stdout = next(c for c in chunks if c.stream == "stdout")
    rest = "".join(
        c.text for c in handle.follow(first_stdout.offset + middle) if c.stream == "stdout"
    )
    assert rest == "".join(f"tick {i}\n" for i in range(10, 30))


def test_a_detached_run_can_be_cancelled_from_the_handle(home: Path, project) -> None:
    src = project(
        {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)", "requirements.txt": ""}
    )
    handle = start_run(src)
    wait_for_output(handle, "up")
    handle.cancel()
    assert handle.wait(timeout=15).status is RunStatus.CANCELLED
    assert marker_processes(handle.id) == []


def test_concurrent_runs_on_one_store_all_complete(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import os
        for i in range(2000):
            print(os.environ["PYRUNNER_RUN_ID"], i)
    """,
            "requirements.txt": "",
        }
    )
    run_project(src)  # builds the shared bare environment once
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        handles = list(pool.map(lambda _: start_run(src), range(6)))
    for handle in handles:
        assert handle.wait(timeout=60).status is RunStatus.SUCCEEDED
        lines = program_output(handle).splitlines()
        assert lines == [f"{handle.id} {i}" for i in range(2000)]
    assert len({h.id for h in handles}) == 6


def test_a_folder_project_keeps_hidden_files_but_not_tool_folders(home: Path, project) -> None:
    src = project(
        {
            "main.py": "import os\nprint(sorted(os.listdir('.')))",
            ".env": "KEY=1",
            ".git/config": "x",
            ".venv/lib/site.py": "x",
            "__pycache__/x.pyc": "",
            "requirements.txt": "",
        }
    )
    handle = run_project(src)
    assert program_output(handle).strip() == "['.env', 'main.py', 'requirements.txt']"


def test_a_detached_supervisor_holds_no_host_secrets(
    home: Path, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "top-secret-token")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-secret")
    src = project(
        {
            "main.py": """
        import os
        for pid in (os.getpid(), os.getppid()):
            with open(f"/proc/{pid}/environ", "rb") as f:
                data = f.read()
                print(b"top-secret-token" in data or b"hub-secret" in data)
    """,
            "requirements.txt": "",
        }
    )
    handle = start_run(src)
    assert handle.wait(timeout=60).status is RunStatus.SUCCEEDED
    assert program_output(handle).split() == ["False", "False"]


def test_a_detached_run_takes_the_flat_layout(home: Path, project, tmp_path: Path) -> None:
    settings = tmp_path / "input.json"
    settings.write_text('{"n": 2}')
    src = project(
        {
            "main.py": """
            import json, os
            folder = os.environ["INPUT_FOLDER"]
            print(sorted(os.listdir(folder)), json.load(open(os.path.join(folder, "input.json"))))
        """,
            "requirements.txt": "",
        }
    )
    handle = start_run(src, inputs=[settings], layout="flat")
    assert handle.wait(timeout=120).status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['input.json', 'main.py', 'requirements.txt'] {'n': 2}\n"
