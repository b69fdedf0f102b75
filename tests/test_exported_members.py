"""The public API is what ``__all__`` says, and every name in it can be imported."""

from __future__ import annotations

import jupyter_pyrunner

PUBLIC = [
    "ArchiveError",
    "DaskExecutor",
    "EnvironmentBuildError",
    "EnvironmentManager",
    "Executor",
    "InvalidRunSpecError",
    "LocalExecutor",
    "ProjectError",
    "PyRunnerError",
    "RunHandle",
    "RunNotFoundError",
    "RunRecord",
    "RunResult",
    "RunSpec",
    "RunStateError",
    "RunStatus",
    "RunStore",
    "RunnerPanel",
    "SweepHandle",
    "__version__",
    "prepare_run",
    "run_project",
    "run_sweep",
    "start_run",
]


def test_all_is_pinned() -> None:
    assert sorted(jupyter_pyrunner.__all__) == sorted(PUBLIC)


def test_every_exported_name_is_importable_and_says_where_it_lives() -> None:
    for name in jupyter_pyrunner.__all__:
        member = getattr(jupyter_pyrunner, name)
        if name == "__version__":
            assert isinstance(member, str)
            continue
        assert member.__module__.startswith("jupyter_pyrunner."), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        jupyter_pyrunner.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("no AttributeError")
