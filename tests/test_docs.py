"""The Python examples of the README and the usage guide run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import write_project, zip_folder

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _python_blocks(doc: str) -> list[str]:
    """The ```python blocks of a document, but those for a notebook (``%`` magics)."""
    text = (ROOT / doc).read_text()
    return [b for b in _BLOCK.findall(text) if not re.search(r"^\s*%", b, re.M)]


@pytest.mark.parametrize(
    ("doc", "index"),
    [(doc, i) for doc in ("README.md", "docs/usage.md") for i in range(len(_python_blocks(doc)))],
)
def test_the_python_examples_of_the_docs_run(
    doc: str, index: int, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a folder holding what they name (project.zip, data.csv), against a fresh store."""
    project = write_project(tmp_path / "project", {
        "main.py": """
            import os, sys
            print("hello", sys.argv[1:])
            open(os.path.join(os.environ["OUTPUT_FOLDER"], "out.txt"), "w").write("done")
        """,
        "requirements.txt": "",
    })  # fmt: skip
    workdir = tmp_path / "work"
    workdir.mkdir()
    zip_folder(project, workdir / "project.zip")
    (workdir / "data.csv").write_text("x\n1\n")
    monkeypatch.chdir(workdir)
    exec(compile(_python_blocks(doc)[index], f"{doc} python block {index + 1}", "exec"), {})
