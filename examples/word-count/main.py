"""Count words in every text file given as a user input (ports input_2..input_5).

input_1 holds this project's own code, so it is skipped.
Plain Python: `python main.py [FOLDER ...]` counts the files under the given
folders instead (e.g. `python main.py sample-input`).
"""

import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

USER_PORTS = range(2, 6)  # input_2 .. input_5
WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def input_folders() -> list[Path]:
    if len(sys.argv) > 1:
        return [Path(arg) for arg in sys.argv[1:]]
    root = Path(os.environ.get("INPUT_FOLDER", "inputs"))
    return [Path(os.environ.get(f"INPUT_{k}", root / f"input_{k}")) for k in USER_PORTS]


def text_files(folders: list[Path]) -> list[Path]:
    files = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files.extend(sorted(p for p in folder.rglob("*") if p.is_file()))
    return files


def main() -> int:
    output_folder = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    output_folder.mkdir(parents=True, exist_ok=True)

    counts: Counter[str] = Counter()
    files_read = []
    for path in text_files(input_folders()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            print(f"Skipping non-text file {path}")
            continue
        counts.update(word.lower() for word in WORD_RE.findall(text))
        files_read.append(str(path))

    if not files_read:
        print("No input text files found in input_2..input_5: nothing to count.")
    else:
        print(
            f"Read {len(files_read)} file(s), {sum(counts.values())} words, {len(counts)} distinct."
        )
        print("Top 10 words:")
        for word, n in counts.most_common(10):
            print(f"  {n:5d}  {word}")

    result = {
        "files": files_read,
        "total_words": sum(counts.values()),
        "counts": dict(counts.most_common()),
    }
    out_file = output_folder / "counts.json"
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {out_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
