"""Environment build alone (numpy + matplotlib): the engine vs ``uv venv`` + ``uv pip install``.

Cases, interleaved, each building into a fresh folder against the same warm uv cache (a
dedicated one in a temporary folder, filled from the index once beforehand):

* ``uv venv D && uv pip install --python D/bin/python -r requirements.txt`` (baseline);
* ``EnvironmentManager(home).ensure(EnvSpec(...))`` with a fresh ``home`` each time, called in
  this running process (the build as a run pays for it: the run's ``environment`` timing) and
  in a fresh Python process (adding that process's start-up and imports);
* for reference, that fresh process alone: start-up and ``import jupyter_pyrunner.environments``,
  no build (the part of the engine's figure that a long-lived process pays once).

The engine's bytecode compilation runs detached after ``ensure`` returns: it is not part of the
timed build, but each round waits for it to end (the ``.compiled`` file) so that it does not
steal CPU from the next case; its duration is reported apart. With ``--cold-repeat N`` (default
1; 0 skips), N more pairs are timed each against its own empty uv cache (downloads included).

    .venv/bin/python benchmarks/bench_cold_build.py [--repeat 7] [--cold-repeat 1] [--json PATH]

Target: engine build <= 1.15x uv alone (warm cache, wall), uv copying its files as the engine
does (`--link-mode copy`: an environment's files must be its own); uv's default (links into its
cache) is shown beside.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, compare, real_python, report, timed

REQUIREMENTS = ROOT / "examples" / "plot-sine" / "sine_project" / "requirements.txt"

ENGINE_SCRIPT = """
import sys
from pathlib import Path
from jupyter_pyrunner.environments import EnvironmentManager, EnvSpec, Interpreter
home, python, reqs = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = tuple(l.strip() for l in Path(reqs).read_text().splitlines() if l.strip())
env, built = EnvironmentManager(home).ensure(EnvSpec(lines, Interpreter(python, sys.argv[4])))
assert built, "the environment was not built"
"""


def find_uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def wait_compiled(home: Path, timeout: float = 300.0) -> float:
    """Seconds until the background bytecode compilation of ``home``'s environment is done."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if list((home / "envs").glob("*/.compiled")):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise SystemExit("the environment's bytecode was not written in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="builds per case, warm cache")
    parser.add_argument("--cold-repeat", type=int, default=1, help="pairs with an empty cache")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    python = real_python()
    version = ".".join(map(str, sys.version_info[:3]))
    uv = find_uv()
    # the engine is imported from the interpreter running this script (its venv holds the
    # package); that interpreter is a symlink to the real one, not a shim
    engine_python = sys.executable

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp_name:
        tmp = Path(tmp_name)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        base_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        base_env["UV_PYTHON_DOWNLOADS"] = "never"
        counter = iter(range(1 << 30))
        compile_seconds: list[float] = []

        def uv_build(cache: Path, *link_mode: str) -> tuple[float, float]:
            env = {**base_env, "UV_CACHE_DIR": str(cache)}
            target = tmp / f"uv-{next(counter)}"
            w1, c1 = timed(
                [uv, "venv", "--quiet", "--python", python, str(target)], env=env, **quiet
            )
            w2, c2 = timed(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    *link_mode,
                    "--python",
                    str(target / "bin" / "python"),
                    "-r",
                    str(REQUIREMENTS),
                ],
                env=env,
                **quiet,
            )
            shutil.rmtree(target)
            return w1 + w2, c1 + c2

        def engine_build(cache: Path) -> tuple[float, float]:
            env = {**base_env, "UV_CACHE_DIR": str(cache)}
            home = tmp / f"home-{next(counter)}"
            result = timed(
                [engine_python, "-c", ENGINE_SCRIPT, str(home), python, str(REQUIREMENTS), version],
                env=env,
                **quiet,
            )
            compile_seconds.append(wait_compiled(home))
            shutil.rmtree(home)
            return result

        warm = tmp / "uv-cache"
        print("filling the uv cache ...", file=sys.stderr)
        uv_build(warm)
        engine_build(warm)
        compile_seconds.clear()

        sys.path.insert(0, str(ROOT))
        from jupyter_pyrunner.environments import EnvironmentManager, EnvSpec, Interpreter

        lines = tuple(ln.strip() for ln in REQUIREMENTS.read_text().splitlines() if ln.strip())

        def engine_in_process(cache: Path) -> tuple[float, float]:
            """The build as a run pays for it: inside a process that is already running."""
            import resource

            os.environ["UV_CACHE_DIR"] = str(cache)
            home = tmp / f"home-{next(counter)}"
            before = [
                resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            ]
            manager = EnvironmentManager(home)
            t0 = time.perf_counter()
            _env, built = manager.ensure(EnvSpec(lines, Interpreter(python, version)))
            wall = time.perf_counter() - t0
            after = [
                resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            ]
            cpu = sum(
                (a.ru_utime - b.ru_utime) + (a.ru_stime - b.ru_stime)
                for a, b in zip(after, before, strict=True)
            )
            assert built
            compile_seconds.append(wait_compiled(home))
            for pid in manager.helper_pids:  # collect the compiler now, so that its CPU time is
                os.waitpid(pid, 0)  # not counted for whichever case runs next
            shutil.rmtree(home)
            return wall, cpu

        def engine_startup() -> tuple[float, float]:
            return timed(
                [engine_python, "-c", "import jupyter_pyrunner.environments"], env=base_env, **quiet
            )

        print(f"timing {args.repeat} interleaved rounds ...", file=sys.stderr)
        results = compare(
            {
                "uv venv + uv pip install": lambda: uv_build(warm),
                "uv venv + uv pip install --link-mode copy": lambda: uv_build(
                    warm, "--link-mode", "copy"
                ),
                "engine: ensure() in a running process": lambda: engine_in_process(warm),
                "engine: ensure() in a fresh process": lambda: engine_build(warm),
                "(fresh process start-up + import only)": engine_startup,
            },
            args.repeat,
        )
        warm_compile = list(compile_seconds)
        report(
            "Environment build, numpy + matplotlib, warm uv cache",
            results,
            "uv venv + uv pip install",
            args.json,
        )
        # the engine copies files out of uv's cache (an environment's files must be its own:
        # see envcheck): the fair baseline is uv doing the same
        base = results["uv venv + uv pip install --link-mode copy"]["wall_median"]
        ratio = results["engine: ensure() in a running process"]["wall_median"] / base
        fresh = results["engine: ensure() in a fresh process"]["wall_median"] / base
        print(
            f"\nengine build / uv alone (wall): {ratio:.3f}x; target <= 1.15x: "
            f"{'met' if ratio <= 1.15 else 'NOT met'} (in a fresh Python process: {fresh:.3f}x, "
            "of which the interpreter's start-up is the last row)"
        )
        print(
            f"background bytecode compilation after the engine's build: median "
            f"{statistics.median(warm_compile):.2f} s (not in the build time)"
        )

        cold_results = None
        if args.cold_repeat > 0:
            print(f"timing {args.cold_repeat} cold-cache pairs ...", file=sys.stderr)
            cold_results = compare(
                {
                    "uv venv + uv pip install": lambda: uv_build(tmp / f"cold-{next(counter)}"),
                    "engine: EnvironmentManager.ensure": lambda: engine_build(
                        tmp / f"cold-{next(counter)}"
                    ),
                },
                args.cold_repeat,
            )
            report(
                "Environment build, numpy + matplotlib, empty uv cache (downloads included)",
                cold_results,
                "uv venv + uv pip install",
                None,
            )

    if args.json:
        path = Path(args.json)
        data = json.loads(path.read_text())
        data["bytecode_compile_seconds"] = warm_compile
        data["cold_cache"] = cold_results
        path.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
