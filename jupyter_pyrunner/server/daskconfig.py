"""``DaskExecutor`` for the server: the core executor, configured with traitlets.

The core's ``daskexec.DaskExecutor`` imports nothing of Jupyter, so it cannot be a
``Configurable`` itself. This thin class is both: an ``Executor`` the server's queue hands runs
to, and a ``Configurable`` that reads ``c.DaskExecutor.*`` and builds the core object, which
does the work::

    c.PyRunnerApp.executor_class = "jupyter_pyrunner.server.daskconfig.DaskExecutor"
    c.DaskExecutor.scheduler_address = "tcp://scheduler:8786"
    c.DaskExecutor.resources = {"GPU": 1}

A missing ``dask.distributed`` or scheduler address stops the extension at start with one
readable message, rather than failing every run later.
"""

from __future__ import annotations

import abc

from traitlets import Dict, Float, Int, MetaHasTraits, Unicode
from traitlets.config import Configurable

from ..errors import DaskUnavailableError
from ..executors import Executor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..daskexec import DaskExecutor as CoreDaskExecutor
    from ..store import RunStore


class _ConfigurableExecutorMeta(MetaHasTraits, abc.ABCMeta):
    """The metaclass of both bases (traitlets' and the executor's abstract base)."""


class DaskExecutor(Configurable, Executor, metaclass=_ConfigurableExecutorMeta):
    """Runs submitted to the server go to the Dask cluster at ``scheduler_address``: one
    detached relay per run on the server's machine, the program on a worker."""

    name = "dask"

    scheduler_address = Unicode(
        "", config=True,
        help="Address of the Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster "
        "of each run's own (for trying it out). Default: $PYRUNNER_DASK_SCHEDULER.",
    )  # fmt: skip
    resources = Dict(
        value_trait=Float(), per_key_traits=None, config=True,
        help="Dask worker resources each run asks for, as task restrictions ({'GPU': 1}).",
    )  # fmt: skip
    outputs_url = Unicode(
        None, allow_none=True, config=True,
        help="An fsspec URL (s3://bucket/runs) that outputs larger than outputs_limit are "
        "written to by the worker, rather than sent back through the scheduler.",
    )  # fmt: skip
    outputs_limit = Int(
        None, allow_none=True, config=True,
        help="Outputs larger than this (bytes, zipped) go to outputs_url (default: the "
        "engine's limit).",
    )  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.core = self._build()

    def _build(self) -> CoreDaskExecutor:
        """The core executor these settings describe (one readable error when they cannot)."""
        import os

        from ..daskexec import SCHEDULER_VAR
        from ..daskexec import DaskExecutor as Core

        address = self.scheduler_address or os.environ.get(SCHEDULER_VAR, "")
        if not address:
            raise DaskUnavailableError(
                "set c.DaskExecutor.scheduler_address (or PYRUNNER_DASK_SCHEDULER) to the "
                "Dask scheduler's address, to run on a Dask cluster"
            )
        return Core(
            address,
            resources=dict(self.resources) or None,
            outputs_url=self.outputs_url or None,
            outputs_limit=self.outputs_limit,
        )

    @property
    def address(self) -> str:
        """The scheduler the runs go to."""
        return self.core.scheduler_address

    def submit(self, store: RunStore, run_id: str) -> None:
        self.core.submit(store, run_id)
