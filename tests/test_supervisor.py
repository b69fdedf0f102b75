"""The supervisor with real programs: environment, capture, limits, cancel and cleanup."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, RunStore, run_project
from jupyter_pyrunner.logfile import iter_lines
from jupyter_pyrunner.models import RunSpec
from jupyter_pyrunner.sdk import prepare_run
from jupyter_pyrunner.supervisor import Supervisor

from .conftest import marker_processes, program_output

ENV_REPORT = """
import json, os, sys
keys = ["INPUT_FOLDER", "OUTPUT_FOLDER", "LOG_FOLDER", "PYTHONUNBUFFERED", "PYRUNNER_RUN_ID",
        "JUPYTER_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_API_TOKEN", "MY_SECRET", "HARMLESS",
        "VIRTUAL_ENV", "PYTHONPATH"]
keys += [f"INPUT_{i}" for i in range(1, 6)] + [f"OUTPUT_{i}" for i in range(1, 5)]
report = {k: os.environ.get(k) for k in keys}
report["cwd"] = os.getcwd()
report["stdin"] = sys.stdin.read()
report["executable"] = sys.executable
report["argv"] = sys.argv[1:]
report["data"] = open("data/params.txt").read()
print(json.dumps(report))
"""


def test_the_program_sees_osparc_variables_and_no_host_secrets(
    home: Path, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "server-token")
    monkeypatch.setenv("JPY_API_TOKEN", "hub-token")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-2")
    monkeypatch.setenv("MY_SECRET", "s3cret")
    monkeypatch.setenv("HARMLESS", "kept")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    src = project({"proj/main.py": ENV_REPORT, "proj/data/params.txt": "x=1",
                   "proj/helper.py": "", "requirements.txt": ""})  # fmt: skip
    handle = run_project(src, args=["--flag", "value with space"], env_deny=["MY_*"],
                         infer_requirements=False)  # fmt: skip
    record = handle.record
    assert record.status is RunStatus.SUCCEEDED, handle.log_text()
    report = json.loads(program_output(handle))
    run_dir = handle.run_dir
    assert report["INPUT_FOLDER"] == str(run_dir / "inputs")
    assert report["OUTPUT_FOLDER"] == str(run_dir / "outputs")
    assert report["LOG_FOLDER"] == str(run_dir / "logs")
    for i in range(1, 6):
        assert report[f"INPUT_{i}"] == str(run_dir / "inputs" / f"input_{i}")
        assert Path(report[f"INPUT_{i}"]).is_dir()
    for i in range(1, 5):
        assert report[f"OUTPUT_{i}"] == str(run_dir / "outputs" / f"output_{i}")
        assert Path(report[f"OUTPUT_{i}"]).is_dir()
    assert report["PYTHONUNBUFFERED"] == "1"
    assert report["PYRUNNER_RUN_ID"] == record.id
    for secret in (
        "JUPYTER_TOKEN",
        "JPY_API_TOKEN",
        "JUPYTERHUB_API_TOKEN",
        "MY_SECRET",
        "PYTHONPATH",
    ):
        assert report[secret] is None, secret
    assert report["HARMLESS"] == "kept"
    # the project arrives on port 1; the program runs beside its entry point, in its own env
    assert report["cwd"] == str(run_dir / "inputs" / "input_1" / "proj")
    assert report["data"] == "x=1"
    assert report["stdin"] == ""
    assert report["executable"].startswith(str(home / "envs"))
    assert report["VIRTUAL_ENV"] == str(Path(report["executable"]).parent.parent)
    assert report["argv"] == ["--flag", "value with space"]
    assert record.entry == "proj/main.py" and record.workdir == "proj"


def test_stdout_and_stderr_are_captured_in_order_with_their_stream(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import sys, time
        for i in range(10):   # paced: the order across streams is kept too
            (sys.stdout if i % 2 else sys.stderr).write(f"paced {i}\\n")
            time.sleep(0.02)
        for i in range(2000):  # a burst: each stream keeps its own order
            (sys.stdout if i % 2 else sys.stderr).write(f"line {i}\\n")
        sys.stdout.buffer.write(b"bad \\xff bytes\\rprogress 1\\rprogress 2\\n")
        print("x" * 200_000)
        print("no newline at the end", end="")
    """
        }
    )
    seen: list[tuple[int, bytes]] = []
    handle = run_project(src, infer_requirements=False, on_output=lambda s, d: seen.append((s, d)))
    assert handle.status is RunStatus.SUCCEEDED
    lines = [(stream, line) for _, stream, line in iter_lines(handle.run_dir) if stream != "system"]
    paced = [("stderr" if i % 2 == 0 else "stdout", f"paced {i}\n".encode()) for i in range(10)]
    assert lines[:10] == paced
    out = [line for stream, line in lines[10:] if stream == "stdout"]
    err = [line for stream, line in lines[10:] if stream == "stderr"]
    assert err == [f"line {i}\n".encode() for i in range(0, 2000, 2)]
    assert out[:1000] == [f"line {i}\n".encode() for i in range(1, 2000, 2)]
    assert out[1000:] == [
        b"bad \xff bytes\rprogress 1\rprogress 2\n",
        b"x" * 200_000 + b"\n",
        b"no newline at the end",
    ]
    relayed = b"".join(d for s, d in seen if s == 1)
    assert relayed == b"".join(line for stream, line in lines if stream == "stdout")


