"""The server's contents (the folder Jupyter shows): paths confined to it, and run outputs
copied into it without ever writing over or into a folder of the user's."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import PathOutsideRootError, ProjectError
from ..outputs import copy_outputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..workfiles import ProjectFiles

#: how many ``name (n)`` folders are tried before a copy gives up
MAX_FOLDER_SUFFIX = 1000


class Workspace:
    """Paths of the contents root, and new folders in it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def contents_path(self, relpath: str) -> Path:
        """A path of the server's contents, refused if it leads outside the contents root.

        As in Jupyter's contents API, a leading ``/`` means the root; links are followed, so a
        link to somewhere outside is refused as well.
        """
        if "\0" in relpath:
            raise ProjectError("a path cannot contain a NUL character")
        candidate = (self.root / relpath.lstrip("/")).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise PathOutsideRootError(f"'{relpath}' is outside the server's root folder")
        return candidate

    def new_folder(self, relpath: str) -> tuple[Path, bool]:
        """A folder of the contents to put new files in, and whether it was created now.

        The folder at ``relpath`` if it does not exist yet or is empty, else the first free one
        of ``relpath (2)``, ``relpath (3)``, …: files of the user's are never written over or
        mixed with new ones. Parent folders are created.
        """
        wanted = self.contents_path(relpath)
        if wanted == self.root:
            raise ProjectError("give a folder inside the server's root folder, not the root itself")
        try:
            wanted.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ProjectError(f"'{relpath}' cannot be a folder: a file is in the way") from None
        except OSError as exc:
            raise _name_too_long(exc, relpath) from None
        for n in range(1, MAX_FOLDER_SUFFIX + 1):
            candidate = wanted if n == 1 else wanted.with_name(f"{wanted.name} ({n})")
            try:
                candidate.mkdir()  # claims the name, even against a copy running at once
                return candidate, True
            except FileExistsError:
                if _empty_folder(candidate):
                    return candidate, False
            except OSError as exc:
                raise _name_too_long(exc, relpath) from None
        raise ProjectError(
            f"'{relpath}' and {MAX_FOLDER_SUFFIX - 1} numbered folders beside it are all taken"
        )

    def copy_outputs(
        self, outputs_dir: Path, relpath: str, project_files: ProjectFiles | None = None
    ) -> dict[str, Any]:
        """Copy a run's outputs into a new folder of the contents (see ``new_folder``).

        Returns ``{"path", "files", "size"}``: the contents path used, with ``/`` separators,
        and the number and total size of the files copied (with ``project_files``, the files
        written beside the code too, under ``project/``). Links the program left among its
        outputs are not copied (see ``outputs.copy_outputs``); a refused copy leaves no folder.
        """
        target, created = self.new_folder(relpath)
        try:
            copied = copy_outputs(outputs_dir, target, project_files)
        except Exception:
            if created:  # rmdir takes only an empty folder: nothing of the user's goes
                with contextlib.suppress(OSError):
                    target.rmdir()
            raise
        files, size = copied
        return {
            "path": target.relative_to(self.root).as_posix(),
            "files": files,
            "size": size,
            "skipped": [name for name, _why in copied.skipped],
            "problem": copied.problem(),
        }


def _name_too_long(exc: OSError, relpath: str) -> Exception:
    """A readable refusal for a folder name the file system does not take (a 5,000-character
    path was a 500 with a traceback); any other error as it was (a full disk: 507)."""
    import errno

    if exc.errno != errno.ENAMETOOLONG:
        return exc
    shown = relpath if len(relpath) <= 80 else relpath[:77] + "..."
    return ProjectError(f"'{shown}' is too long for a folder name")


def _empty_folder(path: Path) -> bool:
    """A real folder (not a link to one) with nothing in it."""
    if path.is_symlink() or not path.is_dir():
        return False
    with os.scandir(path) as entries:
        return next(entries, None) is None
