"""The ``pyrunner`` command, driven as a user drives it: real subprocesses, real runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_pyrunner import RunStatus, RunStore, start_run
from jupyter_pyrunner.cli import _parser
from jupyter_pyrunner.cli.exits import EXIT_INVALID

from .conftest import EXAMPLES, marker_processes, run_cli, wait_for_output


def test_run_streams_output_and_exits_with_the_program_code(home: Path, project) -> None:
    src = project(
        {"main.py": "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"}
    )
    result = run_cli("run", str(src))
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr
    assert "failed (exited with code 3)" in result.stderr


def test_arguments_after_the_double_dash_reach_the_program(home: Path) -> None:
    result = run_cli("run", str(EXAMPLES / "single-script"), "--", "100")
    assert result.returncode == 0, result.stderr
    assert "Found 25 primes below 100" in result.stdout


def test_an_invalid_project_exits_with_pyrunners_code_and_one_clear_line(
    home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-zip.zip"
    bad.write_text("hello")
    result = run_cli("run", str(bad))
    assert result.returncode == EXIT_INVALID
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("pyrunner: error:")
    assert "Traceback" not in result.stderr
    missing = run_cli("run", str(tmp_path / "nowhere.zip"))
    assert missing.returncode == EXIT_INVALID and "does not exist" in missing.stderr
    assert run_cli("runs").stdout.strip() == "no runs yet"  # nothing ran: no history


def test_ambiguous_project_names_the_candidates_and_entry_fixes_it(home: Path, project) -> None:
    src = project({"tool/a.py": "print('a')", "tool/b.py": "print('b')"})
    result = run_cli("run", str(src))
    assert result.returncode == EXIT_INVALID
    assert "a.py" in result.stderr and "b.py" in result.stderr and "--entry" in result.stderr
    chosen = run_cli("run", str(src), "--entry", "tool/b.py", "--no-infer")
    assert chosen.returncode == 0 and chosen.stdout == "b\n"


def test_timeout_exits_124(home: Path, project) -> None:
    src = project({"main.py": "import time\nprint('start', flush=True)\ntime.sleep(30)"})
    t0 = time.monotonic()
    result = run_cli("run", str(src), "--timeout", "1", "--no-infer")
    assert result.returncode == 124
    assert time.monotonic() - t0 < 15
    assert "time limit" in result.stderr


def test_interrupting_the_cli_cancels_the_run_and_exits_130(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(60)
        print("started", flush=True)
        time.sleep(60)
    """
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_pyrunner.cli", "run", str(src), "--no-infer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == 130
    (record,) = RunStore(home).list_runs()
    assert record.status is RunStatus.CANCELLED
    assert marker_processes(record.id) == []


def test_json_prints_the_record_and_output_dir_gets_outputs_after_failure(
    home: Path, tmp_path: Path
) -> None:
    target = tmp_path / "collected"
    result = run_cli("run", str(EXAMPLES / "failing"), "--json", "--output-dir", str(target))
    assert result.returncode == 1
    record = json.loads(result.stdout)  # stdout holds only the record
    assert record["status"] == "failed" and record["exit_code"] == 1
    assert (target / "partial.txt").exists()
    where = record["locations"]
    run_dir = Path(os.environ["PYRUNNER_HOME"]) / "runs" / record["id"]
    assert where["run_dir"] == str(run_dir)
    assert where["outputs_dir"] == str(run_dir / "outputs")
    assert where["output_files"] == ["partial.txt"] and where["copied_to"] == str(target)
    assert Path(where["workdir"], record["entry"].rpartition("/")[2]).is_file()


def test_pyrunners_own_failures_are_told_apart_from_the_programs_usage_errors(
    home: Path, project
) -> None:
    """A program's argparse exits 2 on a usage error: pyrunner's own failures use 125."""
    src = project(
        {
            "main.py": "import argparse\nargparse.ArgumentParser().parse_args()",
            "requirements.txt": "",
        }
    )
    program = run_cli("run", str(src), "--", "--no-such-option")
    assert program.returncode == 2 and "unrecognized arguments" in program.stderr
    for args in (["run", str(src), "--no-such-option"], ["run"], []):
        own = run_cli(*args)
        assert own.returncode == EXIT_INVALID == 125, (args, own.stderr)


