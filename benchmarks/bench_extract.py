"""Benchmark ``extract_zip`` against ``zipfile.ZipFile.extractall``.

Builds (or reuses) a ~200 MB / 2,000-file zip of semi-compressible data and a 1 GiB
zip bomb in ``--workdir``, times both extractors into fresh folders on the same
filesystem, alternating which goes first, and prints medians as a Markdown table.

    python benchmarks/bench_extract.py --repeat 5 --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_pyrunner.archive import extract_zip
from jupyter_pyrunner.errors import ArchiveError

MIB = 1024 * 1024
PROJECT_NAME = "project-200MB-2000files.zip"
BOMB_NAME = "bomb-1GiB-zeros.zip"


def build_project_zip(path: Path, files: int, total_bytes: int, seed: int = 1) -> None:
    """Write ``files`` members of mixed random and repeated bytes, deflated."""
    rng = random.Random(seed)
    average = total_bytes // files
    tmp = path.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(files):
            size = rng.randint(average // 5, average * 9 // 5)
            blocks = []
            left = size
            while left > 0:
                n = min(left, 4096)
                if rng.random() < 0.5:
                    blocks.append(rng.randbytes(n))
                else:
                    word = rng.randbytes(rng.randint(4, 64))
                    blocks.append((word * (n // len(word) + 1))[:n])
                left -= n
            name = f"project/pkg{i % 20:02d}/sub{i % 7}/file{i:05d}.dat"
            zf.writestr(name, b"".join(blocks))
    tmp.replace(path)


def build_bomb(path: Path) -> None:
    """One member holding 1 GiB of zeros, deflated (about 1 MB on disk)."""
    tmp = path.with_suffix(".partial")
    chunk = bytes(MIB)
    with (
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.bin", "w", force_zip64=True) as out,
    ):
        for _ in range(1024):
            out.write(chunk)
    tmp.replace(path)


def timed(fn: Callable[[], object]) -> float:
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(workdir: Path, repeat: int) -> dict[str, object]:
    project = workdir / PROJECT_NAME
    bomb = workdir / BOMB_NAME
    if not project.exists():
        print(f"building {project.name} ...", file=sys.stderr)
        build_project_zip(project, files=2000, total_bytes=200 * 1000 * 1000)
    if not bomb.exists():
        print(f"building {bomb.name} ...", file=sys.stderr)
        build_bomb(bomb)

    with zipfile.ZipFile(project) as zf:
        infos = zf.infolist()
    uncompressed = sum(i.file_size for i in infos)

    def extractall(dest: Path) -> None:
        with zipfile.ZipFile(project) as zf:
            zf.extractall(dest)

    def ours(dest: Path) -> None:
        extract_zip(project, dest)

    contenders: dict[str, Callable[[Path], None]] = {"extractall": extractall, "extract_zip": ours}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for round_no in range(repeat):
        for name in order if round_no % 2 == 0 else reversed(order):
            dest = workdir / f"out-{name}"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            times[name].append(timed(partial(contenders[name], dest)))
            shutil.rmtree(dest)

    bomb_times: list[float] = []
    refusal = ""
    for _ in range(repeat):
        dest = workdir / "out-bomb"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        start = time.perf_counter()
        try:
            extract_zip(bomb, dest)
        except ArchiveError as exc:
            refusal = str(exc)
        else:
            raise SystemExit("the zip bomb was not refused")
        bomb_times.append(time.perf_counter() - start)
        if any(dest.iterdir()):
            raise SystemExit("the refused zip bomb left files behind")
        dest.rmdir()

    med = {name: statistics.median(values) for name, values in times.items()}
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "archive": {
            "files": len(infos),
            "uncompressed_bytes": uncompressed,
            "compressed_bytes": project.stat().st_size,
        },
        "repeat": repeat,
        "seconds": times,
        "median_seconds": med,
        "ratio_ours_over_extractall": med["extract_zip"] / med["extractall"],
        "bomb": {
            "declared_bytes": 1024 * MIB,
            "archive_bytes": bomb.stat().st_size,
            "median_refusal_seconds": statistics.median(bomb_times),
            "message": refusal,
        },
    }


def markdown(result: dict[str, object]) -> str:
    archive = result["archive"]
    med = result["median_seconds"]
    bomb = result["bomb"]
    assert isinstance(archive, dict) and isinstance(med, dict) and isinstance(bomb, dict)
    mb = archive["uncompressed_bytes"] / 1e6
    lines = [
        f"Archive: {archive['files']:,} files, {mb:.0f} MB uncompressed, "
        f"{archive['compressed_bytes'] / 1e6:.0f} MB zipped; median of {result['repeat']} runs "
        f"(Python {result['python']})",
        "",
        "| case | median (s) | MB/s |",
        "|---|---:|---:|",
        f"| zipfile extractall | {med['extractall']:.3f} | {mb / med['extractall']:.0f} |",
        f"| extract_zip | {med['extract_zip']:.3f} | {mb / med['extract_zip']:.0f} |",
        f"| ratio extract_zip / extractall | {result['ratio_ours_over_extractall']:.3f} | |",
        f"| refuse 1 GiB zip bomb | {bomb['median_refusal_seconds']:.6f} | |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to build and extract (default: temp)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per extractor")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
            result = run(Path(tmp), args.repeat)
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(args.workdir, args.repeat)
    print(markdown(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