def test_progress_lines_update_the_record(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import time
        for i in range(1, 5):
            print(f"[PROGRESS] {i}/4", flush=True)
            time.sleep(0.3)
    """
        }
    )
    seen: list[float | None] = []
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src), infer_requirements=False))
    Supervisor(store, record.id, on_status=lambda r: seen.append(r.progress)).run()
    final = store.get(record.id)
    assert final.progress == pytest.approx(1.0)
    assert {0.25, 0.5, 0.75} <= {round(v, 2) for v in seen if v is not None}


def test_exit_code_and_partial_outputs_are_kept_on_failure(
    home: Path, project, tmp_path: Path
) -> None:
    src = project(
        {
            "main.py": """
        import os, pathlib, sys
        out = pathlib.Path(os.environ["OUTPUT_FOLDER"])
        (out / "partial.txt").write_text("half done")
        (out / "output_2" / "nested.txt").write_text("port 2")
        sys.exit(3)
    """
        }
    )
    copy = tmp_path / "copied"
    handle = run_project(src, infer_requirements=False, output_dir=copy)
    record = handle.record
    assert record.status is RunStatus.FAILED and record.exit_code == 3
    assert "exited with code 3" in (record.message or "")
    assert (handle.outputs_dir / "partial.txt").read_text() == "half done"
    assert {f.path for f in handle.outputs} == {"partial.txt", "output_2/nested.txt"}
    assert (copy / "partial.txt").read_text() == "half done"
    assert (copy / "output_2" / "nested.txt").exists()
    provenance = json.loads((handle.run_dir / "provenance.json").read_text())
    assert provenance["exit_code"] == 3 and provenance["interpreter"]
    assert provenance["timings"]["run"] > 0


def test_an_output_folder_replaced_by_a_link_is_not_copied_and_says_why(
    home: Path, project, tmp_path: Path
) -> None:
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "private.txt").write_text("not an output")
    src = project(
        {
            "main.py": f"""
        import os, shutil
        out = os.environ["OUTPUT_FOLDER"]
        shutil.rmtree(out)
        os.symlink({str(secret)!r}, out)
    """
        }
    )
    copy = tmp_path / "copied"
    handle = run_project(src, infer_requirements=False, output_dir=copy)
    assert handle.record.status is RunStatus.SUCCEEDED
    assert not (copy / "private.txt").exists()
    assert any("could not be copied" in w and "link" in w for w in handle.record.warnings)


DAEMONS = """
import os, sys, time
def spawn_daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # a daemon: new session, re-parented, output closed; only the marker can find it
            os.closedir = None
            fd = os.open(os.devnull, os.O_RDWR)
            for i in (0, 1, 2):
                os.dup2(fd, i)
            while True:
                time.sleep(1)
        os._exit(0)
spawn_daemon()
child = os.fork()
if child == 0:
    while True:          # a grandchild in the same group
        time.sleep(1)
print("started", flush=True)
while True:
    time.sleep(1)
"""


def test_timeout_kills_the_whole_tree_including_daemons(home: Path, project) -> None:
    src = project({"main.py": DAEMONS})
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, timeout=1.0)
    elapsed = time.monotonic() - t0
    record = handle.record
    assert record.status is RunStatus.TIMED_OUT
    assert record.message == "stopped after the time limit of 1 s (SIGTERM)"
    assert record.exit_code == 124  # what the CLI exits with, not the signal's -15
    assert elapsed < 8
    assert marker_processes(record.id) == []


def test_cancel_from_another_thread_stops_the_run(home: Path, project) -> None:
    src = project({"main.py": DAEMONS})
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src), infer_requirements=False))
    sup = Supervisor(store, record.id)
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", sup.run()))
    thread.start()
    deadline = time.time() + 20
    while "started" not in (store.run_dir(record.id) / "log.txt").read_text(errors="replace"):
        assert time.time() < deadline
        time.sleep(0.05)
    assert len(marker_processes(record.id)) >= 3
    RunStore(home).request_cancel(record.id)  # as another process would
    thread.join(20)
    final = store.get(record.id)
    assert final.status is RunStatus.CANCELLED
    assert final.exit_code == 130 and final.message == "cancelled (SIGTERM)"
    assert marker_processes(record.id) == []


def test_program_exit_ends_the_run_even_if_a_child_keeps_the_pipe(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("main done")
    """
        }
    )
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED
    assert time.monotonic() - t0 < 10
    assert marker_processes(handle.id) == []


