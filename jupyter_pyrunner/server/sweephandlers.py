"""REST handlers of sweeps: ``POST``/``GET /pyrunner/api/sweeps``, ``GET .../sweeps/{id}`` and
``POST .../sweeps/{id}/cancel``.

A sweep's runs go through the server's own queue (``submit_sweep(..., enqueue=...)``), so
``max_concurrent_runs`` bounds them as it bounds every run, and they show in ``GET /runs``
with their ``sweep`` and ``params``. The body is a run request (``POST /runs``) with the
parameters added; the engine checks both and creates nothing for a bad request (400).
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import ProjectError, RunStateError
from .base import PyRunnerHandler, domain_errors
from .manager import disk_full_as_error
from .requests import spec_from_request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..models import RunSpec
    from .manager import RunManager

SWEEP_ID = r"(?P<sweep_id>[^/]+)"
#: the fields a sweep request adds to a run request
SWEEP_FIELDS = ("params", "parallel")


def sweep_from_request(manager: RunManager, body: Any) -> tuple[RunSpec, Any, int | None]:
    """The run template, the parameters and ``parallel`` a ``POST /sweeps`` body asks for."""
    if not isinstance(body, dict):
        raise ProjectError("the request body must be a JSON object")
    if "params" not in body:
        raise ProjectError('give \'params\': the values of each parameter, {"a": ["1", "2"]}')
    params = body["params"]
    if not isinstance(params, dict):
        raise ProjectError("'params' must be an object of parameter names to lists of values")
    parallel = body.get("parallel")
    run_body = {k: v for k, v in body.items() if k not in SWEEP_FIELDS}
    return spec_from_request(manager, run_body), params, parallel


def submit_sweep(
    manager: RunManager, spec: RunSpec, params: Any, parallel: int | None
) -> dict[str, Any]:
    """Check and take every combination in, then queue its runs in the server's queue; the
    sweep with its runs. Nothing is left of a request refused."""
    from ..sweeps import submit_sweep as core_submit

    with disk_full_as_error("the sweep could not be prepared"):
        handle = core_submit(
            manager.store, spec, params, parallel=parallel, enqueue=manager.queue.submit
        )
    return handle.to_dict()


def sweep_json(manager: RunManager, sweep_id: str) -> dict[str, Any]:
    """The sweep with its runs (``RunNotFoundError``, 404, when there is none)."""
    from ..sweeps import SweepHandle, read_sweep

    read_sweep(manager.store, sweep_id)  # an unknown or malformed id: one readable 404
    return SweepHandle(manager.store, sweep_id).to_dict()


def cancel_sweep_json(manager: RunManager, sweep_id: str) -> dict[str, Any]:
    """Ask every run of the sweep that has not ended to stop, then the sweep as it stands.

    Queued runs are cancelled at once, running ones are stopped by their supervisors (within
    ~100 ms), and a scheduler still holding runs starts no more. A sweep whose runs have all
    ended is refused as an ended run is (``RunStateError``, 409): there is nothing to stop,
    and a client that thinks otherwise should hear it."""
    from ..sweeps import SweepHandle, cancel_sweep

    # (an unknown or malformed id: the handle's reading of it is one readable 404)
    if SweepHandle(manager.store, sweep_id).done:
        raise RunStateError(f"sweep {sweep_id} has already ended")
    with disk_full_as_error("the cancel could not be recorded"):
        cancel_sweep(manager.store, sweep_id)
    return SweepHandle(manager.store, sweep_id).to_dict()


def sweeps_json(manager: RunManager, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` sweeps with their runs (a sweep removed meanwhile is left out)."""
    from ..errors import RunNotFoundError
    from ..sweeps import list_sweeps

    sweeps = []
    for sweep_id in list_sweeps(manager.store, limit):
        try:
            sweeps.append(sweep_json(manager, sweep_id))
        except (RunNotFoundError, OSError, ValueError):
            continue
    return sweeps


class SweepsHandler(PyRunnerHandler):
    """``GET /pyrunner/api/sweeps`` (newest first) and ``POST`` (start a sweep)."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self) -> None:
        limit = self.int_argument("limit", 50, 1, 500)
        sweeps = await asyncio.to_thread(sweeps_json, self.manager, limit)
        self.write_json({"sweeps": sweeps, "limit": limit})

    @web.authenticated
    @authorized
    @domain_errors
    async def post(self) -> None:
        spec, params, parallel = sweep_from_request(self.manager, self.json_body())
        loop = asyncio.get_running_loop()
        sweep = await loop.run_in_executor(
            self.manager.intake_pool, submit_sweep, self.manager, spec, params, parallel
        )
        self.set_header(
            "Location", self.base_url.rstrip("/") + f"/pyrunner/api/sweeps/{sweep['id']}"
        )
        self.write_json(sweep, 201)


class SweepHandler(PyRunnerHandler):
    """``GET /pyrunner/api/sweeps/{id}``: the sweep with its runs."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, sweep_id: str) -> None:
        self.write_json(await asyncio.to_thread(sweep_json, self.manager, sweep_id))


class SweepCancelHandler(PyRunnerHandler):
    """``POST /pyrunner/api/sweeps/{id}/cancel``: stop every run of the sweep not yet ended."""

    @web.authenticated
    @authorized
    @domain_errors
    async def post(self, sweep_id: str) -> None:
        sweep = await asyncio.to_thread(cancel_sweep_json, self.manager, sweep_id)
        self.write_json(sweep, 202)
