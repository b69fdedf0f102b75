# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "numpy>=1.24",
#     "scipy>=1.10",
# ]
# ///
"""Estimate a half-life from (simulated) counting data, with its uncertainty.

A sample of technetium-99m (half-life 6.01 h) sits in front of a detector; the counts of each
hour over three days are simulated with Poisson noise and a constant background, from
a fixed seed, so every run gives the same numbers. The model

    rate(t) = A * exp(-ln(2) * t / T_half) + B

is fitted by weighted least squares (scipy.optimize.curve_fit, Poisson errors). Writes to
OUTPUT_FOLDER: `counts.csv` (the data, the fitted model and the residuals) and `fit.json`.

Usage: python half_life.py [--seed N]   (the metadata above lets `uv run` install what it needs)
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from scipy import optimize, stats

TRUE_HALF_LIFE_H = 6.01
INITIAL_RATE = 5000.0  # counts per interval at t = 0
BACKGROUND = 40.0  # counts per interval from the room
INTERVAL_H = 1.0
N_INTERVALS = 72


def model(t: np.ndarray, amplitude: float, half_life: float, background: float) -> np.ndarray:
    return amplitude * np.exp(-np.log(2) * t / half_life) + background


def simulate(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of the counting intervals (hours) and the counts recorded in each."""
    rng = np.random.default_rng(seed)
    t = (np.arange(N_INTERVALS) + 0.5) * INTERVAL_H
    expected = model(t, INITIAL_RATE, TRUE_HALF_LIFE_H, BACKGROUND)
    return t, rng.poisson(expected).astype(float)


def main() -> int:
    parser = argparse.ArgumentParser(description="Fit a half-life to counting data.")
    parser.add_argument("--seed", type=int, default=2, help="random seed (default 2)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}")

    t, counts = simulate(args.seed)
    # Poisson errors: the variance is the expected count. Taking it from the data (sqrt of
    # counts) biases the fit low where counts are few, so fit once with the data's errors,
    # then again with the errors of that first model.
    params = np.array([counts[0], 5.0, counts[-1]])
    sigma = np.sqrt(np.maximum(counts, 1.0))
    for _ in range(2):
        params, cov = optimize.curve_fit(
            model, t, counts, p0=params, sigma=sigma, absolute_sigma=True
        )
        sigma = np.sqrt(model(t, *params))
    errors = np.sqrt(np.diag(cov))
    fitted = model(t, *params)
    residuals = (counts - fitted) / sigma
    chi2 = float(np.sum(residuals**2))
    dof = len(t) - len(params)
    p_value = float(stats.chi2.sf(chi2, dof))

    amplitude, half_life, background = params
    print(f"{N_INTERVALS} intervals of {INTERVAL_H} h, {int(counts.sum())} counts in all")
    print(f"half-life  = {half_life:.3f} ± {errors[1]:.3f} h   (true value {TRUE_HALF_LIFE_H} h)")
    print(f"amplitude  = {amplitude:.1f} ± {errors[0]:.1f} counts/interval")
    print(f"background = {background:.1f} ± {errors[2]:.1f} counts/interval")
    print(f"chi2/dof   = {chi2:.1f}/{dof}, p = {p_value:.3f}")

    out = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    table = np.column_stack([t, counts, fitted, residuals])
    np.savetxt(
        out / "counts.csv",
        table,
        delimiter=",",
        fmt=["%.2f", "%d", "%.2f", "%.3f"],
        header="t_hours,counts,model,residual_sigma",
        comments="",
    )
    result = {
        "seed": args.seed,
        "half_life_h": round(float(half_life), 4),
        "half_life_err_h": round(float(errors[1]), 4),
        "amplitude": round(float(amplitude), 2),
        "background": round(float(background), 2),
        "chi2": round(chi2, 2),
        "dof": dof,
        "p_value": round(p_value, 4),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    (out / "fit.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {out / 'counts.csv'} and {out / 'fit.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
