"""The project's script imports the project's own package, as `uv run scripts/main.py` allows."""

import os
from pathlib import Path

from tabulate import tabulate
from wordstats import top_words

text = "the cat and the dog and the bird"
table = tabulate(top_words(text), headers=["word", "count"])
print(table)
Path(os.environ["OUTPUT_FOLDER"], "words.txt").write_text(table + "\n")
