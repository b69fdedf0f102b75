"""Project intake: entry point discovery and requirements precedence."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.project import (
    IGNORED_DIRS,
    find_entry_point,
    is_ignored,
    iter_project_files,
    resolve_project,
)


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


P = PurePosixPath


# --------------------------------------------------------------------------- ignoring


def test_is_ignored_rules() -> None:
    assert "__MACOSX" in IGNORED_DIRS
    assert is_ignored(P("__MACOSX/main.py"))
    assert is_ignored(P(".venv/lib/x.py"))
    assert is_ignored(P("a/.git/hooks/x.py"))
    assert is_ignored(P("venv/x.py"))
    assert is_ignored(P("lib/site-packages/x.py"))
    assert is_ignored(P("__pycache__/m.cpython-311.pyc"))
    assert is_ignored(P("m.pyc"))
    assert is_ignored(P("._main.py"))
    assert is_ignored(P(".ipynb_checkpoints/x.py"))
    assert not is_ignored(P("main.py"))
    assert not is_ignored(P("pkg/sub/mod.py"))
    assert not is_ignored(P(".env"))  # hidden files are kept, hidden folders are not


def test_iter_project_files_prunes_and_sorts(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "b.py": "",
            "a/z.txt": "",
            "a/b/c.py": "",
            "__MACOSX/main.py": "",
            ".git/config": "",
            "venv/lib/x.py": "",
            "._a.py": "",
        },
    )
    (tmp_path / "outside").mkdir()
    make(tmp_path / "outside", {"o.py": ""})
    (tmp_path / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    files = list(iter_project_files(tmp_path))
    assert files == sorted(files)
    assert P("linked/o.py") not in files
    assert set(files) == {P("b.py"), P("a/z.txt"), P("a/b/c.py"), P("outside/o.py")}


# --------------------------------------------------------------------------- entry point


def test_single_script_in_wrapper_folder(tmp_path: Path) -> None:
    make(tmp_path, {"myproj/analysis.py": "print(1)\n", "myproj/data.csv": "x\n"})
    project = resolve_project(tmp_path, infer=False)
    assert project.entry == P("myproj/analysis.py")
    assert project.workdir == P("myproj")
    assert project.python_files == 1
    assert project.root == tmp_path


def test_several_files_one_main(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "", "helpers.py": "", "pkg/__init__.py": "", "pkg/a.py": ""})
    assert find_entry_point(tmp_path) == P("main.py")
    project = resolve_project(tmp_path, infer=False)
    assert project.workdir == P(".")
    assert project.python_files == 4


def test_shallowest_main_wins(tmp_path: Path) -> None:
    make(tmp_path, {"proj/main.py": "", "proj/sub/main.py": "", "proj/x/y/main.py": ""})
    assert find_entry_point(tmp_path) == P("proj/main.py")


def test_two_mains_at_same_depth(tmp_path: Path) -> None:
    make(tmp_path, {"a/main.py": "", "b/main.py": "", "c/d/main.py": ""})
    with pytest.raises(ProjectError) as err:
        find_entry_point(tmp_path)
    message = str(err.value)
    assert "a/main.py" in message and "b/main.py" in message
    assert "c/d/main.py" not in message
    assert "--entry PATH" in message


def test_no_main_lists_candidates(tmp_path: Path) -> None:
    make(tmp_path, {"one.py": "", "two.py": ""})
    with pytest.raises(ProjectError) as err:
        find_entry_point(tmp_path)
    message = str(err.value)
    assert "one.py" in message and "two.py" in message
    assert "main.py" in message and "--entry" in message


def test_no_main_long_list_is_truncated(tmp_path: Path) -> None:
    make(tmp_path, {f"m{i:02d}.py": "" for i in range(15)})
    with pytest.raises(ProjectError, match="and 5 more"):
        find_entry_point(tmp_path)


def test_no_python_file(tmp_path: Path) -> None:
    make(tmp_path, {"README.md": "", "__MACOSX/main.py": ""})
    with pytest.raises(ProjectError, match="no Python file found"):
        find_entry_point(tmp_path)


def test_ignored_dirs_never_count(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "__MACOSX/main.py": "",
            ".venv/lib/x.py": "",
            "venv/bin/activate_this.py": "",
            "site-packages/pkg/main.py": "",
            "__pycache__/main.py": "",
            "._main.py": "",
            ".git/hooks/main.py": "",
            "tool.py": "",
        },
    )
    project = resolve_project(tmp_path, infer=False)
    assert project.entry == P("tool.py")
    assert project.python_files == 1


def test_explicit_entry(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "", "tools/run.py": "", "notes.txt": ""})
    assert find_entry_point(tmp_path, "tools/run.py") == P("tools/run.py")
    assert find_entry_point(tmp_path, "./tools/run.py") == P("tools/run.py")
    project = resolve_project(tmp_path, entry="tools/run.py", infer=False)
    assert project.workdir == P("tools")
    with pytest.raises(ProjectError) as err:
        find_entry_point(tmp_path, "nope.py")
    assert "'nope.py' not found" in str(err.value)
    assert "main.py" in str(err.value) and "tools/run.py" in str(err.value)
    with pytest.raises(ProjectError, match=r"not a Python \(\.py\) file"):
        find_entry_point(tmp_path, "notes.txt")
    with pytest.raises(ProjectError, match="not found"):
        find_entry_point(tmp_path, "tools")


def test_explicit_entry_relative_to_single_top_folder(tmp_path: Path) -> None:
    make(tmp_path, {"myproj/main.py": "", "myproj/tools/run.py": "", "__MACOSX/x": ""})
    assert find_entry_point(tmp_path, "tools/run.py") == P("myproj/tools/run.py")
    assert find_entry_point(tmp_path, "myproj/main.py") == P("myproj/main.py")


@pytest.mark.parametrize("entry", ["../outside.py", "/etc/outside.py", "a/../../outside.py"])
def test_entry_escaping_root(tmp_path: Path, entry: str) -> None:
    root = make(tmp_path / "proj", {"main.py": "", "a/x.py": ""})
    make(tmp_path, {"outside.py": ""})
    with pytest.raises(ProjectError, match="relative to the project folder"):
        find_entry_point(root, entry)


def test_entry_symlink_escaping_root(tmp_path: Path) -> None:
    root = make(tmp_path / "proj", {"main.py": ""})
    make(tmp_path, {"outside.py": ""})
    (root / "evil.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(ProjectError, match="outside the project"):
        find_entry_point(root, "evil.py")
    # Nor does an escaping symlink count when searching.
    assert resolve_project(root, infer=False).python_files == 1


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not found"):
        resolve_project(tmp_path / "missing")


# --------------------------------------------------------------------------- requirements


SCRIPT = """\
# /// script
# dependencies = ["rich>=13"]
# ///
import rich
"""


def test_precedence_script_metadata_first(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": SCRIPT, "requirements.txt": "numpy\n"})
    reqs = resolve_project(tmp_path).requirements
    assert (reqs.lines, reqs.source, reqs.path) == (("rich>=13",), "script metadata", "main.py")


def test_precedence_requirements_beside_entry(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "app/main.py": "import numpy\n",
            "app/requirements.txt": "numpy==1.26  # pinned\n",
            "app/pyproject.toml": '[project]\nname = "x"\ndependencies = ["scipy"]\n',
            "requirements.txt": "pandas\n",
        },
    )
    reqs = resolve_project(tmp_path).requirements
    assert (reqs.lines, reqs.source, reqs.path) == (
        ("numpy==1.26",),
        "requirements.txt",
        "app/requirements.txt",
    )


def test_precedence_pyproject_beside_entry(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "app/main.py": "",
            "app/pyproject.toml": '[project]\nname = "x"\ndependencies = ["scipy>=1"]\n',
            "requirements.txt": "pandas\n",
        },
    )
    reqs = resolve_project(tmp_path).requirements
    assert (reqs.lines, reqs.source, reqs.path) == (
        ("scipy>=1",),
        "pyproject.toml",
        "app/pyproject.toml",
    )


def test_precedence_unique_requirements_elsewhere(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/main.py": "",
            "src/pyproject.toml": "[tool.black]\nline-length = 100\n",  # no dependencies
            "requirements.txt": "pandas\n",
            ".venv/requirements.txt": "ignored\n",
        },
    )
    reqs = resolve_project(tmp_path).requirements
    assert (reqs.lines, reqs.source, reqs.path) == (
        ("pandas",),
        "requirements.txt",
        "requirements.txt",
    )


def test_several_requirements_elsewhere_is_an_error(tmp_path: Path) -> None:
    make(
        tmp_path,
        {"src/main.py": "", "a/requirements.txt": "x\n", "b/requirements.txt": "y\n"},
    )
    with pytest.raises(ProjectError) as err:
        resolve_project(tmp_path)
    message = str(err.value)
    assert "a/requirements.txt" in message and "b/requirements.txt" in message
    assert "'src'" in message


def test_empty_requirements_means_no_inference(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "import numpy\n", "requirements.txt": "# nothing\n\n"})
    reqs = resolve_project(tmp_path).requirements
    assert (reqs.lines, reqs.source) == ((), "requirements.txt")


def test_inferred_and_none(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "import os\nimport numpy\nimport helpers\n", "helpers.py": ""})
    reqs = resolve_project(tmp_path, cache_dir=tmp_path / "cache").requirements
    assert (reqs.lines, reqs.source, reqs.path) == (("numpy",), "inferred", None)
    none = resolve_project(tmp_path, infer=False).requirements
    assert (none.lines, none.source, none.path) == ((), "none", None)


def test_requirements_to_dict(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "", "requirements.txt": "Numpy  >= 1\nnumpy>=1\n"})
    reqs = resolve_project(tmp_path).requirements
    assert reqs.to_dict() == {
        "lines": ["Numpy  >= 1", "numpy>=1"],
        "source": "requirements.txt",
        "path": "requirements.txt",
    }
    assert reqs.normalized() == ("numpy >= 1", "numpy>=1")


def test_relative_root_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, {"proj/main.py": "", "proj/lib.py": ""})
    monkeypatch.chdir(tmp_path)
    project = resolve_project(Path("proj"), infer=False)
    assert project.entry == P("main.py")
    assert os.fspath(project.root) == "proj"


# --------------------------------------------------------------------------- the project itself

SRC_PYPROJECT = """\
[project]
name = "wordstats"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["tabulate>=0.9"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""


def test_a_root_pyproject_serves_an_entry_in_a_subfolder(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "pyproject.toml": SRC_PYPROJECT,
            "src/wordstats/__init__.py": "",
            "scripts/main.py": "import tabulate, wordstats\n",
        },
    )
    project = resolve_project(tmp_path, cache_dir=tmp_path / "cache")
    assert project.entry == P("scripts/main.py")
    reqs = project.requirements
    assert (reqs.lines, reqs.source, reqs.path) == (
        ("tabulate>=0.9",),
        "pyproject.toml",
        "pyproject.toml",
    )
    assert project.install == "." and project.requires_python == ">=3.9"


