"""Summarise a CSV of measurements: paths come from the command line, as scripts usually take them."""

import argparse
import csv
import statistics

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data", required=True, help="CSV with a 'value' column")
parser.add_argument("--out", required=True, help="where to write the summary")
args = parser.parse_args()

with open(args.data, newline="") as f:
    values = [float(row["value"]) for row in csv.DictReader(f)]

with open(args.out, "w") as f:
    f.write(
        f"count,mean,stdev\n{len(values)},{statistics.mean(values)},{statistics.stdev(values)}\n"
    )
print(f"summarised {len(values)} values into {args.out}")
