"""What travels between the relay and a worker that does not share its filesystem.

The run's ``inputs/`` folder goes out as a zip named by its sha256 (:func:`pack_inputs`: the
same content gives the same bytes, so a worker's bundle cache recognises it); the outputs come
back as a zip (:func:`unpack_outputs`, placed by :func:`place_outputs`) of three sections: ``outputs/`` (the output ports),
``project/`` (the files written beside the code) and ``provenance.json``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import RunStore


def pack_inputs(inputs: Path) -> tuple[bytes, str]:
    """The run's ``inputs/`` folder (the project and inputs placed by intake) as a zip, and its
    sha256: the same content gives the same bytes (sorted names, fixed times)."""
    import io
    import zipfile

    from ._core import sha256

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(inputs):
            dirs.sort()
            for name in sorted(files):
                path = Path(root, name)
                if path.is_symlink() or not path.is_file():
                    continue
                rel = path.relative_to(inputs).as_posix()
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (os.stat(path).st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return data, sha256(data).hexdigest()


def unpack_outputs(data: bytes, run_dir: Path, project: Path) -> None:
    """The worker's outputs zip into the run: ``outputs/`` into the output folder,
    ``project/`` into the project folder, ``provenance.json`` beside the record. A name that
    would leave its folder is refused."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename).parts
            if not parts or info.filename.startswith("/") or ".." in parts:
                raise ValueError(f"a bad name among the outputs: {info.filename!r}")
            if parts[0] == "outputs" and len(parts) > 1:
                target = run_dir.joinpath(*parts)
            elif parts[0] == "project" and len(parts) > 1:
                target = project.joinpath(*parts[1:])
            elif info.filename == "provenance.json":
                target = run_dir / "provenance.json"
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                if target.is_symlink():
                    target.unlink()
            target.write_bytes(zf.read(info))


def place_outputs(store: RunStore, run_id: str, result: dict[str, Any]) -> str | None:
    """The outputs a worker's result brought back (in the result, or at its fsspec URL), in
    the run folder and copied to the run's ``output_dir``; a problem, for the run's warnings."""
    data = result.get("outputs")
    if data is None and result.get("outputs_url"):
        from .daskworker import loose

        with loose("fsspec").open(result["outputs_url"], "rb") as f:
            data = f.read()
    if data is None:
        return None
    from .workfiles import take_snapshot

    run_dir, project = store.run_dir(run_id), store.project_dir(run_id)
    try:
        take_snapshot(project, run_dir)  # what comes back beside the code is new
        unpack_outputs(data, run_dir, project)
    except (OSError, ValueError) as exc:
        return f"the outputs could not be written back: {exc}"
    return _copy_outputs(store, run_id)


def _copy_outputs(store: RunStore, run_id: str) -> str | None:
    target = store.read(run_id).spec.output_dir
    if not target:
        return None
    from .outputs import copy_outputs
    from .workfiles import ProjectFiles

    try:
        files = ProjectFiles.of_run(store, run_id)
        copied = copy_outputs(store.outputs_dir(run_id), Path(target), files)
    except (OSError, ValueError) as exc:
        return f"the outputs could not be copied to {target}: {exc}"
    return copied.problem(to=target)
