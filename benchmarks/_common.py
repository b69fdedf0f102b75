"""Helpers shared by the benchmarks: timing commands side by side, reporting ratios."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def real_python() -> str:
    """The interpreter's real path (a pyenv shim would add ~65 ms to every start)."""
    return os.path.realpath(sys.executable)


def pyrunner_cmd() -> list[str]:
    """The installed ``pyrunner`` command beside this interpreter."""
    script = Path(sys.executable).parent / "pyrunner"
    return [str(script)] if script.exists() else [real_python(), "-m", "jupyter_pyrunner.cli"]


def timed(cmd: Sequence[str], **kwargs: object) -> tuple[float, float]:
    """Wall and CPU (user+sys of the children) seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def compare(
    cases: dict[str, Callable[[], tuple[float, float]]], repeat: int
) -> dict[str, dict[str, float]]:
    """Run every case ``repeat`` times, interleaved, so that drift hits all of them alike."""
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            wall, cpu = case()
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {
            "wall_median": statistics.median(walls[name]),
            "wall_min": min(walls[name]),
            "cpu_median": statistics.median(cpus[name]),
            "runs": len(walls[name]),
        }
        for name in cases
    }


def report(
    title: str, results: dict[str, dict[str, float]], baseline: str, json_path: str | None
) -> None:
    base = results[baseline]
    print(f"\n### {title}\n")
    print("| case | wall median (s) | CPU median (s) | wall ratio | CPU ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        wall_ratio = r["wall_median"] / base["wall_median"]
        cpu_ratio = r["cpu_median"] / base["cpu_median"] if base["cpu_median"] else float("nan")
        print(
            f"| {name} | {r['wall_median']:.4f} | {r['cpu_median']:.4f} | "
            f"{wall_ratio:.2f}x | {cpu_ratio:.2f}x |"
        )
    if json_path:
        Path(json_path).write_text(
            json.dumps({"title": title, "baseline": baseline, "results": results}, indent=1)
        )
