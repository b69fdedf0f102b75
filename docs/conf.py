"""Sphinx configuration of the jupyter-pyrunner documentation.

Build it with warnings as errors and every reference checked::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html

Nothing is fetched while building: no intersphinx inventory, no remote image.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package of this checkout, for autodoc

from jupyter_pyrunner import __version__  # noqa: E402

project = "jupyter-pyrunner"
author = "jupyter-pyrunner contributors"
copyright = "jupyter-pyrunner contributors"
version = release = __version__

REPOSITORY = "https://github.com/jupyter-pyrunner/jupyter-pyrunner"
BINDER = "https://mybinder.org/v2/gh/jupyter-pyrunner/jupyter-pyrunner/main"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx_copybutton",
    "pyrunner_config",  # the configuration page, from every Configurable of the package
    "pyrunner_openapi",  # the REST page, from jupyter_pyrunner/api/openapi.yaml
    "pyrunner_refs",  # our own type names in signatures, resolved to their documented objects
]

root_doc = "index"
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# `[x](usage.md#input-layouts)`: headings of levels 1 to 4 get GitHub's anchors
myst_heading_anchors = 4

# -- autodoc -------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
python_use_unqualified_type_names = True
python_maximum_signature_line_length = 90

# Types from outside this project that appear in signatures: the standard library's. There is
# no intersphinx (the build is offline), so each is named here; our own types are never in this
# list: they are documented, and pyrunner_refs resolves them.
nitpick_ignore = [
    ("py:class", name)
    for name in (
        "Path",
        "pathlib.Path",
        "os.PathLike",
        "collections.abc.Callable",
        "collections.abc.Iterator",
    )
]

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"jupyter-pyrunner {release}"
html_static_path = ["_static"]
html_css_files = ["pyrunner.css"]
html_theme_options = {
    "github_url": REPOSITORY,
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "icon_links": [
        {
            "name": "Binder",
            "url": f"{BINDER}?urlpath=lab/tree/examples/notebooks/tour.ipynb",
            "icon": "fa-solid fa-rocket",
        },
    ],
}
html_context = {
    "github_user": "jupyter-pyrunner",
    "github_repo": "jupyter-pyrunner",
    "github_version": "main",
    "doc_path": "docs",
}
html_show_sourcelink = False
# every page of the site in the left side bar, grouped by the captions of the root toctree
html_sidebars = {"**": ["globaltoc.html"]}

copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True