def test_memory_limit_stops_a_hungry_program(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import time
        blocks = []
        for i in range(400):
            blocks.append(bytearray(10 * 1024 * 1024))
            print(f"{(i + 1) * 10} MB", flush=True)
            time.sleep(0.005)
    """
        }
    )
    handle = run_project(src, infer_requirements=False, memory_mb=100)
    record = handle.record
    assert record.status is RunStatus.FAILED
    log = handle.log_text()
    assert "4000 MB" not in log
    assert "MemoryError" in log or "memory" in (record.message or "")


def test_a_bare_environment_is_cached_and_reused(home: Path, project) -> None:
    src = project({"main.py": "print('hi')"})
    first = run_project(src, infer_requirements=False).record
    second = run_project(src, infer_requirements=False).record
    assert first.env_key == second.env_key
    envs = [p for p in (home / "envs").iterdir() if not p.name.startswith(".")]
    assert len(envs) == 1
    assert second.timings["environment"] < 0.5


def test_env_build_failure_is_an_error_with_the_installer_text(home: Path, project) -> None:
    src = project(
        {
            "main.py": "print('never')",
            "requirements.txt": "this-package-does-not-exist-pyrunner==0.0.1\n",
        }
    )
    handle = run_project(src)
    record = handle.record
    assert record.status is RunStatus.ERROR
    assert "could not build the environment" in (record.message or "")
    assert "this-package-does-not-exist-pyrunner" in (record.error_details or "")
    leftovers = [p.name for p in (home / "envs").iterdir() if p.name.startswith(".build")]
    assert leftovers == []


def test_reading_stdin_gets_eof(home: Path, project) -> None:
    src = project({"main.py": "import sys; print(repr(sys.stdin.read()))"})
    handle = run_project(src, infer_requirements=False, timeout=20)
    assert handle.status is RunStatus.SUCCEEDED
    assert "''" in handle.log_text()


def test_environment_variables_of_the_run_do_not_leak_between_runs(home: Path, project) -> None:
    src = project({"main.py": "import os; print(os.environ['PYRUNNER_RUN_ID'])"})
    a = run_project(src, infer_requirements=False)
    b = run_project(src, infer_requirements=False)
    assert a.id in a.log_text() and b.id in b.log_text() and a.id != b.id
    assert os.environ.get("PYRUNNER_RUN_ID") is None


def test_a_program_that_closes_its_output_is_still_timed(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import os, time
        print("closing", flush=True)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        time.sleep(30)
    """
        }
    )
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, timeout=1.0)
    assert handle.status is RunStatus.TIMED_OUT
    assert time.monotonic() - t0 < 10
    assert marker_processes(handle.id) == []


