"""A loop with a tqdm bar on stderr, and a last line that does not end in a newline."""

import sys
import time

from tqdm import tqdm

for _ in tqdm(range(40), desc="simulating", mininterval=0):
    time.sleep(0.01)
sys.stdout.write("done without a newline")
