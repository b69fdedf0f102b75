"""Start-up cost: ``pyrunner run`` of a hello project (cached environment) vs ``python main.py``.

Two baselines: the base interpreter (whose site-packages make its start slower), and the
cached environment's own interpreter, which is what the program really runs on and what a user
who compares with ``.venv/bin/python main.py`` measures. The project is run from its folder
and from a zip of its two files.

python benchmarks/bench_hello.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from _common import compare, pyrunner_cmd, real_python, report, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "hello"
        project.mkdir()
        (project / "main.py").write_text('print("hello")\n')
        (project / "requirements.txt").write_text("")
        env = {**os.environ, "PYRUNNER_HOME": str(Path(tmp) / "home")}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        archive = Path(tmp) / "hello.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name in ("main.py", "requirements.txt"):
                zf.write(project / name, name)
        subprocess.run(
            [*pyrunner_cmd(), "run", str(project)], check=True, **quiet
        )  # warm the cache
        listed = subprocess.run(
            [*pyrunner_cmd(), "env", "list", "--json"], check=True, capture_output=True, env=env
        )
        env_python = str(Path(json.loads(listed.stdout)[0]["path"]) / "bin" / "python")
        python = real_python()
        results = compare(
            {
                "python main.py": lambda: timed([python, "main.py"], cwd=project, **quiet),
                "environment's python main.py": lambda: timed(
                    [env_python, "main.py"], cwd=project, **quiet
                ),
                "pyrunner run hello": lambda: timed(
                    [*pyrunner_cmd(), "run", str(project)], **quiet
                ),
                "pyrunner run hello.zip": lambda: timed(
                    [*pyrunner_cmd(), "run", str(archive)], **quiet
                ),
            },
            args.repeat,
        )
    report("Hello project: pyrunner run vs python main.py", results, "python main.py", args.json)
    report(
        "The same, against the environment's own interpreter",
        results,
        "environment's python main.py",
        None,
    )


if __name__ == "__main__":
    main()
