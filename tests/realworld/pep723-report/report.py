# /// script
# requires-python = ">=3.12"
# dependencies = ["tabulate>=0.9"]
# ///
"""A script that says what it needs inline, as PEP 723 describes."""

import os
import sys
from pathlib import Path

from tabulate import tabulate

rows = [("python", f"{sys.version_info.major}.{sys.version_info.minor}"), ("entries", 3)]
table = tabulate(rows, headers=["what", "value"])
print(table)
Path(os.environ["OUTPUT_FOLDER"], "report.txt").write_text(table + "\n")
assert sys.version_info >= (3, 12), sys.version
