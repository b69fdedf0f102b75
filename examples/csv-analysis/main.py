"""Summarise a field survey: per-site statistics of every measured quantity, and a chart.

Reads the tables given as inputs (`pyrunner run examples/csv-analysis --input my.csv`):
`.csv` files (comma, semicolon, tab or `|` between the values, found from the header line)
and `.tsv` files (tab), whatever the case of the suffix; or the bundled sample in
`sample-data/` when no input is given at all. Writes to OUTPUT_FOLDER:

    summary.csv     one row per site: number of samples, then mean/std/min/max per column
    site_means.png  the mean of each quantity per site, with one standard deviation as error bar

A problem with the inputs (no table among them, a file that is empty, malformed, binary, or
has nothing to summarise) stops the program with one line per problem, naming the file.

Plain Python: `python main.py [FILE_OR_FOLDER ...] [--group COLUMN]` (writes to ./outputs).
"""

import argparse
import hashlib
import io
import os
import sys
from pathlib import Path
from typing import NoReturn

import matplotlib

matplotlib.use("Agg")  # no display needed: we only write files
import matplotlib.pyplot as plt
import pandas as pd

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample-data" / "river-survey-2024.csv"
USER_PORTS = range(2, 6)  # input_1 holds this project itself; the user's files come after
#: this project's own files, which the flat layout puts beside the user's inputs
PROJECT_FILES = {"main.py", "README.md", "requirements.txt", "sample-data"}
TABLE_SUFFIXES = (".csv", ".tsv")
SEPARATORS = (",", ";", "\t", "|")


class InputProblem(Exception):
    """A file that cannot be analysed; the message is one line that names it."""


def stop(problems: list[str], code: int = 1) -> NoReturn:
    for problem in problems:
        print(f"main.py: error: {problem}", file=sys.stderr)
    sys.exit(code)


def input_folders() -> list[Path]:
    """The folders of input ports 2 to 5: a file given as input lands in one, a folder too."""
    root = Path(os.environ.get("INPUT_FOLDER", "inputs"))
    folders = {Path(os.environ.get(f"INPUT_{k}", root / f"input_{k}")) for k in USER_PORTS}
    return sorted(folder.resolve() for folder in folders if folder.is_dir())


def files_in(source: Path) -> list[Path]:
    """The files of a file or folder, leaving out hidden ones and, where the project sits
    among the inputs (the flat layout), the project's own files."""
    if not source.is_dir():
        return [source]
    found = []
    for path in sorted(source.rglob("*")):
        parts = path.relative_to(source).parts
        if any(part.startswith((".", "__")) for part in parts) or not path.is_file():
            continue
        if source == HERE and parts[0] in PROJECT_FILES:
            continue
        found.append(path)
    return found


def shown(path: Path) -> str:
    """A file's name as the user knows it: its path inside its input port, or as given."""
    for folder in input_folders():
        if path.is_relative_to(folder):
            return path.relative_to(folder).as_posix()
    return str(path)


def separator(path: Path, header: str) -> str:
    """Tab for a .tsv file; otherwise the separator the header line uses most (a comma when
    it has none: a table of one column)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(path: Path, raw: bytes) -> pd.DataFrame:
    """The table in a file's bytes, or an InputProblem saying in one line what is wrong."""
    name = shown(path)
    if not raw.strip():
        raise InputProblem(f"{name} is empty")
    if b"\0" in raw[:4096]:
        raise InputProblem(f"{name} is a binary file, not text (a spreadsheet? save it as CSV)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # every byte is a Latin-1 character: this cannot fail
        print(f"Note: {name} is not UTF-8 text; read it as Latin-1")
    sep = separator(path, text.splitlines()[0])
    # a semicolon or tab between values often goes with a decimal comma: "12,5"
    decimals = (".", ",") if sep != "," else (".",)
    frames = []
    for decimal in decimals:
        try:
            frames.append(pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal))
        except pd.errors.EmptyDataError:
            raise InputProblem(f"{name} has no columns") from None
        except (pd.errors.ParserError, ValueError) as error:
            detail = str(error).strip().splitlines()[-1].removeprefix("Error tokenizing data. ")
            detail = detail.removeprefix("C error: ")
            raise InputProblem(f"{name} is not a regular table: {detail}") from None
    frame = max(frames, key=lambda f: len(f.select_dtypes("number").columns))
    if frame.empty:
        raise InputProblem(f"{name} has column names but no rows")
    return frame


