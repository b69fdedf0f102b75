"""The REST body takes the input layout; the engine checks its value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_pyrunner import RunStore

FLAT = {
    "input_script_1.py": """
        import os
        from pathlib import Path
        folder = Path(os.environ["INPUT_FOLDER"])
        print(sorted(p.name for p in folder.iterdir()), os.environ["INPUT_2"] == str(folder))
    """,
    "requirements.txt": "",
}


async def test_a_run_asked_for_with_the_flat_layout(api, contents, jp_root_dir: Path) -> None:
    contents("legacy", FLAT)
    (jp_root_dir / "input.json").write_text("{}")
    body = {"path": "legacy", "inputs": ["input.json"], "layout": "flat"}
    run = await api.json("POST", "runs", body=body)
    assert run["spec"]["layout"] == "flat"
    final = await api.wait(run["id"])
    assert final["status"] == "succeeded", final
    log = await api.json("GET", "runs", run["id"], "log", params={"offset": 0})
    assert "['input.json', 'input_script_1.py', 'requirements.txt'] True\n" in log["text"]


async def test_an_unknown_layout_is_a_400_naming_the_accepted_ones(
    api, contents, home: Path
) -> None:
    contents("legacy", FLAT)
    with pytest.raises(HTTPClientError) as caught:
        await api.json("POST", "runs", body={"path": "legacy", "layout": "tree"})
    assert caught.value.code == 400
    assert caught.value.response is not None
    message = json.loads(caught.value.response.body)["message"]
    assert message == "the input layout (layout) must be 'ports' or 'flat', not 'tree'"
    assert RunStore(home).count() == 0


async def refused_with(api, body: dict[str, object]) -> str:
    """POST /runs expecting a 400; its message."""
    with pytest.raises(HTTPClientError) as caught:
        await api.json("POST", "runs", body=body)
    assert caught.value.code == 400, caught.value
    assert caught.value.response is not None
    return str(json.loads(caught.value.response.body)["message"])


async def test_the_whole_contents_root_as_a_project_is_refused_past_the_folder_cap(
    api, contents, jp_root_dir: Path, home: Path
) -> None:
    """``{"path": "/"}`` names the whole root: a sparse 3 GiB file there would be copied whole."""
    contents("legacy", FLAT)
    with open(jp_root_dir / "disk.img", "wb") as f:
        f.truncate(3 * 1024**3)
    message = await refused_with(api, {"path": "/"})
    assert message == (
        f"the folder '{jp_root_dir.name}' holds more than 2.0 GiB, the most a folder given as the "
        "project may bring: give a folder holding only what the program needs, or a zip of it"
    )
    assert str(jp_root_dir) not in message
    assert RunStore(home).count() == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"args": ["a\0b"]}, "an argument for the program cannot contain a NUL character"),
        ({"memory_mb": 10**30}, "the memory limit (memory_mb) must be at most"),
        ({"args": ["x" * 100_000] * 42}, "the program's arguments take 4200378 bytes"),
        ({"timeout": 1e308}, "the time limit (timeout) must be at most"),
        ({"entry": "e" * 5000}, "the entry point (entry) is 5,000 bytes long"),
    ],
)
async def test_absurd_options_are_a_400_before_any_run_exists(
    api, contents, home: Path, changes: dict[str, object], expected: str
) -> None:
    contents("legacy", FLAT)
    message = await refused_with(api, {"path": "legacy", **changes})
    assert expected in message
    assert RunStore(home).count() == 0
