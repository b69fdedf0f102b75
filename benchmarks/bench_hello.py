"""Start-up cost: ``pyrunner run`` of a hello project (cached environment) vs ``python main.py``.

python benchmarks/bench_hello.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
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
        subprocess.run(
            [*pyrunner_cmd(), "run", str(project)], check=True, **quiet
        )  # warm the cache
        python = real_python()
        results = compare(
            {
                "python main.py": lambda: timed([python, "main.py"], cwd=project, **quiet),
                "pyrunner run hello": lambda: timed(
                    [*pyrunner_cmd(), "run", str(project)], **quiet
                ),
            },
            args.repeat,
        )
    report("Hello project: pyrunner run vs python main.py", results, "python main.py", args.json)


if __name__ == "__main__":
    main()
