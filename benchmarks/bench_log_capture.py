"""Log capture: a program printing 1,000,000 short lines, under ``pyrunner run`` vs to a file.

The program is ``for i in range(1_000_000): print(i)``. Cases, interleaved:

* baseline: ``python main.py > file`` with the cached environment's python and the variables a
  run gets (``PYTHONUNBUFFERED=1``, ``INPUT_FOLDER``, ``OUTPUT_FOLDER``, ``INPUT_1..5``,
  ``OUTPUT_1..4``, ``VIRTUAL_ENV``);
* ``pyrunner run`` with its environment cached, stdout and stderr to ``/dev/null`` (the CLI
  relays the output there and stores it in the run's ``log.txt``); after every run the log is
  checked to hold exactly the 1,000,000 expected lines, and the number of chunks the
  supervisor wrote (records in ``log.idx``) is reported;
* for reference only, the baseline with ``PYTHONUNBUFFERED`` unset (block-buffered writes; a run
  always gets ``PYTHONUNBUFFERED=1``, so this is not what pyrunner is compared with).

Wall and CPU (user + sys of all the processes) are both reported.

    .venv/bin/python benchmarks/bench_log_capture.py [--repeat 10] [--wide] [--json PATH]

``--wide`` writes 60-byte lines with ``sys.stdout.write`` instead (60 MB in all), where the cost
per byte of the capture shows rather than the cost per write.

Targets: pyrunner <= 1.2x the baseline's wall time and <= 1.3x its CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, compare, pyrunner_cmd, report, timed

sys.path.insert(0, str(ROOT))
from jupyter_pyrunner.logfile import _RECORD, INDEX_NAME

LINES = 1_000_000
PROGRAM = f"for i in range({LINES}):\n    print(i)\n"
WIDE_PROGRAM = (
    f"import sys\nwrite = sys.stdout.write\nfor i in range({LINES}):\n    write(f'{{i:059d}}\\n')\n"
)


def expected_output(wide: bool) -> bytes:
    if wide:
        return "".join(f"{i:059d}\n" for i in range(LINES)).encode()
    return "".join(f"{i}\n" for i in range(LINES)).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per case")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--wide", action="store_true", help="60-byte lines via sys.stdout.write")
    args = parser.parse_args()

    expected = expected_output(args.wide)
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp_name:
        tmp = Path(tmp_name)
        project = tmp / "print-lines"
        project.mkdir()
        (project / "main.py").write_text(WIDE_PROGRAM if args.wide else PROGRAM)
        (project / "requirements.txt").write_text("")  # a bare environment, nothing inferred
        home = tmp / "home"
        base_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        run_env = {**base_env, "PYRUNNER_HOME": str(home)}
        devnull = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        pyrunner = [*pyrunner_cmd(), "run", str(project)]
        subprocess.run(pyrunner, check=True, env=run_env, **devnull)  # builds the environment
        (env_dir,) = [p.parent for p in (home / "envs").glob("*/pyrunner-env.json")]
        env_python = str(env_dir / "bin" / "python")

        inputs, outputs = tmp / "inputs", tmp / "outputs"
        program_env = {
            **base_env,
            "INPUT_FOLDER": str(inputs),
            "OUTPUT_FOLDER": str(outputs),
            "PYTHONUNBUFFERED": "1",
            "VIRTUAL_ENV": str(env_dir),
            "PATH": os.pathsep.join([str(env_dir / "bin"), base_env.get("PATH", os.defpath)]),
        }
        for port in range(1, 6):
            program_env[f"INPUT_{port}"] = str(inputs / f"input_{port}")
            (inputs / f"input_{port}").mkdir(parents=True)
        for port in range(1, 5):
            program_env[f"OUTPUT_{port}"] = str(outputs / f"output_{port}")
            (outputs / f"output_{port}").mkdir(parents=True)
        buffered_env = {k: v for k, v in program_env.items() if k != "PYTHONUNBUFFERED"}
        out_file = tmp / "out.txt"

        def to_file(env: dict[str, str]) -> tuple[float, float]:
            with open(out_file, "wb") as out:
                result = timed(
                    [env_python, "main.py"],
                    cwd=project,
                    env=env,
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                )
            if out_file.read_bytes() != expected:
                raise SystemExit("the baseline's output is not the expected lines")
            return result

        checked: list[int] = []

        def pyrunner_case() -> tuple[float, float]:
            before = set((home / "runs").iterdir())
            result = timed(pyrunner, env=run_env, **devnull)
            (run_dir,) = set((home / "runs").iterdir()) - before
            log = (run_dir / "log.txt").read_bytes()
            lines = log.count(b"\n")
            if lines != LINES or log != expected:
                raise SystemExit(f"{run_dir / 'log.txt'}: {lines} lines, not the expected output")
            checked.append((run_dir / INDEX_NAME).stat().st_size // _RECORD.size)
            return result

        print(f"timing {args.repeat} interleaved rounds ...", file=sys.stderr)
        results = compare(
            {
                "python main.py > file (PYTHONUNBUFFERED=1)": lambda: to_file(program_env),
                "pyrunner run, stdout to /dev/null": pyrunner_case,
                "(python main.py > file, buffered)": lambda: to_file(buffered_env),
            },
            args.repeat,
        )

    baseline = "python main.py > file (PYTHONUNBUFFERED=1)"
    kind = "60-byte lines written" if args.wide else "printed lines"
    report(f"Log capture, {LINES:,} {kind}", results, baseline, args.json)
    if args.json:
        data = json.loads(Path(args.json).read_text())
        data["log_idx_chunks"] = checked
        Path(args.json).write_text(json.dumps(data, indent=1))
    ours = results["pyrunner run, stdout to /dev/null"]
    wall = ours["wall_median"] / results[baseline]["wall_median"]
    cpu = ours["cpu_median"] / results[baseline]["cpu_median"]
    print(
        f"\nlog.txt checked after {len(checked)} runs: {LINES:,} lines each, content as expected; "
        f"chunks in log.idx: median {statistics.median(checked):,.0f} "
        f"(average {len(expected) / statistics.median(checked):,.0f} bytes per chunk)"
        f"\npyrunner / baseline: wall {wall:.3f}x (target <= 1.2x: {'met' if wall <= 1.2 else 'NOT met'}), "
        f"CPU {cpu:.3f}x (target <= 1.3x: {'met' if cpu <= 1.3 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
