"""Cached run of a numpy + matplotlib project: ``pyrunner run`` vs running ``main.py`` directly.

The project is ``examples/plot-sine``. Cases, interleaved:

* ``direct`` (baseline): ``main.py`` run with the python of a venv prebuilt once by
  ``uv venv`` + ``uv pip install --compile-bytecode`` (bytecode present, as in a pip-installed
  venv), pinned to the same package versions as the pyrunner environment;
* ``pyrunner run`` with its environment cached (built by a first run, bytecode written), of
  the project's folder and of a zip of it (as users bring it);
* ``uv run --no-project --with-requirements requirements.txt main.py``, warmed by a first run
  (with ``PYTHONDONTWRITEBYTECODE=1`` set, as here, uv's cached environment never gets bytecode),
  and the same with bytecode: its own uv cache, warmed once with ``PYTHONDONTWRITEBYTECODE``
  unset;
* with ``--fresh-repeat`` repetitions (not interleaved with the others), a fresh
  ``python -m venv`` + ``pip install -r requirements.txt`` + run, as the oSparc runner does on
  every run (pip may warn "Location ... is ignored": harmless).

uv's package cache is a dedicated one in a temporary folder (filled from the index once).

    .venv/bin/python benchmarks/bench_cached_run.py [--repeat 15] [--fresh-repeat 3] [--json PATH]

Target: pyrunner cached <= 1.10x direct (wall).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import ROOT, compare, pyrunner_cmd, real_python, report, timed

PROJECT = ROOT / "examples" / "plot-sine"
WORKDIR = PROJECT / "sine_project"
REQUIREMENTS = WORKDIR / "requirements.txt"


def find_uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def wait_compiled(home: Path, timeout: float = 300.0) -> Path:
    """The cached environment's folder, once its background bytecode compilation is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        envs = [p.parent for p in (home / "envs").glob("*/pyrunner-env.json")]
        if envs and all((env / ".compiled").exists() for env in envs):
            return envs[0]
        time.sleep(0.2)
    raise SystemExit("the environment's bytecode was not written in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per interleaved case")
    parser.add_argument(
        "--fresh-repeat", type=int, default=3, help="runs of fresh venv + pip install (0: skip)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    python = real_python()
    uv = find_uv()
    with tempfile.TemporaryDirectory(prefix="bench-cached-") as tmp_name:
        tmp = Path(tmp_name)
        inputs, outputs = tmp / "inputs", tmp / "outputs"
        inputs.mkdir()
        outputs.mkdir()
        base_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        base_env["UV_PYTHON_DOWNLOADS"] = "never"
        base_env["UV_CACHE_DIR"] = str(tmp / "uv-cache")
        program_env = {
            **base_env,
            "INPUT_FOLDER": str(inputs),
            "OUTPUT_FOLDER": str(outputs),
            "PYTHONUNBUFFERED": "1",
        }
        home = tmp / "home"
        run_env = {**base_env, "PYRUNNER_HOME": str(home)}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

        # pyrunner: a first run builds the environment; wait for its bytecode
        print("building the pyrunner environment ...", file=sys.stderr)
        pyrunner = [*pyrunner_cmd(), "run", str(PROJECT)]
        subprocess.run(pyrunner, check=True, env=run_env, **quiet)
        env_dir = wait_compiled(home)
        freeze = json.loads((env_dir / "pyrunner-env.json").read_text())["freeze"]
        pins = tmp / "pins.txt"
        pins.write_text("".join(f"{line}\n" for line in freeze))

        # direct: a venv with the same versions, bytecode compiled at install
        print("building the direct venv ...", file=sys.stderr)
        direct = tmp / "direct"
        subprocess.run(
            [uv, "venv", "--quiet", "--python", python, str(direct)], check=True, env=base_env
        )
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(direct / "bin" / "python"),
                "-r",
                str(pins),
            ],
            check=True,
            env=base_env,
        )
        direct_cmd = [str(direct / "bin" / "python"), "main.py"]

        archive = tmp / "plot-sine.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(PROJECT.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(PROJECT).as_posix())
        pyrunner_zip = [*pyrunner_cmd(), "run", str(archive)]

        # uv run: warm its cached ephemeral environment
        uv_run = [
            uv,
            "run",
            "--no-project",
            "--python",
            python,
            "--with-requirements",
            "requirements.txt",
            "main.py",
        ]
        subprocess.run(uv_run, check=True, cwd=WORKDIR, env=program_env, **quiet)
        pyc_env = {**program_env, "UV_CACHE_DIR": str(tmp / "uv-cache-pyc")}
        warm_pyc = {k: v for k, v in pyc_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(uv_run, check=True, cwd=WORKDIR, env=warm_pyc, **quiet)

        def direct_case() -> tuple[float, float]:
            return timed(direct_cmd, cwd=WORKDIR, env=program_env, **quiet)

        def pyrunner_case() -> tuple[float, float]:
            return timed(pyrunner, env=run_env, **quiet)

        def pyrunner_zip_case() -> tuple[float, float]:
            return timed(pyrunner_zip, env=run_env, **quiet)

        def uv_run_case() -> tuple[float, float]:
            return timed(uv_run, cwd=WORKDIR, env=program_env, **quiet)

        def uv_run_pyc_case() -> tuple[float, float]:
            return timed(uv_run, cwd=WORKDIR, env=pyc_env, **quiet)

        print(f"timing {args.repeat} interleaved rounds ...", file=sys.stderr)
        results = compare(
            {
                "direct: venv python main.py": direct_case,
                "pyrunner run (cached env)": pyrunner_case,
                "pyrunner run of a zip (cached env)": pyrunner_zip_case,
                "uv run --with-requirements (warm, no bytecode)": uv_run_case,
                "uv run --with-requirements (warm, bytecode)": uv_run_pyc_case,
            },
            args.repeat,
        )

        if args.fresh_repeat > 0:
            counter = iter(range(1 << 30))

            def fresh_case() -> tuple[float, float]:
                venv = tmp / f"fresh-{next(counter)}"
                vpy = str(venv / "bin" / "python")
                steps = [
                    ([python, "-m", "venv", str(venv)], None),
                    (
                        [
                            vpy,
                            "-m",
                            "pip",
                            "install",
                            "--quiet",
                            "--disable-pip-version-check",
                            "-r",
                            "requirements.txt",
                        ],
                        WORKDIR,
                    ),
                    ([vpy, "main.py"], WORKDIR),
                ]
                wall = cpu = 0.0
                for cmd, cwd in steps:
                    w, c = timed(cmd, cwd=cwd, env=program_env, **quiet)
                    wall += w
                    cpu += c
                shutil.rmtree(venv, ignore_errors=True)
                return wall, cpu

            print(f"timing {args.fresh_repeat} fresh venv + pip runs ...", file=sys.stderr)
            results.update(
                compare({"fresh venv + pip install + run": fresh_case}, args.fresh_repeat)
            )

    versions = ", ".join(
        line for line in freeze if line.lower().startswith(("numpy", "matplotlib"))
    )
    report(
        f"plot-sine (numpy + matplotlib; {versions}): cached pyrunner run vs direct",
        results,
        "direct: venv python main.py",
        args.json,
    )
    ratio = (
        results["pyrunner run (cached env)"]["wall_median"]
        / results["direct: venv python main.py"]["wall_median"]
    )
    print(
        f"\npyrunner cached / direct (wall): {ratio:.3f}x; target <= 1.10x: "
        f"{'met' if ratio <= 1.10 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
