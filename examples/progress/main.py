"""Simulate a long computation and report progress.

Lines like `[PROGRESS] 3/20` are picked up by the runner to drive its
progress bar; other lines are ordinary log output.
Usage: python main.py [N_STEPS]   (default 20)
"""

import os
import sys
import time
from pathlib import Path


def main() -> int:
    n_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    output_folder = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    output_folder.mkdir(parents=True, exist_ok=True)

    print(f"Starting computation in {n_steps} steps")
    total = 0
    for i in range(1, n_steps + 1):
        time.sleep(0.1)  # stands in for real work
        total += i * i
        print(f"[PROGRESS] {i}/{n_steps}", flush=True)
        if i % 5 == 0 or i == n_steps:
            print(f"step {i}: running sum of squares = {total}", flush=True)

    out_file = output_folder / "result.txt"
    out_file.write_text(f"steps: {n_steps}\nsum of squares: {total}\n")
    print(f"Done. Wrote {out_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