def test_the_nearest_declaration_wins_and_the_project_is_still_installed(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "pyproject.toml": SRC_PYPROJECT,
            "requirements.txt": "pandas\n",
            "src/wordstats/__init__.py": "",
            "tools/run/main.py": "",
            "tools/requirements.txt": "numpy\n",
            "docs/requirements.txt": "sphinx\n",
        },
    )
    project = resolve_project(tmp_path)
    assert project.requirements.lines == ("numpy",)
    assert project.requirements.path == "tools/requirements.txt"
    assert project.install == "." and project.requires_python == ">=3.9"


def test_a_pyproject_of_tool_settings_is_not_a_project(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": "[tool.black]\n", "app/main.py": "", "requirements.txt": ""})
    project = resolve_project(tmp_path)
    assert project.install is None and project.requires_python is None


def test_a_project_without_build_system_is_not_installed_as_with_uv(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\ndependencies = []\n',
            "main.py": "",
        },
    )
    project = resolve_project(tmp_path)
    assert project.install is None and project.requires_python == ">=3.10"
    assert project.requirements.source == "pyproject.toml"


def test_dash_e_dot_means_install_the_project_not_a_path_of_this_run(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "requirements.txt": "-e .\nnumpy\n-e ./vendor/helper\n",
            "setup.py": "",
            "vendor/helper/pyproject.toml": "",
            "app/main.py": "",
        },
    )
    project = resolve_project(tmp_path)
    helper = (tmp_path / "vendor" / "helper").resolve()
    assert project.requirements.lines == ("numpy", str(helper))  # installed, not linked
    assert project.install == "."


