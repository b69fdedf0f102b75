"""Where on a Dask cluster a run may go: its CPUs, memory and worker resources as the task's
restrictions.

Dask counts only the resources its workers declare (``dask worker --resources
"CPU=8,MEMORY=32e9,GPU=1"``). A run's ``resources`` (and the executor's own, beneath them)
are asked for as they are. Its ``cpus`` and ``memory_mb`` are asked for as the ``CPU`` and
``MEMORY`` (bytes) resources when some worker declares those; otherwise the run may go only
to the workers with enough threads and a memory limit high enough, which the scheduler
does not count down as runs start there.

A run no worker can take now either fails at once (no worker is big enough, and nothing is
declared that a worker joining later could offer) or waits for one, with a message that says
so (a resource nobody offers yet: an adaptive cluster may start such a worker).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .models import RunSpec

__all__ = ["Placement", "PlacementError", "place"]

MIB = 1 << 20


class PlacementError(Exception):
    """No worker of the cluster can ever take the run as it stands (the message says why)."""


class Placement:
    """The restrictions of a run's task, and what it waits for when no worker fits yet."""

    __slots__ = ("resources", "waiting", "workers")

    def __init__(
        self, resources: dict[str, float] | None, workers: list[str] | None, waiting: str | None
    ) -> None:
        #: Dask resources the task needs (None: none)
        self.resources = resources
        #: the only workers that may run it (None: any)
        self.workers = workers
        #: why no worker of the cluster can start it now (None: one can)
        self.waiting = waiting


def place(
    spec: RunSpec, defaults: dict[str, float] | None, workers: dict[str, dict[str, Any]]
) -> Placement:
    """The placement of a run of ``spec`` on a cluster whose workers are ``workers`` (as the
    scheduler describes them: ``nthreads``, ``memory_limit``, ``resources``)."""
    resources = {**(defaults or {}), **(spec.resources or {})}
    declared = {name for info in workers.values() for name in info.get("resources") or {}}
    fits = dict(workers)
    wants: list[str] = []
    if spec.cpus:
        if "CPU" in declared:
            resources["CPU"] = spec.cpus
        else:
            fits = {a: i for a, i in fits.items() if (i.get("nthreads") or 0) >= spec.cpus}
            wants.append(f"{spec.cpus:g} threads")
    if spec.memory_mb:
        needed = spec.memory_mb * MIB
        if "MEMORY" in declared:
            resources["MEMORY"] = needed
        else:
            fits = {a: i for a, i in fits.items() if (_memory(i) or needed) >= needed}
            wants.append(f"a memory limit of at least {spec.memory_mb} MB")
    if wants and not fits:
        raise PlacementError(_nobody_fits(wants, workers))
    restricted = sorted(fits) if wants and len(fits) < len(workers) else None
    return Placement(resources or None, restricted, _waiting(resources, fits, len(workers)))


def _memory(info: dict[str, Any]) -> int | None:
    """A worker's memory limit in bytes; None when it has none (0 means none to Dask)."""
    limit = info.get("memory_limit")
    return int(limit) if limit else None


def _nobody_fits(wants: list[str], workers: dict[str, dict[str, Any]]) -> str:
    if not workers:
        return "the Dask cluster has no workers to run it"
    threads = max((i.get("nthreads") or 0) for i in workers.values())
    memory = [m for m in (_memory(i) for i in workers.values()) if m is not None]
    largest = f"{threads} threads" + (f", {max(memory) // MIB} MB" if memory else "")
    return (
        f"no worker of the Dask cluster has {' and '.join(wants)} (the largest has {largest});"
        " start bigger workers, or declare CPU and MEMORY as worker resources"
    )


def _waiting(
    resources: dict[str, float], workers: dict[str, dict[str, Any]], count: int
) -> str | None:
    """What a run waits for when none of ``workers`` (of ``count``) offers all of
    ``resources``."""
    if not resources:
        return None
    for info in workers.values():
        offered = info.get("resources") or {}
        if all(offered.get(name, 0) >= amount for name, amount in resources.items()):
            return None
    asked = ", ".join(f"{name}={amount:g}" for name, amount in resources.items())
    noun = "worker" if count == 1 else "workers"
    return f"waiting for a Dask worker with {asked}: none of the cluster's {count} {noun} has it"
