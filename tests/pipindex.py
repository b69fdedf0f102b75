"""A private package index for tests: a PEP 503 "simple" index served on loopback, holding a
tiny wheel built on the spot under a name no public index has."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

#: a project name no public index holds
PROBE_NAME = "pyrunner-private-probe"
PROBE_VERSION = "1.0"
PROBE_MODULE = "pyrunner_private_probe"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, name: str = PROBE_NAME, version: str = PROBE_VERSION) -> Path:
    """A pure-Python wheel of ``name`` whose module says ``WHERE = "private index"``."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b'WHERE = "private index"\n',
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    return wheel


def lay_out_index(root: Path, wheels: list[Path]) -> Path:
    """``root/simple/<name>/index.html`` linking each wheel (copied beside it); ``root``."""
    simple = root / "simple"
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    for project, project_wheels in by_project.items():
        folder = simple / project
        folder.mkdir(parents=True, exist_ok=True)
        links = []
        for wheel in project_wheels:
            data = wheel.read_bytes()
            (folder / wheel.name).write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            links.append(f'<a href="{wheel.name}#sha256={sha}">{wheel.name}</a><br>')
        (folder / "index.html").write_text(
            "<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>\n"
        )
    simple.mkdir(parents=True, exist_ok=True)
    names = "".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(by_project))
    (simple / "index.html").write_text(f"<!DOCTYPE html><html><body>{names}</body></html>\n")
    return root


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are counted, not printed."""
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


@contextlib.contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root`` on 127.0.0.1 (a free port) while in the block; the base URL and the list
    of paths asked for so far."""
    handler = partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