def test_a_script_with_metadata_stands_alone(tmp_path: Path) -> None:
    script = '# /// script\n# requires-python = ">=3.12"\n# dependencies = ["rich"]\n# ///\n'
    make(tmp_path, {"pyproject.toml": SRC_PYPROJECT, "scripts/main.py": script})
    project = resolve_project(tmp_path)
    assert project.requirements.lines == ("rich",)
    assert project.requires_python == ">=3.12" and project.install is None


def test_a_poetry_project_is_read(tmp_path: Path) -> None:
    pyproject = (
        '[tool.poetry]\nname = "a"\nversion = "1"\n[tool.poetry.dependencies]\n'
        'python = "^3.10"\nnumpy = "^1.26"\n'
    )
    make(tmp_path, {"pyproject.toml": pyproject, "main.py": ""})
    project = resolve_project(tmp_path)
    assert project.requirements.lines == ("numpy>=1.26,<2.0",)
    assert project.requirements.source == "pyproject.toml"
    assert project.requires_python == ">=3.10,<4.0" and project.install is None


def test_a_file_that_cannot_be_read_is_never_taken_for_no_requirements(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": '# /// script\n# dependencies = ["numpy"]\nimport numpy\n'})
    with pytest.raises(ProjectError, match=r"'main\.py', line 1"):
        resolve_project(tmp_path)
    make(tmp_path / "b", {"main.py": "", "requirements.txt": "numpy==\n"})
    with pytest.raises(ProjectError, match="line 1: 'numpy==' is not a requirement"):
        resolve_project(tmp_path / "b")
    make(tmp_path / "c", {"main.py": "", "pyproject.toml": '[project]\nrequires-python = "3.x"\n'})
    with pytest.raises(ProjectError, match="requires-python"):
        resolve_project(tmp_path / "c")
