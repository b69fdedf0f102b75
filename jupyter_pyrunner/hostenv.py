"""What of the host's environment reaches each process a run starts: the one place for that rule.

A run starts up to three kinds of process, each a :class:`Role`:

- the **supervisor**, when it is detached from its caller (``start_run``, the server, the
  magic): the program can read its parent's environment in ``/proc``, so it gets no secrets;
- the **installer** (uv or pip), which may run a project's own build scripts: no secrets, and
  not the caller's ``VIRTUAL_ENV``;
- the **program**: no secrets, none of the variables that would undo the environment's
  isolation (``PYTHONPATH``...), none of pyrunner's own (``PYRUNNER_*``).

The installer and the program also lose what a Jupyter kernel sets for itself
(:func:`kernel_settings`): a run started from a notebook gets the environment a run started
from a terminal gets, so matplotlib does not look for the kernel's inline backend and no
colour codes are forced into the log.

"Secrets" are the variables matching :data:`DEFAULT_ENV_DENY`, the patterns of the
``PYRUNNER_ENV_DENY`` variable (comma-separated) and the run's own ``env_deny``. Every entry
point (the CLI, ``run_project``, ``start_run``, the server, the magic) gets its environments
from :func:`host_environment`. This keeps tokens out of the program's reach through its own
environment or its parent's; it is not a boundary between users: a program runs with the same
user id as the process that started it.
"""

from __future__ import annotations

import enum
import fnmatch
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .models import RunRecord

#: Variables never passed on (fnmatch patterns), beside the user's own deny list.
DEFAULT_ENV_DENY = (
    "JUPYTER_TOKEN",
    "JUPYTER_PASSWORD",
    "JPY_*",
    "JUPYTERHUB_API_TOKEN",
    "JUPYTERHUB_*TOKEN*",
    "JUPYTERHUB_*SECRET*",
    "JUPYTER_RUNTIME_DIR",  # the folder of the server's connection files (its token)
)

#: Variables that would undo the environment's isolation, dropped for the program only.
ISOLATION_BREAKERS = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX")

#: pyrunner's own settings (store, deny list...): the program has no use for them.
OWN_VARIABLES = ("PYRUNNER_*",)


#: What ipykernel writes into its own environment: its inline matplotlib backend (only when
#: none was set), and the settings it makes for a terminal that renders colours (always).
KERNEL_BACKENDS = ("module://matplotlib_inline.", "module://ipykernel.")
KERNEL_TERMINAL = {
    "TERM": "xterm-color",
    "CLICOLOR": "1",
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
}


class Role(str, enum.Enum):
    """A process a run starts, as far as its inherited environment is concerned."""

    SUPERVISOR = "supervisor"
    INSTALLER = "installer"
    PROGRAM = "program"


#: what each role loses beside the secrets
_DROPPED: dict[Role, tuple[str, ...]] = {
    Role.SUPERVISOR: (),
    Role.INSTALLER: ("VIRTUAL_ENV",),
    Role.PROGRAM: (*ISOLATION_BREAKERS, *OWN_VARIABLES),
}


def configured_deny(environ: Mapping[str, str] | None = None) -> list[str]:
    """The patterns of ``PYRUNNER_ENV_DENY`` (comma-separated; blanks ignored)."""
    value = (os.environ if environ is None else environ).get("PYRUNNER_ENV_DENY", "")
    return [p.strip() for p in value.split(",") if p.strip()]