def check(frame: pd.DataFrame, name: str, group: str) -> None:
    columns = ", ".join(map(str, frame.columns))
    if group not in frame.columns:
        raise InputProblem(
            f"{name} has no column {group!r} to group by (columns: {columns}); "
            "name another with --group COLUMN"
        )
    if len(frame.select_dtypes("number").columns.drop(group, errors="ignore")) == 0:
        raise InputProblem(f"{name} has no numeric column to summarise (columns: {columns})")


def parse_dates(frame: pd.DataFrame, name: str) -> None:
    """Turn a text `date` column into dates; values that are no date become missing."""
    if "date" not in frame.columns or pd.api.types.is_numeric_dtype(frame["date"]):
        return
    text = frame["date"]
    try:
        frame["date"] = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError) as error:  # time zones mixed with none, say
        print(f"Note: {name}: 'date' left as text ({error})")
        return
    bad = text.notna() & frame["date"].isna()
    if bad.any():
        first = bad.idxmax()
        print(
            f"Note: {name}: {int(bad.sum())} value(s) of 'date' are no date, such as "
            f"{text[first]!r} on line {first + 2}; they are left out of the date range"
        )


def load(paths: list[Path], group: str) -> pd.DataFrame:
    """The tables put together; every problem found is reported before stopping."""
    frames, problems, seen = [], [], {}
    for path in paths:
        name = shown(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            problems.append(f"{name} cannot be read ({error.strerror})")
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            first = seen[digest]
            twice = "given twice" if first == name else f"the same content as {first}"
            print(f"Skipped {name}: {twice}; read once")
            continue
        seen[digest] = name
        try:
            frame = read_table(path, raw)
            check(frame, name, group)
        except InputProblem as problem:
            problems.append(str(problem))
            continue
        print(f"Read {path.name}: {len(frame)} rows, columns {', '.join(map(str, frame.columns))}")
        parse_dates(frame, name)
        frames.append(frame)
    if problems:
        stop(problems)
    data = pd.concat(frames, ignore_index=True)
    if not pd.api.types.is_numeric_dtype(data[group]):
        data[group] = data[group].astype("str")  # names from one file, numbers from another
    missing = data[group].isna()
    if missing.any():
        print(f"Note: {int(missing.sum())} row(s) without a {group!r} value are left out")
        data = data[~missing]
    return data


def summarise(data: pd.DataFrame, group: str) -> pd.DataFrame:
    """Count, mean, std, min and max of each numeric column, per value of `group`."""
    numeric = list(data.select_dtypes("number").columns.drop(group, errors="ignore"))
    stats = data.groupby(group)[numeric].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{column}_{stat}" for column, stat in stats.columns]
    stats.insert(0, "n_samples", data.groupby(group).size())
    return stats.round(3)


def plot_means(data: pd.DataFrame, group: str, path: Path) -> None:
    numeric = list(data.select_dtypes("number").columns.drop(group, errors="ignore"))
    means = data.groupby(group)[numeric].mean()
    stds = data.groupby(group)[numeric].std().fillna(0.0)
    labels = [str(value) for value in means.index]  # one bar per group, even for numbers
    fig, axes = plt.subplots(1, len(numeric), figsize=(3.2 * len(numeric), 3.4), squeeze=False)
    for ax, column in zip(axes[0], numeric, strict=True):
        ax.bar(labels, means[column], yerr=stds[column], capsize=4, color="#4c78a8")
        ax.set_title(str(column).replace("_", " "), fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(f"Mean per {group} (error bars: one standard deviation)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="CSV/TSV files or folders (default: the inputs)"
    )
    parser.add_argument("--group", default="site", help="column to group by (default: site)")
    args = parser.parse_args()

    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        stop([f"no such file: {', '.join(missing)}"], 2)
    sources = args.paths or input_folders()
    given = [path.resolve() for source in sources for path in files_in(source.resolve())]
    tables = [path for path in given if path.suffix.lower() in TABLE_SUFFIXES]
    others = [shown(path) for path in given if path not in tables]
    if given and not tables:
        stop([f"none of the inputs is a .csv or .tsv file: {', '.join(others)}"], 2)
    if others:
        print(f"Not read (only .csv and .tsv files are): {', '.join(others)}")
    if not given:
        print(f"No CSV given as input: analysing the bundled sample, {SAMPLE.name}")
        tables = [SAMPLE]

    data = load(tables, args.group)
    dates = data["date"] if "date" in data.columns else pd.Series()
    if pd.api.types.is_datetime64_any_dtype(dates) and dates.notna().any():
        print(f"Dates from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}")

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
