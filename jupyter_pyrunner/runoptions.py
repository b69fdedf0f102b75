"""The run options of the command line and the ``%pyrunner`` magic: defined once, here.

Both faces parse words with ``argparse``: :func:`add_run_options` declares the options a run
takes, :func:`spec_from_options` turns what was parsed into a ``RunSpec`` (which the engine
validates: range checks and their messages are not the parser's job), and
:func:`split_program_args` cuts the words at ``--``.
"""

from __future__ import annotations

import argparse

from .models import RunSpec

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def split_program_args(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """``words`` cut at the first ``--``: (pyrunner's own, the program's)."""
    words = list(words)
    if "--" not in words:
        return words, []
    cut = words.index("--")
    return words[:cut], words[cut + 1 :]


def number(
    kind: type[float] | type[int], *, minimum: float | None = None, zero_allowed: bool = False
) -> Callable[[str], float | int]:
    """An argparse type: a number of ``kind``; with ``minimum`` (0 only), more than 0 (or at
    least 0 when ``zero_allowed``). The run options leave ranges to the engine."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"'{text}' is not {noun}") from None
        if minimum is not None and (value < minimum or (value == minimum and not zero_allowed)):
            bound = "cannot be negative" if zero_allowed else "must be more than 0"
            raise argparse.ArgumentTypeError(f"{bound}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of a run (not its source, nor the face's own options)."""
    parser.add_argument("--entry", metavar="PATH", help="entry point inside the project")
    parser.add_argument(
        "--input",
        metavar="PATH",
        action="append",
        default=[],
        dest="inputs",
        help="a file, folder or zip for the next input port (input_2..input_5)",
    )
    parser.add_argument("--output-dir", metavar="DIR", help="copy the outputs here afterwards")
    parser.add_argument(
        "--timeout", metavar="S", type=number(float), help="stop the program after S seconds"
    )
    parser.add_argument(
        "--memory", metavar="MB", type=number(int), help="memory limit of the program, in MB"
    )
    parser.add_argument(
        "--cpus",
        metavar="N",
        type=number(float),
        help="CPUs the program needs: numerical libraries use N threads; on Dask, a worker "
        "with N to spare runs it",
    )
    parser.add_argument(
        "--resource",
        metavar="NAME=AMOUNT",
        action="append",
        type=resource_amount,
        dest="resources",
        help="a Dask worker resource the run needs, such as GPU=1; may be repeated",
    )
    parser.add_argument("--python", metavar="PATH", help="interpreter for the environment")
    parser.add_argument(
        "--requirements",
        metavar="REQS",
        action="append",
        help="install these (space-separated, e.g. 'numpy>=1.26 pandas') instead of the "
        "project's own requirements; may be repeated",
    )
    parser.add_argument(
        "--no-infer",
        action="store_true",
        help="without requirements, run in a bare environment (no guessing from imports)",
    )
    parser.add_argument(
        "--system-site-packages",
        action="store_true",
        help="let the program see the host interpreter's packages",
    )
    parser.add_argument(
        "--layout",
        metavar="ports|flat",
        default="ports",
        help="where the project and inputs go: input_1..input_5 (ports, the default) or all "
        "directly in INPUT_FOLDER (flat, as oSparc services of integration version 1.0.0)",
    )
    add_dask_option(parser)


def resource_amount(text: str) -> tuple[str, float]:
    """``NAME=AMOUNT`` of ``--resource``: (name, amount); the spec checks the name."""
    name, sep, amount = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"give NAME=AMOUNT, such as GPU=1, not '{text}'")
    return name.strip(), number(float)(amount.strip())


#: the environment variable naming the Dask scheduler when ``--dask`` is not given
DASK_SCHEDULER_VAR = "PYRUNNER_DASK_SCHEDULER"


def add_dask_option(parser: argparse.ArgumentParser) -> None:
    """``--dask ADDRESS``: where the run executes (a face that declares its own keeps it)."""
    import contextlib

    with contextlib.suppress(argparse.ArgumentError):  # declared already by the face
        parser.add_argument(
            "--dask",
            metavar="ADDRESS",
            help="run on the Dask cluster whose scheduler is at ADDRESS ('local': a "
            f"LocalCluster started here); default: ${DASK_SCHEDULER_VAR}",
        )


def dask_address(ns: argparse.Namespace) -> str | None:
    """The scheduler a run goes to: ``--dask``, else ``$PYRUNNER_DASK_SCHEDULER``; None: here."""
    import os

    return getattr(ns, "dask", None) or os.environ.get(DASK_SCHEDULER_VAR) or None


def spec_from_options(source: str, ns: argparse.Namespace, program_args: list[str]) -> RunSpec:
    """The ``RunSpec`` of what :func:`add_run_options` parsed."""
    return RunSpec(
        source=source,
        entry=ns.entry,
        inputs=list(ns.inputs),
        args=program_args,
        timeout=ns.timeout,
        memory_mb=ns.memory,
        cpus=ns.cpus,
        resources=dict(ns.resources) if ns.resources else None,
        python=ns.python,
        infer_requirements=not ns.no_infer,
        system_site_packages=ns.system_site_packages,
        output_dir=ns.output_dir,
        layout=ns.layout,
        requirements=None
        if ns.requirements is None
        else [word for given in ns.requirements for word in given.split()],
    )
