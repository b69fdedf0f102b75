"""A project that fails halfway: the partial output it wrote is still kept."""

import os
import sys
from pathlib import Path


def main() -> None:
    output_folder = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    output_folder.mkdir(parents=True, exist_ok=True)

    print("Step 1: preparing data")
    partial = output_folder / "partial.txt"
    partial.write_text("step 1 finished\nstep 2 never finished\n")
    print(f"Wrote {partial}")
    print("Step 2: processing data", flush=True)
    print("warning: input looks suspicious", file=sys.stderr, flush=True)

    raise RuntimeError("processing failed on purpose (example of a failing run)")


if __name__ == "__main__":
    main()
