"""Summarise a field survey: per-site statistics of every measured quantity, and a chart.

Reads the CSV file(s) given as inputs (`pyrunner run examples/csv-analysis --input my.csv`),
or the bundled sample in `sample-data/` when none is given. Writes to OUTPUT_FOLDER:

    summary.csv     one row per site: number of samples, then mean/std/min/max per column
    site_means.png  the mean of each quantity per site, with one standard deviation as error bar

Plain Python: `python main.py [CSV ...] [--group COLUMN]` (writes to ./outputs).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: we only write files
import matplotlib.pyplot as plt
import pandas as pd

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample-data" / "river-survey-2024.csv"
USER_PORTS = range(2, 6)  # input_1 holds this project itself; the user's files come after


def find_user_csvs() -> list[Path]:
    """CSV files the user gave as inputs: a file lands in INPUT_k, a folder's contents too.

    In the flat layout every INPUT_k is INPUT_FOLDER, which also holds this project, so the
    bundled sample is skipped explicitly rather than by folder.
    """
    root = Path(os.environ.get("INPUT_FOLDER", "inputs"))
    folders = {Path(os.environ.get(f"INPUT_{k}", root / f"input_{k}")) for k in USER_PORTS}
    found = set()
    for folder in folders:
        if folder.is_dir():
            found.update(p.resolve() for p in folder.rglob("*.csv") if p.is_file())
    return sorted(p for p in found if not p.is_relative_to(SAMPLE.parent))


def load(paths: list[Path]) -> pd.DataFrame:
    frames = []
    for path in paths:
        frame = pd.read_csv(path)
        print(f"Read {path.name}: {len(frame)} rows, columns {', '.join(frame.columns)}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def summarise(data: pd.DataFrame, group: str) -> pd.DataFrame:
    """Count, mean, std, min and max of each numeric column, per value of `group`."""
    numeric = data.select_dtypes("number").columns
    stats = data.groupby(group)[list(numeric)].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{column}_{stat}" for column, stat in stats.columns]
    stats.insert(0, "n_samples", data.groupby(group).size())
    return stats.round(3)


def plot_means(data: pd.DataFrame, group: str, path: Path) -> None:
    numeric = list(data.select_dtypes("number").columns)
    means = data.groupby(group)[numeric].mean()
    stds = data.groupby(group)[numeric].std().fillna(0.0)
    fig, axes = plt.subplots(1, len(numeric), figsize=(3.2 * len(numeric), 3.4), squeeze=False)
    for ax, column in zip(axes[0], numeric, strict=True):
        ax.bar(means.index, means[column], yerr=stds[column], capsize=4, color="#4c78a8")
        ax.set_title(column.replace("_", " "), fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(f"Mean per {group} (error bars: one standard deviation)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="*", type=Path, help="CSV files (default: the inputs)")
    parser.add_argument("--group", default="site", help="column to group by (default: site)")
    args = parser.parse_args()

    paths = args.csv or find_user_csvs()
    if not paths:
        print(f"No CSV given as input: analysing the bundled sample, {SAMPLE.name}")
        paths = [SAMPLE]
    data = load(paths)
    if args.group not in data.columns:
        parser.error(f"no column {args.group!r} to group by (columns: {', '.join(data.columns)})")
    if "date" in data.columns:
        data["date"] = pd.to_datetime(data["date"])
        print(f"Dates from {data['date'].min():%Y-%m-%d} to {data['date'].max():%Y-%m-%d}")

    summary = summarise(data, args.group)
    means = summary[["n_samples", *[c for c in summary.columns if c.endswith("_mean")]]]
    print(f"\nMeans per {args.group}:")
    print(means.to_string())

    out = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "summary.csv")
    plot_means(data, args.group, out / "site_means.png")
    print(f"\nWrote {out / 'summary.csv'} and {out / 'site_means.png'}")


if __name__ == "__main__":
    main()
