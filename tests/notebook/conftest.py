"""Real notebooks, written with nbformat and executed by nbclient in a real kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from ..conftest import write_project

PNG_HEX = (
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5c1e4"
    "4a0000000049454e44ae426082"
)

DEMO = {
    "main.py": f"""
        import os, pathlib, struct, sys, time, zlib
        out = pathlib.Path(os.environ["OUTPUT_FOLDER"])

        def png(width, height, pixel):
            rows = b"".join(b"\\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
            header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
            return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

        steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
        for i in range(1, steps + 1):
            print(f"step {{i}} of {{steps}}", flush=True)
            print(f"[PROGRESS] {{i}}/{{steps}}", flush=True)
            time.sleep(0.05)
        print("a warning", file=sys.stderr, flush=True)
        (out / "table.csv").write_text("x,y\\n1,2\\n3,4\\n")
        (out / "dot.png").write_bytes(bytes.fromhex("{PNG_HEX}"))
        (out / "gradient.png").write_bytes(png(160, 90, lambda x, y: (x * 255 // 160, y * 255 // 90, 160)))
        (out / "notes.json").write_text('{{"ok": true}}')
    """,
    "requirements.txt": "",
}


#: a program that prints once, then waits, with a daemon of its own in a new session: what an
#: interrupt must stop whole
FOREVER = {
    "main.py": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(300)
        print("running", flush=True)
        time.sleep(300)
    """,
    "requirements.txt": "",
}


def execute(cells: list[str], cwd: Path, timeout: int = 120, **client: Any) -> Any:
    """Run ``cells`` in a fresh kernel started in ``cwd``; returns the executed notebook."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        **client,
    ).execute()
    return nb


def texts(cell: Any) -> list[tuple[str, str]]:
    """(kind, text) for each output of a cell: stream name, or the display's MIME type."""
    found = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            found.append((out["name"], out["text"]))
        elif out["output_type"] in ("display_data", "execute_result"):
            data = out["data"]
            kind = "text/html" if "text/html" in data else "text/plain"
            found.append((kind, data[kind]))
        elif out["output_type"] == "error":
            found.append(("error", "\n".join(out["traceback"])))
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A workspace (the notebook's folder) holding the demo project as ``demo/``."""
    workspace = tmp_path / "workspace"
    write_project(workspace / "demo", DEMO)
    return workspace
