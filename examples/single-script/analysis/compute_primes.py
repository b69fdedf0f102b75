"""Compute all primes below N with a sieve of Eratosthenes.

Usage: python compute_primes.py [N]   (default N = 50_000)
"""

import os
import sys
import time
from pathlib import Path


def primes_below(n: int) -> list[int]:
    if n < 3:
        return []
    is_prime = bytearray([1]) * n
    is_prime[0] = is_prime[1] = 0
    for i in range(2, int(n**0.5) + 1):
        if is_prime[i]:
            is_prime[i * i :: i] = bytearray(len(range(i * i, n, i)))
    return [i for i, flag in enumerate(is_prime) if flag]


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    output_folder = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    output_folder.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    primes = primes_below(n)
    elapsed = time.perf_counter() - start

    print(f"Found {len(primes)} primes below {n} in {elapsed:.3f} s")
    if primes:
        print(f"Smallest: {primes[:5]}  Largest: {primes[-5:]}")

    out_file = output_folder / "primes.txt"
    out_file.write_text("\n".join(map(str, primes)) + "\n")
    print(f"Wrote {out_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