def test_history_commands(home: Path) -> None:
    assert run_cli("runs").stdout.strip() == "no runs yet"
    done = run_cli("run", str(EXAMPLES / "progress"), "--", "3")
    assert done.returncode == 0, done.stderr
    runs = run_cli("runs")
    assert "succeeded" in runs.stdout and "100%" in runs.stdout and "progress" in runs.stdout
    run_id = json.loads(run_cli("runs", "--json").stdout)[0]["id"]
    show = run_cli("show", run_id[:-3])
    assert f"id:           {run_id}" in show.stdout and "entry:        main.py" in show.stdout
    assert json.loads(run_cli("show", "last", "--json").stdout)["id"] == run_id
    assert "limits:" not in show.stdout and "executor:     local" in show.stdout
    asked = run_cli("run", str(EXAMPLES / "progress"), "--timeout", "30", "--memory", "256",
                    "--cpus", "2", "--resource", "GPU=1", "--", "1")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    limits = "limits:       30 s, 256 MB, 2 CPUs, GPU=1\n"
    assert limits in run_cli("show", "last").stdout
    logs = run_cli("logs", run_id)
    assert "[PROGRESS] 3/3" in logs.stdout
    stamped = run_cli("logs", run_id, "--timestamps").stdout.splitlines()
    assert any(" stdout " in line and "[PROGRESS] 1/3" in line for line in stamped)
    outputs = run_cli("outputs", run_id)
    assert "result.txt" in outputs.stdout
    files = json.loads(run_cli("outputs", run_id, "--json").stdout)["files"]
    assert [f["path"] for f in files] == ["result.txt"] and files[0]["mime_type"] == "text/plain"
    assert "already ended" in run_cli("cancel", run_id).stderr
    assert run_cli("rm", run_id).returncode == 0
    assert run_cli("show", run_id).returncode == EXIT_INVALID


def test_logs_follow_a_run_started_elsewhere(home: Path, project) -> None:
    src = project(
        {
            "main.py": """
        import time
        for i in range(20):
            print(f"step {i}", flush=True)
            time.sleep(0.05)
    """,
            "requirements.txt": "",
        }
    )
    handle = start_run(src)
    result = run_cli("logs", handle.id, "--follow", timeout=60)
    assert result.stdout == "".join(f"step {i}\n" for i in range(20))
    assert handle.record.status is RunStatus.SUCCEEDED


def test_cancel_command_stops_a_detached_run(home: Path, project) -> None:
    src = project(
        {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)", "requirements.txt": ""}
    )
    handle = start_run(src)
    wait_for_output(handle, "up")
    result = run_cli("cancel", handle.id)
    assert result.returncode == 0 and "cancelled" in result.stdout
    assert marker_processes(handle.id) == []


def test_env_list_and_prune(home: Path) -> None:
    assert "no cached environments" in run_cli("env", "list").stdout
    assert run_cli("run", str(EXAMPLES / "progress"), "--", "1").returncode == 0
    listed = run_cli("env", "list")
    assert "(bare)" in listed.stdout and "total" in listed.stdout
    python = "{}.{}.{}".format(*sys.version_info[:3])
    assert "PYTHON" in listed.stdout and f" {python} " in listed.stdout
    assert run_cli("env", "prune").returncode == EXIT_INVALID
    pruned = run_cli("env", "prune", "--max-size", "0")
    assert "1 environment(s) removed" in pruned.stdout
    assert json.loads(run_cli("env", "list", "--json").stdout) == []


def test_word_count_example_reads_its_input_port(home: Path) -> None:
    example = EXAMPLES / "word-count"
    result = run_cli("run", str(example), "--input", str(example / "sample-input"))
    assert result.returncode == 0, result.stderr
    record = json.loads(run_cli("show", "last", "--json").stdout)
    counts = json.loads(
        (
            Path(os.environ["PYRUNNER_HOME"]) / "runs" / record["id"] / "outputs" / "counts.json"
        ).read_text()
    )
    assert counts


def test_help_lists_every_command() -> None:
    text = _parser().format_help()
    for command in ("run", "runs", "show", "logs", "outputs", "cancel", "rm", "env"):
        assert command in text


