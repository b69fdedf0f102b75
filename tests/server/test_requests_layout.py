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
