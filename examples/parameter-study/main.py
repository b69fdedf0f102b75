"""One run of a parameter study of the logistic map x[n+1] = r * x[n] * (1 - x[n]).

Iterates the map at the growth rate given with --rate, then describes where the orbit settles:
its period (1: a fixed point, 2, 4...: a cycle; none: no cycle) and its Lyapunov exponent
(negative for a stable cycle, positive for chaos). An orbit with no cycle is called chaotic only
when that exponent is clearly positive; near a bifurcation point (r = 1, 3, 3.449...) the orbit
converges so slowly that it has not settled after the steps taken, and is reported as such.
Writes to OUTPUT_FOLDER:

    orbit.csv     step, x
    orbit.png     the last iterates in time, and the return map x[n+1] against x[n]
    summary.json  the parameters, the period, the Lyapunov exponent and the attractor's values

Meant to be run once per rate by `pyrunner sweep ... --param rate=... -- --rate {rate}`.
Plain Python: `python main.py --rate 3.5 [--steps N]` (writes to ./outputs).
"""

import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: we only write files
import matplotlib.pyplot as plt
import numpy as np

PROGRESS_REPORTS = 10  # how many [PROGRESS] lines a run prints
PERIOD_WINDOW = 64  # the last iterates examined for a cycle
TOLERANCE = 1e-6  # an orbit this close to a cycle has settled on it
ROUNDING = 1e-12  # steps this small are the rounding of floating-point arithmetic
CHAOS = 1e-3  # a Lyapunov exponent above this, with no cycle, is chaos


def iterate(rate: float, x0: float, steps: int) -> np.ndarray:
    """The orbit x[0..steps] of the logistic map, reporting progress as it goes."""
    orbit = np.empty(steps + 1)
    orbit[0] = x0
    report_every = max(1, steps // PROGRESS_REPORTS)
    for n in range(steps):
        orbit[n + 1] = rate * orbit[n] * (1.0 - orbit[n])
        if (n + 1) % report_every == 0 or n + 1 == steps:
            print(f"[PROGRESS] {n + 1}/{steps}", flush=True)
    return orbit


def period_of(tail: np.ndarray) -> int | None:
    """The smallest p with x[n+p] == x[n] over the tail, or None when there is none.

    Small steps are not enough: near a bifurcation point the orbit creeps towards its limit,
    its steps shrinking like 1/n, so it can move by less than TOLERANCE per period while still
    far from the cycle. The distance left is estimated from how fast the steps shrink (by a
    factor q per period, what remains is a step times q / (1 - q)) and must be below
    TOLERANCE too.
    """
    for p in range(1, len(tail) // 2 + 1):
        steps = np.abs(tail[p:] - tail[:-p])
        if np.any(steps >= TOLERANCE):
            continue
        last, before = steps[-1], steps[-1 - p]
        if last < ROUNDING:  # settled to the precision of the arithmetic
            return p
        shrink = min(last / before, 1 - 1e-9) if before > 0 else 1 - 1e-9
        if last * shrink / (1 - shrink) < TOLERANCE:
            return p
    return None


def lyapunov(rate: float, settled: np.ndarray) -> float:
    """Mean of log|f'(x)| along the orbit, with f'(x) = r (1 - 2x)."""
    derivative = np.abs(rate * (1.0 - 2.0 * settled))
    return float(np.mean(np.log(np.maximum(derivative, 1e-300))))


def plot(orbit: np.ndarray, rate: float, transient: int, path: Path) -> None:
    settled = orbit[transient:]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    last = np.arange(len(orbit))[-100:]
    left.plot(last, orbit[-100:], ".-", lw=0.6, ms=3)
    left.set(xlabel="step n", ylabel="x[n]", title="last 100 iterates", ylim=(0, 1))
    grid = np.linspace(0, 1, 200)
    right.plot(grid, rate * grid * (1 - grid), color="0.7", lw=1)
    right.plot(settled[:-1], settled[1:], ".", ms=2)
    right.set(xlabel="x[n]", ylabel="x[n+1]", title="return map after the transient")
    fig.suptitle(f"logistic map, r = {rate}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="Iterate the logistic map at one growth rate.")
    parser.add_argument("--rate", type=float, required=True, help="growth rate r, 0 < r <= 4")
    parser.add_argument("--steps", type=int, default=2000, help="iterations (default 2000)")
    parser.add_argument("--x0", type=float, default=0.2, help="starting value (default 0.2)")
    args = parser.parse_args()
    if not 0 < args.rate <= 4 or not 0 < args.x0 < 1 or args.steps < 2 * PERIOD_WINDOW:
        parser.error(f"need 0 < rate <= 4, 0 < x0 < 1 and steps >= {2 * PERIOD_WINDOW}")

    # a run of a sweep also finds its combination in PYRUNNER_PARAMS (recorded, not needed)
    sweep_params = json.loads(os.environ.get("PYRUNNER_PARAMS", "null"))
    print(f"logistic map: r = {args.rate}, x0 = {args.x0}, {args.steps} steps")

    orbit = iterate(args.rate, args.x0, args.steps)
    transient = args.steps // 2  # the first half is left out of the analysis
    settled = orbit[transient:]
    period = period_of(settled[-PERIOD_WINDOW:])
    exponent = lyapunov(args.rate, settled)
    attractor = sorted({round(float(x), 6) for x in settled[-period:]}) if period else None
    if period:
        behaviour = "cycle"
        print(f"settles on a cycle of period {period}: {attractor}")
    elif exponent > CHAOS:
        behaviour = "chaos"
        print("no cycle, and a positive Lyapunov exponent: the orbit is chaotic")
    else:
        behaviour = "unsettled"
        print(
            f"no cycle within tolerance after {args.steps} steps (slow convergence: "
            "near a bifurcation point the orbit settles only slowly; try more --steps)"
        )
    print(f"Lyapunov exponent {exponent:+.4f}")

    out = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    steps = np.arange(len(orbit))
    np.savetxt(
        out / "orbit.csv",
        np.column_stack([steps, orbit]),
        delimiter=",",
        fmt=["%d", "%.10f"],
        header="step,x",
        comments="",
    )
    plot(orbit, args.rate, transient, out / "orbit.png")
    summary = {
        "rate": args.rate,
        "x0": args.x0,
        "steps": args.steps,
        "period": period,
        "attractor": attractor,
        "behaviour": behaviour,
        "lyapunov": round(exponent, 6),
        "sweep_params": sweep_params,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"Wrote orbit.csv, orbit.png and summary.json to {out}")


if __name__ == "__main__":
    main()
