"""Declared requirements: requirements files, PEP 723 metadata, pyproject."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.requirements import (
    Requirements,
    read_pyproject_dependencies,
    read_requirements_file,
    read_script_metadata,
)


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# --------------------------------------------------------------------------- requirements.txt


def test_includes_are_inlined(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "requirements.txt": "-r base.txt\nflask\n--requirement=sub/more.txt\n",
            "base.txt": "numpy\n",
            "sub/more.txt": "-r ../base.txt\n-rextra.txt\n",
            "sub/extra.txt": "rich\n",
        },
    )
    lines = read_requirements_file(tmp_path / "requirements.txt", tmp_path)
    assert lines == ["numpy", "flask", "rich"]


def test_include_cycle_is_read_once(tmp_path: Path) -> None:
    make(tmp_path, {"a.txt": "one\n-r b.txt\n", "b.txt": "two\n-r a.txt\n"})
    assert read_requirements_file(tmp_path / "a.txt", tmp_path) == ["one", "two"]


def test_include_escaping_root(tmp_path: Path) -> None:
    root = make(tmp_path / "proj", {"requirements.txt": "-r ../secret.txt\n"})
    make(tmp_path, {"secret.txt": "x\n"})
    with pytest.raises(ProjectError, match="outside the project"):
        read_requirements_file(root / "requirements.txt", root)


def test_include_missing(tmp_path: Path) -> None:
    make(tmp_path, {"requirements.txt": "-r nope.txt\n"})
    with pytest.raises(ProjectError, match=r"'nope\.txt' not found"):
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)


def test_comments_continuations_options(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "\n"
        "--index-url https://example.org/simple\n"
        "--extra-index-url https://example.org/extra  # mirror\n"
        "numpy \\\n"
        "    >=1.26  # inline comment\n"
        "pandas==2.*;python_version>='3.10'\n"
        "pkg @ https://example.org/pkg.whl#sha256=abc\n"
        "   \n"
    )
    make(tmp_path, {"requirements.txt": text})
    assert read_requirements_file(tmp_path / "requirements.txt", tmp_path) == [
        "--index-url https://example.org/simple",
        "--extra-index-url https://example.org/extra",
        "numpy     >=1.26",
        "pandas==2.*;python_version>='3.10'",
        "pkg @ https://example.org/pkg.whl#sha256=abc",
    ]


def test_local_paths_made_absolute(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "app/requirements.txt": (
                "./localpkg\n-e .\n-e ./localpkg[dev]\nfile:../libs/x\n"
                "mylib @ ./vendor/mylib\n--find-links ./wheels\n-c constraints.txt\n"
                "git+https://example.org/r.git\n"
            ),
            "app/constraints.txt": "numpy<2\n",
            "app/localpkg/pyproject.toml": "",
            "libs/x/pyproject.toml": "",
        },
    )
    app = tmp_path / "app"
    lines = read_requirements_file(app / "requirements.txt", tmp_path)
    real = app.resolve()
    assert lines == [
        str(real / "localpkg"),
        f"-e {real}",
        f"-e {real / 'localpkg'}[dev]",
        (real.parent / "libs" / "x").as_uri(),
        f"mylib @ {(real / 'vendor' / 'mylib').as_uri()}",
        f"--find-links {real / 'wheels'}",
        f"-c {real / 'constraints.txt'}",
        "git+https://example.org/r.git",
    ]


def test_undecodable_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"numpy\n\xff\xfe\xfa\n")
    with pytest.raises(ProjectError, match="UTF-8"):
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)


def test_normalized() -> None:
    reqs = Requirements(("Scikit_Learn  >=1", "numpy", "numpy", "-e /x"), "requirements.txt")
    assert reqs.normalized() == ("-e /x", "numpy", "scikit-learn >=1")


# --------------------------------------------------------------------------- metadata


def test_script_metadata(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(
        "#!/usr/bin/env python\n"
        "# /// script\n"
        '# requires-python = ">=3.10"\n'
        "# dependencies = [\n"
        '#   "requests<3",\n'
        '#   "rich",\n'
        "# ]\n"
        "# ///\n"
        "import requests\n",
        encoding="utf-8",
    )
    assert read_script_metadata(script) == ["requests<3", "rich"]


def test_script_metadata_absent_or_without_dependencies(tmp_path: Path) -> None:
    plain = make(tmp_path, {"a.py": "import os\n# /// other\n# x = 1\n# ///\n"}) / "a.py"
    assert read_script_metadata(plain) is None
    bare = make(tmp_path, {"b.py": '# /// script\n# requires-python = ">=3.10"\n# ///\n'}) / "b.py"
    assert read_script_metadata(bare) == []


def test_script_metadata_malformed(tmp_path: Path) -> None:
    script = make(tmp_path, {"main.py": "# /// script\n# dependencies = [\n# ///\n"}) / "main.py"
    with pytest.raises(ProjectError, match="not valid TOML"):
        read_script_metadata(script)
    wrong = make(tmp_path, {"w.py": '# /// script\n# dependencies = "numpy"\n# ///\n'}) / "w.py"
    with pytest.raises(ProjectError, match="list of strings"):
        read_script_metadata(wrong)


def test_pyproject_dependencies(tmp_path: Path) -> None:
    good = make(tmp_path, {"a/pyproject.toml": '[project]\ndependencies = ["numpy>=1"]\n'})
    assert read_pyproject_dependencies(good / "a/pyproject.toml") == ["numpy>=1"]
    none = make(tmp_path, {"b/pyproject.toml": '[project]\nname = "x"\n'})
    assert read_pyproject_dependencies(none / "b/pyproject.toml") is None
    bad = make(tmp_path, {"c/pyproject.toml": "[project\n"})
    with pytest.raises(ProjectError, match="not valid TOML"):
        read_pyproject_dependencies(bad / "c/pyproject.toml")