def _run_in_terminal(*args: str) -> tuple[int, bytes]:
    """Run the CLI with a pseudo-terminal as stdout and stderr; returns (exit code, screen bytes)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_pyrunner.cli", *args], stdout=slave, stderr=slave
    )
    os.close(slave)
    screen = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closes when the program is gone
            break
        if not data:
            break
        screen += data
    os.close(master)
    return proc.wait(timeout=120), screen


def test_a_spinner_shows_while_building_only_on_a_terminal(home: Path, project) -> None:
    src = project(
        {"main.py": "import packaging\nprint('ready')", "requirements.txt": "packaging\n"}
    )
    piped = run_cli("run", str(src))
    assert piped.returncode == 0 and "building environment" not in piped.stderr
    code, screen = _run_in_terminal("run", str(src))  # cached now: no spinner
    assert code == 0 and b"ready" in screen and b"building environment" not in screen
    other = project({"main.py": "import six\nprint('ready')", "requirements.txt": "six\n"})
    code, screen = _run_in_terminal("run", str(other))
    assert code == 0 and b"ready" in screen
    assert b"building environment (six)" in screen


def test_python_option_picks_the_interpreter_or_says_clearly_why_not(home: Path, project) -> None:
    src = project({"main.py": "import sys\nprint(sys.version_info[:2])", "requirements.txt": ""})
    ok = run_cli("run", str(src), "--python", os.path.realpath(sys.executable))
    assert ok.returncode == 0 and ok.stdout.strip() == str(tuple(sys.version_info[:2]))
    bad = run_cli("run", str(src), "--python", "/no/such/python")
    assert bad.returncode == EXIT_INVALID
    assert "cannot use '/no/such/python' as the Python interpreter" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_odd_arguments_get_one_clear_line(home: Path, project, tmp_path: Path) -> None:
    src = project({"main.py": "print(1)", "requirements.txt": ""})
    for args in (["--timeout", "0"], ["--timeout", "-1"], ["--memory", "0"], ["--timeout", "soon"]):
        result = run_cli("run", str(src), *args)
        assert result.returncode == EXIT_INVALID and "Traceback" not in result.stderr, args
    assert run_cli("logs", "20200101-000000-abcdef").returncode == EXIT_INVALID
    assert run_cli("outputs", "20200101-000000-abcdef").returncode == EXIT_INVALID
    offset = run_cli("logs", "last", "--offset", "-1")
    assert offset.returncode == EXIT_INVALID and "negative" in offset.stderr
    fake = run_cli("run", str(src), "--python", "/bin/true")
    assert (
        fake.returncode == EXIT_INVALID
        and "did not run as one" in fake.stderr
        and "Traceback" not in fake.stderr
    )
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    home_file = run_cli("--home", str(blocked), "runs")
    assert home_file.returncode == EXIT_INVALID and home_file.stderr.count("\n") == 1
    assert "Traceback" not in home_file.stderr


def test_requirements_given_on_the_command_line_replace_guessing(home: Path, project) -> None:
    """What a user does when a guessed name is wrong: name the packages with the run."""
    src = project({"main.py": "import six\nprint('six', six.__name__)"})
    result = run_cli("run", str(src), "--json", "--requirements", "six")
    record = json.loads(result.stdout)
    assert record["status"] == "succeeded", result.stderr
    assert record["requirements"] == ["six"] and record["requirements_source"] == "given"
    assert "inferred" not in result.stderr
    bare = json.loads(run_cli("run", str(src), "--json", "--requirements", "").stdout)
    assert bare["requirements"] == [] and bare["status"] == "failed"  # nothing installed


def test_the_summary_starts_its_own_line_after_an_unfinished_one(home: Path, project) -> None:
    src = project(
        {"main.py": "import sys\nsys.stderr.write('50%|#####     | 5/10')", "requirements.txt": ""}
    )
    result = run_cli("run", str(src))
    assert result.returncode == 0, result.stderr
    assert "5/10\npyrunner: run " in result.stderr, result.stderr


def test_outputs_escapes_odd_file_names_one_line_each(home: Path, tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "main.py").write_text(
        "import os\n"
        "def write(path):\n"
        "    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))\n"
        'write(b"bad\\xffname.txt")\n'
        'write(b"line\\nbreak\\x1b[31m.txt")\n'
        'write(os.path.join(os.environb[b"OUTPUT_FOLDER"], b"o\\xffut.txt"))\n'
    )
    assert run_cli("run", str(tmp_path / "odd"), "--no-infer").returncode == 0
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_pyrunner.cli", "outputs", "last"],
        capture_output=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.decode("ascii").splitlines()  # nothing raw reaches the terminal
    assert [line.split(maxsplit=2)[2] for line in lines if line.startswith("  ")] == [
        "o\\xffut.txt",
        "bad\\xffname.txt",
        "line\\nbreak\\x1b[31m.txt",
    ]
    as_json = run_cli("outputs", "last", "--json")
    assert "\\ud" not in as_json.stdout  # no lone surrogate in the JSON
    tree = json.loads(as_json.stdout)
    assert [f["path"] for f in tree["files"]] == ["o\ufffdut.txt"]
    assert [f["path"] for f in tree["project_files"]] == [
        "bad\ufffdname.txt",
        "line\nbreak\x1b[31m.txt",
    ]
