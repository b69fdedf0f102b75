"""Declared requirements: requirements files, PEP 723 metadata, pyproject."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.pyproject import PyProject, read_pyproject
from jupyter_pyrunner.requirements import (
    Requirements,
    ScriptMetadata,
    absolute_local_paths,
    local_path_of,
    read_pyproject_dependencies,
    read_requirements_file,
    read_script_block,
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


# --------------------------------------------------------------------------- what cannot be read


def test_a_line_that_is_not_a_requirement_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    make(tmp_path, {"requirements.txt": "numpy\n# two on a line:\n\nscipy pandas\n"})
    with pytest.raises(ProjectError) as info:
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)
    assert "'requirements.txt', line 4: 'scipy pandas' is not a requirement" in str(info.value)
    make(tmp_path, {"sub/more.txt": "numpy = 1.2\n", "r.txt": "-r sub/more.txt\n"})
    with pytest.raises(ProjectError, match=r"'sub/more\.txt', line 1: 'numpy = 1\.2'"):
        read_requirements_file(tmp_path / "r.txt", tmp_path)


def test_every_form_an_installer_takes_is_still_a_requirement(tmp_path: Path) -> None:
    text = (
        "black[jupyter]\n"
        "numpy >= 1.26 , < 3\n"
        "scipy (>=1.10)\n"
        "torch==2.3.0+cpu\n"
        'pandas==2.*; python_version >= "3.10" and sys_platform != "win32"\n'
        "attrs==23.1.0 --hash=sha256:abc --hash=sha256:def\n"
        "pkg @ https://example.org/pkg-1.0.tar.gz\n"
        "https://example.org/other-1.0-py3-none-any.whl\n"
        "git+https://example.org/repo.git@v1#egg=repo\n"
        "zope.interface\n"
    )
    make(tmp_path, {"requirements.txt": text})
    lines = read_requirements_file(tmp_path / "requirements.txt", tmp_path)
    assert len(lines) == 10


def test_an_unclosed_script_block_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    unclosed = make(tmp_path, {"a.py": 'import os\n# /// script\n# dependencies = ["rich"]\n'})
    with pytest.raises(ProjectError, match=r"'a\.py', line 2: the '# /// script' block"):
        read_script_block(unclosed / "a.py")
    broken = '# /// script\n# dependencies = [\n\n#   "rich",\n# ]\n# ///\n'
    make(tmp_path, {"b.py": broken})
    with pytest.raises(ProjectError, match="line 1"):
        read_script_block(tmp_path / "b.py")


def test_a_toml_error_in_a_script_block_names_the_scripts_line(tmp_path: Path) -> None:
    make(tmp_path, {"c.py": '"""Doc."""\n\n# /// script\n# dependencies = ["x"]\n# oops\n# ///\n'})
    with pytest.raises(ProjectError, match="line 5"):
        read_script_block(tmp_path / "c.py")


def test_a_script_block_says_which_pythons_it_accepts(tmp_path: Path) -> None:
    make(
        tmp_path,
        {"s.py": '# /// script\n# requires-python = ">=3.13"\n# dependencies = []\n# ///\n'},
    )
    assert read_script_block(tmp_path / "s.py") == ScriptMetadata([], ">=3.13")
    make(tmp_path, {"e.py": "# /// script\n# ///\n"})
    assert read_script_block(tmp_path / "e.py") == ScriptMetadata([])
    make(tmp_path, {"x.py": '# /// script\n# requires-python = "3.1O"\n# ///\n'})
    with pytest.raises(ProjectError, match=r"'requires-python' in 'x\.py' '3\.1O'"):
        read_script_block(tmp_path / "x.py")


# --------------------------------------------------------------------------- local paths


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("/p/pkg", "/p/pkg"),
        ("-e /p/pkg", "/p/pkg"),
        ("--editable=/p/pkg", "/p/pkg"),
        ("/p/pkg[dev]", "/p/pkg"),
        ("file:///p/my%20pkg", "/p/my pkg"),
        ("name @ file:///p/pkg ; python_version > '3'", "/p/pkg"),
        ("numpy>=1", None),
        ("name @ https://example.org/x.whl", None),
        ("-c /p/constraints.txt", None),
        ("git+https://example.org/r.git", None),
    ],
)
def test_local_paths_are_recognised_in_every_form(line: str, path: str | None) -> None:
    found = local_path_of(line)
    assert (str(found) if found else None) == path


# --------------------------------------------------------------------------- pyproject


def test_pyproject_tells_dependencies_python_and_whether_it_installs(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\n'
            'dependencies = ["numpy"]\n[build-system]\nrequires = ["hatchling"]\n'
            'build-backend = "hatchling.build"\n',
            "virtual/pyproject.toml": '[project]\nname = "v"\ndependencies = []\n',
            "tools/pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "off/pyproject.toml": '[project]\nname = "o"\n[build-system]\nrequires = []\n'
            "[tool.uv]\npackage = false\n",
        },
    )
    assert read_pyproject(tmp_path / "pyproject.toml") == PyProject(
        ["numpy"], ">=3.10", True, "[project]"
    )
    assert read_pyproject(tmp_path / "virtual/pyproject.toml") == PyProject(
        [], None, False, "[project]"
    )
    assert read_pyproject(tmp_path / "tools/pyproject.toml") == PyProject(None, None, False, None)
    assert not read_pyproject(tmp_path / "off/pyproject.toml").installable


POETRY = """\
[tool.poetry]
name = "analysis"
version = "0.1.0"
package-mode = true

