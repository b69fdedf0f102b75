"""Domain errors. Each message is written for the person running the project."""

from __future__ import annotations


class PyRunnerError(Exception):
    """Base class of every error the engine reports to a user."""


class ProjectError(PyRunnerError):
    """The project (archive, folder, entry point, requirements) cannot be run as given."""


class ArchiveError(ProjectError):
    """The archive is not a zip, is corrupt, or is unsafe to extract."""


class EnvironmentBuildError(PyRunnerError):
    """The isolated environment could not be built; ``details`` holds the installer's output."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class RunNotFoundError(PyRunnerError):
    """No run with this id exists in the store."""


class RunStateError(PyRunnerError):
    """The run is not in a state that allows the requested action."""
