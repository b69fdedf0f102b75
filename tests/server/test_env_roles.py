"""Runs started through the server: no secret reaches the installer, the program or the
detached supervisor, and ``PyRunnerApp.env_deny`` holds for each of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..envprobe import (
    HARMLESS,
    RUN_DENY,
    SECRETS,
    assert_no_secrets,
    installer_environment,
    make_probe_project,
    program_report,
)


@pytest.fixture
def pyrunner_config() -> dict[str, Any]:
    return {"env_deny": RUN_DENY}


async def test_the_server_keeps_secrets_from_installer_program_and_supervisor(
    api, jp_root_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**SECRETS, **HARMLESS}.items():
        monkeypatch.setenv(name, value)  # the server's own environment
    report = tmp_path / "installer-env.json"
    make_probe_project(jp_root_dir / "probe", report)
    run = await api.json("POST", "runs", body={"path": "probe"})
    final = await api.wait(run["id"], timeout=240)
    log = (await api.json("GET", "runs", run["id"], "log", params={"max_bytes": 1 << 24}))["text"]
    assert final["status"] == "succeeded", log
    found = program_report(log)
    assert_no_secrets(installer_environment(report), "the installer")
    assert_no_secrets(found["program"], "the program")
    assert "jupyter_pyrunner.supervisor" in found["parent_cmdline"]
    assert_no_secrets(found["parent"], "the detached supervisor")
