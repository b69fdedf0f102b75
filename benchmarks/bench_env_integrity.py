"""What checking a cached environment before its reuse costs (``envcheck.check``).

Builds a bare environment and a numpy + matplotlib one (``EnvironmentManager.ensure``), waits
until their bytecode is written and sealed, then times ``check``: before each reuse
(folders and start-up files), after each run (every file), and the manifest's load alone. Also the build with copies (what the engine does) against uv's default (links into its
cache), same warm cache.

    .venv/bin/python benchmarks/bench_env_integrity.py [--repeat 200]

Budget: <= 1 ms for a bare environment, <= 5 ms for numpy + matplotlib.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_pyrunner import envcheck
from jupyter_pyrunner.environments import (
    COMPILED,
    EnvironmentManager,
    EnvSpec,
    Interpreter,
    find_uv,
)


def _wait_sealed(path: Path) -> None:
    deadline = time.monotonic() + 600
    while not (path / COMPILED).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the bytecode helper did not finish")
        time.sleep(0.1)


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _build_seconds(link_mode: str, reqs: list[str], tmp: Path) -> float:
    uv = find_uv()
    assert uv is not None
    venv = tmp / f"venv-{link_mode}-{os.urandom(3).hex()}"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    t0 = time.perf_counter()
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--link-mode",
            link_mode,
            "--python",
            str(venv / "bin" / "python"),
            *reqs,
        ],
        check=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        manager = EnvironmentManager(Path(tmp) / "home")
        for reqs in ((), ("numpy", "matplotlib")):
            env, _ = manager.ensure(EnvSpec(reqs, Interpreter.current()))
            _wait_sealed(env.path)
            root = str(env.path)
            assert envcheck.check(root) is None, envcheck.check(root)
            manifest = envcheck.load(root)
            assert manifest is not None
            entries = len(manifest["paths"]) + len(manifest["pyc_paths"])
            quick = _median_ms(lambda root=root: envcheck.check(root, full=False), args.repeat)
            full = _median_ms(lambda root=root: envcheck.check(root, full=True), args.repeat)
            load = _median_ms(lambda root=root: envcheck.load(root), args.repeat)
            name = " + ".join(reqs) or "bare"
            quick_entries = len(manifest["quick_paths"]) + len(manifest["quick_pyc_paths"])
            rows.append((name, entries, quick_entries, quick, full, load))
        copy = statistics.median(
            _build_seconds("copy", ["numpy", "matplotlib"], Path(tmp)) for _ in range(3)
        )
        link = statistics.median(
            _build_seconds("hardlink", ["numpy", "matplotlib"], Path(tmp)) for _ in range(3)
        )
    print(
        "| environment | entries | checked before reuse | before reuse ms | every file ms "
        "(after each run) | manifest load ms |"
    )
    print("|---|---|---|---|---|---|")
    for name, entries, quick_entries, quick, full, load in rows:
        print(f"| {name} | {entries} | {quick_entries} | {quick:.3f} | {full:.3f} | {load:.3f} |")
    print(
        f"\nuv pip install numpy matplotlib, warm cache: copy {copy:.2f} s, hardlink {link:.2f} s"
    )
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
