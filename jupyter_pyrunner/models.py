"""The run record and its statuses: the shared vocabulary of every face."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any


class RunStatus(str, enum.Enum):
    """Life cycle of a run: ``queued → preparing → running → (one terminal status)``."""

    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    ERROR = "error"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.TIMED_OUT,
        RunStatus.ERROR,
    }
)


@dataclass
class RunSpec:
    """What the user asked for. Stored with the record so a run can be replayed or explained."""

    source: str
    entry: str | None = None
    inputs: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    timeout: float | None = None
    memory_mb: int | None = None
    python: str | None = None
    infer_requirements: bool = True
    system_site_packages: bool = False
    output_dir: str | None = None
    env_deny: list[str] = field(default_factory=list)


@dataclass
class RunRecord:
    """Everything known about one run; saved as ``run.json`` in its folder."""

    id: str
    name: str
    status: RunStatus
    created: float
    spec: RunSpec
    entry: str | None = None
    workdir: str | None = None
    requirements: list[str] = field(default_factory=list)
    requirements_source: str | None = None
    env_key: str | None = None
    python: str | None = None
    source_sha256: str | None = None
    exit_code: int | None = None
    progress: float | None = None
    message: str | None = None
    error_details: str | None = None
    started: float | None = None
    finished: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    supervisor: dict[str, Any] | None = None
    pid: int | None = None
    pid_start: int | None = None
    executor: str = "local"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        spec_fields = {f.name for f in dataclasses.fields(RunSpec)}
        values["spec"] = RunSpec(**{k: v for k, v in data["spec"].items() if k in spec_fields})
        values["status"] = RunStatus(data["status"])
        return cls(**values)

    @property
    def duration(self) -> float | None:
        """Seconds from start of preparation to the end (or until now for a live run)."""
        if self.started is None:
            return None
        end = self.finished
        if end is None:
            import time

            end = time.time()
        return end - self.started