def test_a_program_ending_in_time_is_not_timed_out_by_a_lingering_child(
    home: Path, project
) -> None:
    src = project(
        {
            "main.py": """
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        time.sleep(0.6)
        print("done")
    """
        }
    )
    handle = run_project(src, infer_requirements=False, timeout=1.0)
    record = handle.record
    assert record.status is RunStatus.SUCCEEDED and record.exit_code == 0, record.message
    assert marker_processes(handle.id) == []


def test_a_realtime_signal_is_reported_not_crashed_on(home: Path, project) -> None:
    src = project({"main.py": "import os, signal\nos.kill(os.getpid(), signal.SIGRTMIN + 2)"})
    record = run_project(src, infer_requirements=False).record
    assert record.status is RunStatus.FAILED
    assert record.exit_code is not None and record.exit_code < 0
    assert "signal" in (record.message or "")


def test_the_memory_limit_counts_the_whole_tree(home: Path, project) -> None:
    # each process stays under the per-process ceiling; together they go over the limit
    src = project(
        {
            "main.py": """
        import os, time
        for _ in range(3):
            if os.fork() == 0:
                block = bytearray(60 * 1024 * 1024)
                time.sleep(30)
                os._exit(0)
        time.sleep(30)
    """
        }
    )
    t0 = time.monotonic()
    record = run_project(src, infer_requirements=False, memory_mb=100).record
    assert record.status is RunStatus.FAILED
    assert "memory use" in (record.message or "")
    assert time.monotonic() - t0 < 20
    assert marker_processes(record.id) == []


def test_shared_pages_of_forked_children_count_once(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import os, time
        block = bytearray(os.urandom(60 * 1024 * 1024))
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                time.sleep(1.5)
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        print("ok")
    """
        }
    )
    record = run_project(src, infer_requirements=False, memory_mb=150).record
    assert record.status is RunStatus.SUCCEEDED, record.message


def test_success_completes_the_progress(home: Path, project) -> None:
    src = project({"main.py": "print('50%')"})
    record = run_project(src, infer_requirements=False).record
    assert record.status is RunStatus.SUCCEEDED and record.progress == 1.0


def test_runs_in_this_process_leave_no_zombies_behind(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(30)
            os._exit(0)
        print("bye")
    """
        }
    )
    for _ in range(3):
        assert run_project(src, infer_requirements=False).status is RunStatus.SUCCEEDED
    me = str(os.getpid())
    zombies = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == b"Z" and fields[1].decode() == me:
                zombies.append(name)
    assert zombies == []


def test_a_program_ignoring_sigterm_at_its_time_limit_says_it_was_killed(
    home: Path, project
) -> None:
    src = project(
        {
            "main.py": """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stubborn", flush=True)
        time.sleep(60)
    """
        }
    )
    record = run_project(src, infer_requirements=False, timeout=1.0).record
    assert record.status is RunStatus.TIMED_OUT and record.exit_code == 124
    assert record.message == "stopped after the time limit of 1 s (SIGKILL)"


def test_an_engine_message_after_an_unfinished_line_starts_a_line_of_its_own(
    home: Path, project
) -> None:
    src = project(
        {
            "main.py": """
        import sys, time
        sys.stdout.write("no newline yet")
        sys.stdout.flush()
        for i in range(1, 4):   # a bar drawn with carriage returns, as tqdm draws it
            sys.stderr.write(f"\\r {i * 10}%|###       | {i}/10 [00:0{i}<00:07]")
            sys.stderr.flush()
            time.sleep(0.1)
        time.sleep(60)
    """
        }
    )
    seen: list[bytes] = []
    handle = run_project(
        src, infer_requirements=False, timeout=1.5, on_output=lambda s, d: seen.append(d)
    )
    assert handle.status is RunStatus.TIMED_OUT
    log = (handle.run_dir / "log.txt").read_bytes()
    assert b"[00:03<00:07]\npyrunner: stopped after the time limit" in log
    assert b"[00:03<00:07]\npyrunner: stopped after the time limit" in b"".join(seen)
    # the program's own bytes are kept as they were
    assert program_output(handle) == "no newline yet"
    # a message after a complete line adds no empty line
    src = project({"main.py": "import time\nprint('line', flush=True)\ntime.sleep(60)"})
    handle = run_project(src, infer_requirements=False, timeout=1.0)
    assert b"line\npyrunner: stopped" in (handle.run_dir / "log.txt").read_bytes()


