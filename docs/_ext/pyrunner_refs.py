"""Resolve our own names in signatures to the objects the reference documents.

Annotations name a type as its module imports it: ``RunHandle``, ``OutputFile``,
``jupyter_pyrunner.handle.RunHandle``; the reference documents it once, under the name users
import it by (``jupyter_pyrunner.RunHandle``) or under its module (``jupyter_pyrunner.outputs
.OutputFile``). A Python reference that Sphinx cannot resolve, whose target is a bare name or
a ``jupyter_pyrunner.`` path, is resolved here to the one documented object of the package
with the same last name. No match, or more than one, leaves it unresolved: the build fails
on it under ``-n -W``, as it should.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.nodes import make_refnode

PACKAGE = "jupyter_pyrunner"


def resolve_own_name(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if "." in target and not target.startswith(f"{PACKAGE}."):
        return None
    last = target.rsplit(".", 1)[-1]
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    matches = {
        name: entry
        for name, entry in objects.items()
        if name.startswith(f"{PACKAGE}.")
        and name.rsplit(".", 1)[-1] == last
        and not getattr(entry, "aliased", False)
        and entry.objtype in ("class", "exception", "function", "data")
    }
    if len(matches) != 1:
        return None
    name, entry = next(iter(matches.items()))
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_own_name)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
