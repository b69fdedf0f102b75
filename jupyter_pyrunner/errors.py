"""Every error the engine and its faces report, in one place. Messages are written for the
person running the project; a face shows them as they are (the server maps each class to an
HTTP status in one table, the CLI prints ``pyrunner: error: <message>``).

::

    PyRunnerError
    ├── ProjectError                 the project or the request cannot be run as given
    │   ├── ArchiveError             not a zip, corrupt, or unsafe to extract
    │   └── InvalidRunSpecError      a run option out of range (timeout, memory, names...)
    ├── UploadTooLargeError          an upload over the server's size limit
    ├── PathOutsideRootError         a path leading outside the server's contents root
    ├── EnvironmentBuildError        the isolated environment could not be built
    ├── RunNotFoundError             no such run in the store
    ├── OutputNotFoundError          no such output file (or it leads outside the outputs)
    ├── UploadNotFoundError          no such upload
    ├── RunStateError                the run's state does not allow the action
    ├── DiskFullError                no space left (or a read-only disk): nothing could be written
    └── OutputsReplacedError         (also an OSError) the program replaced its output
                                     folder by a link: nothing of it is served or copied

    BuildCancelled                   (not a PyRunnerError) a build stopped by a cancel
"""

from __future__ import annotations


class PyRunnerError(Exception):
    """Base class of every error the engine reports to a user."""


class ProjectError(PyRunnerError):
    """The project (archive, folder, entry point, requirements) cannot be run as given."""


class ArchiveError(ProjectError):
    """The archive is not a zip, is corrupt, or is unsafe to extract."""


class InvalidRunSpecError(ProjectError):
    """A run option is out of range: the message names the option and what it accepts."""


class UploadTooLargeError(PyRunnerError):
    """An upload over the configured size limit."""


class PathOutsideRootError(PyRunnerError):
    """A path that leads outside the server's contents root."""


class EnvironmentBuildError(PyRunnerError):
    """The isolated environment could not be built; ``details`` holds the installer's output."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class RunNotFoundError(PyRunnerError):
    """No run with this id exists in the store."""


class OutputNotFoundError(PyRunnerError):
    """No such output file (or the path leads outside the output folder)."""


class UploadNotFoundError(PyRunnerError):
    """No upload with this id."""


class RunStateError(PyRunnerError):
    """The run is not in a state that allows the requested action."""


class DiskFullError(PyRunnerError):
    """The disk (or the user's quota) is full, or read-only: what was asked needs to write.
    Reads go on working; deleting a run frees space."""


class DaskUnavailableError(PyRunnerError):
    """A Dask cluster is asked for but ``distributed`` is not installed."""


class RunLostError(PyRunnerError):
    """The worker running a run was lost, and the run is not started a second time."""


class OutputsReplacedError(PyRunnerError, OSError):
    """The program replaced its output folder by a link: nothing of it is copied."""


class BuildCancelled(Exception):
    """The environment build was stopped because the run was cancelled (not a user error:
    the supervisor turns it into a ``cancelled`` run)."""
