"""The documentation site: a real Sphinx build of docs/, with warnings as errors.

The site is built once for the module (a few seconds) with the command CI and `make docs`
use; the pages are then read as HTML, and checked against the sources they are generated
from: the OpenAPI description and the configurable classes of the package. A second build,
of a copy with broken references, proves that the build fails on them.
"""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OPENAPI = ROOT / "jupyter_pyrunner" / "api" / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")

#: the pages the site must have, beside one per source file of docs/
PAGES = (
    "index",
    "getting-started",
    "projects",
    "osparc",
    "usage",
    "notebook",
    "lab",
    "scale-out",
    "server",
    "rest-api",
    "configuration",
    "security",
    "api",
    "architecture",
    "reliability",
    "benchmarks",
)


def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``sphinx-build -W --keep-going -n -b html SOURCE OUT``, as `make docs` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-q",
         str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


class _Text(HTMLParser):
    """The text of a page's article, and the ids of its elements."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def read_page(site: Path, name: str) -> tuple[str, set[str]]:
    """(text with whitespace collapsed, element ids) of ``name``.html."""
    parser = _Text()
    parser.feed((site / f"{name}.html").read_text(encoding="utf-8"))
    text = html.unescape("".join(parser.parts))
    for curly, straight in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(curly, straight)  # Sphinx's smart quotes
    return " ".join(text.split()), parser.ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = sphinx_build(DOCS, out)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_the_site_builds_without_a_warning_and_has_every_page(site: Path) -> None:
    sources = {
        p.relative_to(DOCS).with_suffix("").as_posix()
        for suffix in ("*.md", "*.rst")
        for p in DOCS.rglob(suffix)
        if "_build" not in p.parts and not p.name.startswith("_")
    }
    assert set(PAGES) <= sources
    for name in sorted(sources):
        assert (site / f"{name}.html").is_file(), name
    # the screenshots of the Lab panel and the widget are part of the site
    images = {p.name for p in (site / "_images").iterdir()}
    assert {"lab-panel-light.png", "lab-panel-dark.png", "runner-panel.png"} <= images


def test_every_route_of_the_openapi_description_is_on_the_rest_page(site: Path) -> None:
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    text, ids = read_page(site, "rest-api")
    operations = [
        (method.upper(), path, item[method])
        for path, item in spec["paths"].items()
        for method in METHODS
        if method in item
    ]
    assert len(operations) >= 17
    for method, path, operation in operations:
        assert f"{method} {path}" in text, f"{method} {path} is not on the page"
        summary = " ".join(operation["summary"].split())
        assert summary.replace("`", "") in text, f"the summary of {method} {path}"
    for name in spec["components"]["schemas"]:
        assert f"schema-{name.lower()}" in ids, f"schema {name}"


def configurable_options() -> dict[str, dict[str, object]]:
    """``{"PyRunnerApp": {"store_root": trait, ...}, ...}``: every ``config=True`` trait of
    every ``Configurable`` subclass defined in the package, found by walking it."""
    from traitlets.config import Configurable

    package = importlib.import_module("jupyter_pyrunner")
    found: dict[str, dict[str, object]] = {}
    for info in pkgutil.walk_packages(package.__path__, "jupyter_pyrunner."):
        if info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Configurable)
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = dict(value.class_traits(config=True))
    return found


def test_every_configurable_option_of_the_package_is_on_the_configuration_page(
    site: Path,
) -> None:
    options = configurable_options()
    assert {"PyRunnerApp", "DaskExecutor"} <= set(options)
    text, ids = read_page(site, "configuration")
    count = 0
    for cls, traits in options.items():
        for name in traits:
            assert f"confval-{cls}.{name}" in ids, f"{cls}.{name} is not on the page"
            count += 1
    assert count >= 12
    # the package's own options come with their help, as the classes give it
    from jupyter_pyrunner.server.app import PyRunnerApp
    from jupyter_pyrunner.server.daskconfig import DaskExecutor

    for cls in (PyRunnerApp, DaskExecutor):
        for name, trait in cls.class_own_traits(config=True).items():
            help_text = " ".join(trait.help.split())
            assert help_text in text, f"the help of {cls.__name__}.{name}"


def test_the_python_reference_documents_every_public_name(site: Path) -> None:
    import jupyter_pyrunner

    _, ids = read_page(site, "api")
    for name in jupyter_pyrunner.__all__:
        assert f"jupyter_pyrunner.{name}" in ids, name


def test_broken_references_fail_the_build(tmp_path: Path) -> None:
    """A link to a missing page, a missing anchor and an unknown Python name each fail it:
    -W and -n bite."""
    repo = tmp_path / "repo"
    shutil.copytree(DOCS, repo / "docs", ignore=shutil.ignore_patterns("_build"))
    (repo / "jupyter_pyrunner").symlink_to(ROOT / "jupyter_pyrunner")
    index = repo / "docs" / "index.md"
    index.write_text(
        index.read_text(encoding="utf-8")
        + "\n\nSee [the old page](no-such-page.md), [a section](usage.md#no-such-section)"
        " and {py:func}`jupyter_pyrunner.no_such_function`.\n",
        encoding="utf-8",
    )
    built = sphinx_build(repo / "docs", tmp_path / "out")
    output = built.stdout + built.stderr
    assert built.returncode != 0, output
    assert re.search(r"index\.md.*no-such-page", output), output
    assert "no-such-section" in output, output
    assert "jupyter_pyrunner.no_such_function" in output, output
    # and nothing else: the copy itself builds, the failure is theirs
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert len(warnings) == 3, output
