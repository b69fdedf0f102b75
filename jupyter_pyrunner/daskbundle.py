"""What travels between the relay and a worker that does not share its filesystem.

The run's ``inputs/`` folder goes out as a gzipped tar named by its sha256 (:func:`pack_inputs`: the
same content gives the same bytes, so a worker's bundle cache recognises it); the outputs come
back as a zip (:func:`unpack_outputs`, placed by :func:`place_outputs`) of three sections: ``outputs/`` (the output ports),
``project/`` (the files written beside the code) and ``provenance.json``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path, PurePosixPath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import RunStore


#: the largest inputs folder shipped to a worker that cannot see it (its bytes pass through
#: the scheduler and are held in memory on both sides)
MAX_BUNDLE = 512 << 20


class BundleError(ValueError):
    """The run's inputs cannot be shipped or unpacked (too big, a bad entry): the message
    says why, and the run ends with it."""


def pack_inputs(inputs: Path) -> tuple[bytes, str]:
    """The run's ``inputs/`` folder (the project and inputs placed by intake) as a gzipped tar,
    and its sha256: the same content gives the same bytes (sorted names, no times, no
    owners). A tar keeps what a local run sees: names that are not UTF-8, symbolic links,
    empty folders and the executable bits. Over ``MAX_BUNDLE``: ``BundleError``."""
    import gzip
    import io
    import tarfile

    from ._core import sha256

    entries = sorted(_walk(inputs))
    size = sum(path.lstat().st_size for path in entries if path.is_file())
    if size > MAX_BUNDLE:
        raise BundleError(
            f"the project and its inputs take {size / 1e6:.0f} MB, more than the "
            f"{MAX_BUNDLE / 1e6:.0f} MB shipped to a Dask worker that cannot see them: put "
            "big data where the workers can read it and pass its path or URL"
        )
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
        errors="surrogateescape",
    ) as tar:  # fmt: skip
        for path in entries:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(inputs).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            elif info.isdir() or info.issym():
                tar.addfile(info)
    data = gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)
    return data, sha256(data).hexdigest()


def _walk(inputs: Path) -> list[Path]:
    """Every file, folder and symbolic link under ``inputs`` (links not followed)."""
    found = []
    for root, dirs, files in os.walk(inputs):
        for name in [*dirs, *files]:
            path = Path(root, name)
            if path.is_symlink() or path.is_dir() or path.is_file():
                found.append(path)
    return found


def unpack_inputs(data: bytes, target: Path) -> None:
    """The bundle of :func:`pack_inputs` into ``target``: regular files, folders and links
    that stay inside it, modes without set-id bits; anything else refused (``ValueError``)."""
    import gzip
    import io
    import tarfile

    if not hasattr(tarfile, "data_filter"):  # extraction filters: 3.10.12, 3.11.4 and later
        raise BundleError("the worker's Python is too old to unpack the run's files safely")
    with tarfile.open(
        fileobj=io.BytesIO(gzip.decompress(data)), mode="r", encoding="utf-8",
        errors="surrogateescape",
    ) as tar:  # fmt: skip
        try:
            tar.extractall(target, filter="data")
        except tarfile.FilterError as exc:
            raise BundleError(f"the run's bundle holds a bad entry: {exc}") from None


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
            with zf.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)  # never a whole file in memory


def place_outputs(store: RunStore, run_id: str, result: dict[str, Any]) -> str | None:
    """The outputs a worker's result brought back (in the result, or at its fsspec URL), in
    the run folder and copied to the run's ``output_dir``; a problem, for the run's warnings."""
    if result.get("outputs_size"):
        return (
            f"the outputs ({result['outputs_size'] / 1e6:.0f} MB zipped) were too big to come "
            f"back through the Dask scheduler (up to {result['outputs_limit'] / 1e6:.0f} MB): "
            "they stay on the worker; give the executor an outputs_url to bring such outputs "
            "back"
        )
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
