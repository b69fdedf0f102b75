"""Compute a few sine waves from config/params.json; write a CSV and a plot."""

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in the runner
import matplotlib.pyplot as plt
import numpy as np
from analysis import rms, sine_wave, time_axis

# Relative to the working directory, which is the folder holding main.py.
PARAMS_FILE = Path("config") / "params.json"


def main() -> None:
    output_folder = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    output_folder.mkdir(parents=True, exist_ok=True)

    params = json.loads(PARAMS_FILE.read_text())
    t = time_axis(params["duration_s"], params["sample_rate_hz"])
    waves = {
        w["name"]: sine_wave(t, w["frequency_hz"], w["amplitude"], w["phase_rad"])
        for w in params["waves"]
    }
    waves["sum"] = np.sum(list(waves.values()), axis=0)

    for name, signal in waves.items():
        print(f"{name:>8}: RMS = {rms(signal):.4f}")

    csv_file = output_folder / "signals.csv"
    names = list(waves)
    table = np.column_stack([t, *waves.values()])
    np.savetxt(
        csv_file, table, delimiter=",", header=",".join(["t", *names]), comments="", fmt="%.6f"
    )
    print(f"Wrote {csv_file} ({len(t)} rows)")

    fig, ax = plt.subplots(figsize=(8, 4))
    for name, signal in waves.items():
        ax.plot(t, signal, label=name, linewidth=2 if name == "sum" else 1)
    ax.set_xlabel("time [s]")
    ax.set_ylabel("amplitude")
    ax.set_title("Sine waves")
    ax.legend(loc="upper right")
    fig.tight_layout()
    png_file = output_folder / "sine.png"
    fig.savefig(png_file, dpi=100)
    plt.close(fig)
    print(f"Wrote {png_file}")


if __name__ == "__main__":
    main()