def deny_patterns(extra: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets: the default deny list, ``PYRUNNER_ENV_DENY`` and ``extra`` (a run's own)."""
    return [*DEFAULT_ENV_DENY, *configured_deny(environ), *extra]


def host_environment(
    role: Role, deny: Iterable[str] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What ``role`` inherits from ``base`` (the host's ``os.environ`` by default): everything
    but the secrets (:func:`deny_patterns` with the run's ``deny``) and what the role must
    not see. The caller adds the role's own settings (the oSparc variables, uv's cache...)."""
    env = os.environ if base is None else base
    dropped = list(_DROPPED[role])
    if role is not Role.SUPERVISOR:
        dropped += kernel_settings(env)
    return scrub(env, [*deny_patterns(deny, env), *dropped])


def kernel_settings(env: Mapping[str, str]) -> list[str]:
    """The variables of ``env`` that a Jupyter kernel set for itself: an inline matplotlib
    backend, which no program outside a kernel can load; and, when ``env`` is a kernel's (it
    carries all of ipykernel's terminal settings at once), those settings, which would force
    colour codes into a log that is not a terminal."""
    names = [n for n in ("MPLBACKEND",) if env.get(n, "").startswith(KERNEL_BACKENDS)]
    if all(env.get(name) == value for name, value in KERNEL_TERMINAL.items()):
        names += KERNEL_TERMINAL
    return names


def scrub(env: Mapping[str, str], patterns: Iterable[str]) -> dict[str, str]:
    """``env`` without the variables matching any pattern (``fnmatch``, case-sensitive)."""
    # compiling every pattern to a regex costs about a millisecond at each run: plain names
    # and ``PREFIX*`` patterns are matched directly, and the others only on the variables
    # that start with their literal part
    exact: set[str] = set()
    prefixes: list[str] = []
    globs: list[tuple[str, str]] = []
    for pattern in patterns:
        cut = min((i for i in map(pattern.find, "*?[") if i >= 0), default=-1)
        if cut < 0:
            exact.add(pattern)
        elif cut == len(pattern) - 1 and pattern[cut] == "*":
            prefixes.append(pattern[:cut])
        else:
            globs.append((pattern[:cut], pattern))
    starts = tuple(prefixes)

    def denied(name: str) -> bool:
        return (
            name in exact
            or name.startswith(starts)
            or any(name.startswith(lit) and fnmatch.fnmatchcase(name, p) for lit, p in globs)
        )

    return {k: v for k, v in env.items() if not denied(k)}


#: the thread counts of OpenMP, the BLAS libraries and numexpr, set from a run's ``cpus``
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def program_environment(
    base: Mapping[str, str], run_dir: Path, record: RunRecord, env_path: Path
) -> dict[str, str]:
    """The program's environment: what the program may inherit from ``base``, plus the
    oSparc variables of the run in ``run_dir``, its environment's ``PATH`` and the run's
    marker. In the flat layout ``INPUT_1`` .. ``INPUT_5`` all name ``INPUT_FOLDER``, where the
    project and every input are."""
    from .models import INPUT_PORTS, OUTPUT_PORTS
    from .process_tree import MARKER_VAR

    env = host_environment(Role.PROGRAM, record.spec.env_deny, base)
    inputs, outputs = run_dir / "inputs", run_dir / "outputs"
    env.update(
        INPUT_FOLDER=str(inputs),
        OUTPUT_FOLDER=str(outputs),
        LOG_FOLDER=str(run_dir / "logs"),
        PYTHONUNBUFFERED="1",
        VIRTUAL_ENV=str(env_path),
        PATH=os.pathsep.join([str(env_path / "bin"), base.get("PATH", os.defpath)]),
    )
    flat = record.spec.layout == "flat"  # every port is the one input folder, as oSparc 1.0.0
    for port in range(1, INPUT_PORTS + 1):
        env[f"INPUT_{port}"] = str(inputs if flat else inputs / f"input_{port}")
    for port in range(1, OUTPUT_PORTS + 1):
        env[f"OUTPUT_{port}"] = str(outputs / f"output_{port}")
    env[MARKER_VAR] = record.id
    if record.spec.cpus:  # numerical libraries start one thread per CPU they see otherwise
        threads = str(max(1, int(record.spec.cpus)))
        env.update(dict.fromkeys(THREAD_VARIABLES, threads))
    params = getattr(record, "params", None)
    if params is not None:  # one combination of a sweep (``sweeps.py``), as JSON
        import json

        env["PYRUNNER_PARAMS"] = json.dumps(params)
    return env
