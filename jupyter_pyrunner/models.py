"""The run record and its statuses: the shared vocabulary of every face."""

from __future__ import annotations

import enum

from ._core import Record
from .errors import InvalidRunSpecError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

#: oSparc's ports: the project is on input port 1, the user's inputs on ports 2 to 5
INPUT_PORTS = 5
OUTPUT_PORTS = 4
MAX_USER_INPUTS = INPUT_PORTS - 1
#: where the project and the inputs are put: "ports" (``inputs/input_1`` .. ``input_5``, as
#: oSparc's later integration versions) or "flat" (all in ``inputs/``, as integration 1.0.0)
LAYOUTS = ("ports", "flat")
#: the largest limits a run may ask for (a year; a pebibyte)
MAX_TIMEOUT = 366 * 86400.0
MAX_MEMORY_MB = 1 << 30
MAX_CPUS = 4096.0
#: what a program's command line may hold (Linux refuses one argument over 128 KiB)
MAX_ARG_BYTES = 128 * 1024
MAX_ARGS_BYTES = 1 << 20
#: how many requirements a run may be given (``requirements``)
MAX_REQUIREMENTS = 1000


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


def _plain(value: Any) -> Any:
    """A copy of ``value`` sharing no list or dict with it (as ``dataclasses.asdict`` makes)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


TERMINAL_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.TIMED_OUT,
        RunStatus.ERROR,
    }
)


class RunSpec(Record):
    """What the user asked for. Stored with the record so a run can be replayed or explained."""

    _fields = (
        "source",
        "entry",
        "inputs",
        "args",
        "timeout",
        "memory_mb",
        "python",
        "infer_requirements",
        "system_site_packages",
        "output_dir",
        "env_deny",
        "layout",
        "requirements",
        "cpus",
        "resources",
    )
    __slots__ = _fields
    __hash__ = None  # type: ignore[assignment]  # mutable

    source: str
    entry: str | None
    inputs: list[str]
    args: list[str]
    timeout: float | None
    memory_mb: int | None
    python: str | None
    infer_requirements: bool
    system_site_packages: bool
    output_dir: str | None
    env_deny: list[str]
    layout: str
    #: the requirements to install, given with the run instead of the project's own
    requirements: list[str] | None
    #: the CPUs the run needs: numerical libraries are told to use that many threads, and
    #: on Dask it is asked of the worker (``daskplacement``)
    cpus: float | None
    #: Dask worker resources the run needs (``{"GPU": 1}``): task restrictions on Dask
    resources: dict[str, float] | None

    def __init__(
        self,
        source: str,
        entry: str | None = None,
        inputs: list[str] | None = None,
        args: list[str] | None = None,
        timeout: float | None = None,
        memory_mb: int | None = None,
        python: str | None = None,
        infer_requirements: bool = True,
        system_site_packages: bool = False,
        output_dir: str | None = None,
        env_deny: list[str] | None = None,
        layout: str = "ports",
        requirements: list[str] | None = None,
        cpus: float | None = None,
        resources: dict[str, float] | None = None,
    ) -> None:
        self.source = source
        self.entry = entry
        self.inputs = [] if inputs is None else inputs
        self.args = [] if args is None else args
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.python = python
        self.infer_requirements = infer_requirements
        self.system_site_packages = system_site_packages
        self.output_dir = output_dir
        self.env_deny = [] if env_deny is None else env_deny
        self.layout = layout
        self.requirements = requirements
        self.cpus = cpus
        self.resources = resources

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self._fields}

    def validate(self) -> RunSpec:
        """Check every field, whichever face built the spec; returns it (a whole ``memory_mb``
        given as a float made an int), or raises ``InvalidRunSpecError`` naming the option and
        what it accepts. The engine calls this
        once, before a run is created (``prepare_run``)."""
        from . import validation as v

        v.path_text(self.source, "the project", optional=False)
        v.path_text(self.entry, "the entry point (entry)")
        v.path_text(self.python, "the interpreter (python)")
        v.path_text(self.output_dir, "the output folder (output_dir)")
        v.text_list(self.inputs, "the inputs (inputs)", item="a path")
        for item in self.inputs:
            v.path_text(item, "an input (inputs)", optional=False)
        if len(self.inputs) > MAX_USER_INPUTS:
            raise InvalidRunSpecError(
                f"{len(self.inputs)} inputs given, but there are {MAX_USER_INPUTS} input ports "
                "(input_2..input_5); put several files in one folder or zip to pass more"
            )
        v.arguments(self.args, MAX_ARG_BYTES, MAX_ARGS_BYTES)
        v.positive(self.timeout, "the time limit (timeout)", "seconds", MAX_TIMEOUT)
        v.positive(self.memory_mb, "the memory limit (memory_mb)", "MB", MAX_MEMORY_MB, whole=True)
        v.positive(self.cpus, "the CPUs of the run (cpus)", "CPUs", MAX_CPUS)
        v.resource_amounts(self.resources)
        v.switch(self.infer_requirements, "infer_requirements")
        v.switch(self.system_site_packages, "system_site_packages")
        v.choice(self.layout, "the input layout (layout)", LAYOUTS)
        if self.requirements is not None:
            v.requirement_list(self.requirements, MAX_REQUIREMENTS)
        v.text_list(self.env_deny, "env_deny", item="a variable name or pattern")
        for pattern in self.env_deny:
            v.variable_pattern(pattern)
        if self.memory_mb is not None:  # 512.0 from a JSON body is a whole number
            self.memory_mb = int(self.memory_mb)
        return self


class RunRecord(Record):
    """Everything known about one run; saved as ``run.json`` in its folder."""

    _fields = (
        "id",
        "name",
        "status",
        "created",
        "spec",
        "entry",
        "workdir",
        "requirements",
        "requirements_source",
        "requires_python",
        "install_project",
        "env_key",
        "python",
        "source_sha256",
        "exit_code",
        "progress",
        "message",
        "error_details",
        "started",
        "finished",
        "timings",
        "supervisor",
        "pid",
        "pid_start",
        "executor",
        "warnings",
        "sweep",
        "params",
        "worker",
        "dashboard",
        "dask_key",
    )
    __slots__ = _fields
    __hash__ = None  # type: ignore[assignment]  # mutable

    id: str
    name: str
    status: RunStatus
    created: float
    spec: RunSpec
    entry: str | None
    workdir: str | None
    requirements: list[str]
    requirements_source: str | None
    requires_python: str | None
    install_project: str | None
    env_key: str | None
    python: str | None
    source_sha256: str | None
    exit_code: int | None
    progress: float | None
    message: str | None
    error_details: str | None
    started: float | None
    finished: float | None
    timings: dict[str, float]
    supervisor: dict[str, Any] | None
    pid: int | None
    pid_start: int | None
    executor: str
    warnings: list[str]
    #: the sweep this run is one combination of (its id), and that combination
    sweep: str | None
    params: dict[str, str] | None
    #: on a Dask cluster: the worker that ran it (its address), the cluster's dashboard
    #: (a URL, when the scheduler has one) and the task's key there
    worker: str | None
    dashboard: str | None
    dask_key: str | None

    def __init__(
        self,
        id: str,
        name: str,
        status: RunStatus,
        created: float,
        spec: RunSpec,
        entry: str | None = None,
        workdir: str | None = None,
        requirements: list[str] | None = None,
        requirements_source: str | None = None,
        requires_python: str | None = None,
        install_project: str | None = None,
        env_key: str | None = None,
        python: str | None = None,
        source_sha256: str | None = None,
        exit_code: int | None = None,
        progress: float | None = None,
        message: str | None = None,
        error_details: str | None = None,
        started: float | None = None,
        finished: float | None = None,
        timings: dict[str, float] | None = None,
        supervisor: dict[str, Any] | None = None,
        pid: int | None = None,
        pid_start: int | None = None,
        executor: str = "local",
        warnings: list[str] | None = None,
        sweep: str | None = None,
        params: dict[str, str] | None = None,
        worker: str | None = None,
        dashboard: str | None = None,
        dask_key: str | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.status = status
        self.created = created
        self.spec = spec
        self.entry = entry
        self.workdir = workdir
        self.requirements = [] if requirements is None else requirements
        self.requirements_source = requirements_source
        self.requires_python = requires_python
        self.install_project = install_project
        self.env_key = env_key
        self.python = python
        self.source_sha256 = source_sha256
        self.exit_code = exit_code
        self.progress = progress
        self.message = message
        self.error_details = error_details
        self.started = started
        self.finished = finished
        self.timings = {} if timings is None else timings
        self.supervisor = supervisor
        self.pid = pid
        self.pid_start = pid_start
        self.executor = executor
        self.warnings = [] if warnings is None else warnings
        self.sweep = sweep
        self.params = params
        self.worker = worker
        self.dashboard = dashboard
        self.dask_key = dask_key

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy: ``spec`` a nested dict, ``status`` its string value."""
        data = {name: _plain(getattr(self, name)) for name in self._fields}
        data["spec"] = self.spec.to_dict()
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record of :meth:`to_dict`'s output; unknown keys are ignored."""
        known = cls._fields
        values = {k: v for k, v in data.items() if k in known}
        spec = data["spec"]
        values["spec"] = RunSpec(**{k: v for k, v in spec.items() if k in RunSpec._fields})
        values["status"] = RunStatus(data["status"])
        return cls(**values)

    @property
    def state(self) -> tuple[RunStatus, float | None, str | None, int | None]:
        """What a watcher of the run shows: status, progress, message and exit code. The
        faces redraw when it changes."""
        return (self.status, self.progress, self.message, self.exit_code)

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