[tool.poetry.dependencies]
python = "^3.10"
numpy = "^1.26"
pandas = {version = "~2.1", extras = ["excel"]}
rich = "*"
tomli = {version = ">=2", python = "<3.11"}
tqdm = {version = "4.66.1", markers = "sys_platform == 'linux'"}
plot = {git = "https://example.org/plot.git", tag = "v2"}
optional-thing = {version = "^1", optional = true}

[tool.poetry.group.dev.dependencies]
pytest = "^8"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""


def test_poetry_dependencies_are_read_as_pep_508(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": POETRY})
    found = read_pyproject(tmp_path / "pyproject.toml")
    assert found.table == "[tool.poetry]" and found.installable
    assert found.requires_python == ">=3.10,<4.0"
    assert found.dependencies == [
        "numpy>=1.26,<2.0",
        "pandas[excel]>=2.1,<2.2",
        "rich",
        'tomli>=2 ; python_full_version < "3.11"',
        "tqdm==4.66.1 ; (sys_platform == 'linux')",
        "plot @ git+https://example.org/plot.git@v2",
    ]
    assert read_pyproject_dependencies(tmp_path / "pyproject.toml") == found.dependencies


def test_a_poetry_constraint_that_cannot_be_read_names_the_package(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": '[tool.poetry.dependencies]\nnumpy = "latest"\n'})
    with pytest.raises(ProjectError, match=r"'numpy' in \[tool\.poetry\.dependencies\]"):
        read_pyproject(tmp_path / "pyproject.toml")


def test_a_local_path_missing_from_the_project_is_named_as_such(tmp_path: Path) -> None:
    make(tmp_path, {"requirements.txt": "dist/tool-1.0-py3-none-any.whl\n"})
    with pytest.raises(
        ProjectError, match=r"line 1: 'dist/tool-1\.0-py3-none-any\.whl' names a file"
    ):
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)


# --------------------------------------------------------------------------- paths out of the project


@pytest.mark.parametrize(
    "line",
    [
        "-e ../../..",
        "--editable=../outside",
        "../outside",
        "/",
        "{outside}",
        "-e {outside}",
        "file://{outside}",
        "lib @ file://{outside}",
        "lib@file://{outside}",
        "-e git+file://{outside}@v1#egg=lib",
        "lib @ git+file://{outside}",
        "file:../outside",
        "--find-links ../outside",
        "-f {outside}",
        "-e ./link-out",
        "./link-out[extra]",
    ],
)
def test_a_local_path_out_of_the_project_is_refused_with_its_file_and_line(
    tmp_path: Path, line: str
) -> None:
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    (outside / "pyproject.toml").write_text("")
    root = make(tmp_path / "app" / "project", {"requirements.txt": f"numpy\n{line}\n"})
    (root / "link-out").symlink_to(outside)  # a link in the project that leads out
    (root / "requirements.txt").write_text(f"numpy\n{line.format(outside=outside)}\n")
    with pytest.raises(ProjectError) as info:
        read_requirements_file(root / "requirements.txt", root)
    message = str(info.value)
    assert message.startswith("'requirements.txt', line 2: ")
    assert "leads outside the project folder" in message


def test_a_local_path_inside_the_project_is_kept_absolute_or_not(tmp_path: Path) -> None:
    root = make(tmp_path, {"lib/pyproject.toml": "", "wheels/x.whl": ""})
    inside = tmp_path.resolve() / "lib"
    (root / "requirements.txt").write_text(
        f"{inside}\n-e {inside}\nfile://{inside}\n--find-links {root / 'wheels'}\n"
    )
    assert read_requirements_file(root / "requirements.txt", root) == [
        str(inside),
        f"-e {inside}",
        f"file://{inside}",
        f"--find-links {root / 'wheels'}",
    ]


def test_a_link_loop_is_named_not_a_traceback(tmp_path: Path) -> None:
    root = make(tmp_path, {})
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    (root / "requirements.txt").write_text("-e ./loop-a\n")
    with pytest.raises(ProjectError, match=r"line 1: '-e ./loop-a' names a symbolic link that"):
        read_requirements_file(root / "requirements.txt", root)
    (root / "requirements.txt").write_text("-r loop-a\n")
    with pytest.raises(ProjectError, match="cannot read requirements file"):
        read_requirements_file(root / "requirements.txt", root)


def test_pyproject_and_script_dependencies_out_of_the_project_are_refused(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make(tmp_path / "project", {"sub/pyproject.toml": "", "lib/pyproject.toml": ""})
    sibling = absolute_local_paths(["lib @ file:../lib"], root / "sub", root)
    assert sibling == [f"lib @ {(root / 'lib').resolve().as_uri()}"]
    with pytest.raises(
        ProjectError, match=r"'sub/pyproject\.toml': 'x @ file:\.\./\.\./outside' leads"
    ):
        absolute_local_paths(["x @ file:../../outside"], root / "sub", root, "sub/pyproject.toml")
    script = root / "main.py"
    script.write_text(
        f'# /// script\n# dependencies = ["x @ {outside.as_uri()}"]\n# ///\nprint(1)\n'
    )
    assert read_script_block(script) is not None  # without the project folder: not checked
    with pytest.raises(ProjectError, match=r"the '# /// script' block of 'main.py': 'x @ file"):
        read_script_block(script, root)


@pytest.mark.parametrize(
    "line",
    [
        "-e ${HOME}/../outside",
        "lib @ ${PYRUNNER_HOME}/victim",
        "lib @ file://${OUTSIDE}",
        "lib@file://${OUTSIDE}/pkg",
        "--find-links=${HOME}/wheels",
    ],
)
def test_a_local_path_hidden_in_a_variable_is_refused(tmp_path: Path, line: str) -> None:
    """uv expands ``${NAME}`` itself, after pyrunner has looked: such a path cannot be checked."""
    root = make(tmp_path / "project", {"requirements.txt": f"numpy\n{line}\n"})
    with pytest.raises(ProjectError, match=r"line 2: .* uses an environment variable"):
        read_requirements_file(root / "requirements.txt", root)


def test_variables_in_an_index_url_and_a_file_url_host_are_handled(tmp_path: Path) -> None:
    lines = "--extra-index-url https://${TOKEN}@pypi.example/simple\npkg @ https://${T}@h/p.whl\n"
    root = make(tmp_path / "project", {"requirements.txt": lines})
    assert read_requirements_file(root / "requirements.txt", root)[0].startswith("--extra")
    (root / "requirements.txt").write_text("lib @ file://etc/passwd\n")  # the host is a path
    with pytest.raises(ProjectError, match="leads outside the project folder"):
        read_requirements_file(root / "requirements.txt", root)