ARGV = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"


def test_arguments_naming_the_runs_folders_are_expanded_when_the_program_starts(
    home: Path, project
) -> None:
    src = project({"main.py": ARGV})
    args = [
        "--out",
        "$OUTPUT_FOLDER/result.csv",
        "${INPUT_2}/data.csv",
        "$OUTPUT_4:$LOG_FOLDER",
        "$$OUTPUT_FOLDER",
        "$HOME",
        "$OUTPUT_FOLDERS",
        "$INPUT_6",
        "${OUTPUT_FOLDER",
        "cost $5",
    ]
    handle = run_project(src, infer_requirements=False, args=args)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    run_dir = handle.run_dir
    assert json.loads(program_output(handle)) == [
        "--out",
        f"{run_dir}/outputs/result.csv",
        f"{run_dir}/inputs/input_2/data.csv",
        f"{run_dir}/outputs/output_4:{run_dir}/logs",
        "$OUTPUT_FOLDER",
        "$HOME",
        "$OUTPUT_FOLDERS",
        "$INPUT_6",
        "${OUTPUT_FOLDER",
        "cost $5",
    ]
    assert handle.record.spec.args == args  # the record keeps them as written


def test_a_failed_snapshot_of_the_project_is_a_warning_not_a_failure(
    home: Path, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_pyrunner import workfiles

    def refuse(project: Path, run_dir: Path) -> None:
        raise PermissionError(13, "Permission denied", str(project))

    monkeypatch.setattr(workfiles, "take_snapshot", refuse)
    handle = run_project(project({"main.py": "print('ran')"}), infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED
    assert "pyrunner: warning: the files beside the code could not be listed" in handle.log_text()
    assert "ran" in program_output(handle)


def test_the_snapshot_is_taken_before_the_program_starts(home: Path, project) -> None:
    src = project(
        {"main.py": "import os; print(sorted(os.listdir(os.environ['LOG_FOLDER'] + '/..')))"}
    )
    handle = run_project(src, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED
    assert "project-snapshot.z" in program_output(handle)


TQDM_LOOP = """
import sys, time
from tqdm import tqdm
for i in tqdm(range(10), mininterval=0):
    time.sleep(0.25)
    if i == 6:
        sys.exit(3)
"""


def test_a_tqdm_bar_drives_the_progress(home: Path, project) -> None:
    src = project({"main.py": TQDM_LOOP, "requirements.txt": "tqdm\n"})
    seen: list[float | None] = []
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src)))
    Supervisor(store, record.id, on_status=lambda r: seen.append(r.progress)).run()
    final = store.get(record.id)
    assert final.status is RunStatus.FAILED and final.exit_code == 3, final.message
    assert final.progress is not None and 0.5 <= final.progress <= 0.7
    assert {0.2, 0.3, 0.4} <= {round(v, 2) for v in seen if v is not None}


def test_outputs_that_cannot_be_copied_are_named_in_a_warning_and_the_rest_copied(
    home: Path, project, tmp_path: Path
) -> None:
    """One output the target refuses (a folder holds its name there) does not stop the copy."""
    from jupyter_pyrunner import run_project

    target = tmp_path / "collected"
    (target / "blocked.txt").mkdir(parents=True)  # the user's own folder, in the way
    src = project({"main.py": """
        import os, pathlib
        out = pathlib.Path(os.environ["OUTPUT_FOLDER"])
        (out / "blocked.txt").write_text("x")
        (out / "fine.txt").write_text("y")
    """, "requirements.txt": ""})  # fmt: skip
    handle = run_project(src, output_dir=target)
    assert handle.status.value == "succeeded"
    assert (target / "fine.txt").read_text() == "y" and (target / "blocked.txt").is_dir()
    (warning,) = handle.record.warnings
    assert warning.startswith(f"1 file(s) could not be copied to {target}: blocked.txt (")
