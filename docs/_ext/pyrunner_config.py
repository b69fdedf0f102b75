"""``.. pyrunner-config::``: every configurable option of the package, read from its classes.

The directive walks ``jupyter_pyrunner`` (every module but ``__main__`` ones), gathers each
``traitlets`` ``Configurable`` subclass defined there, and writes one ``confval`` per trait
marked ``config=True``: its name as a configuration file spells it, its type, its default and
its help. A class's own options come first; those it inherits (from Jupyter Server's
``ExtensionApp``, say) follow in a table of their own. A module that cannot be imported is a
warning, so a build with ``-W`` fails rather than leave its options out.

``:option:`` names an option elsewhere: ``{confval}`PyRunnerApp.max_concurrent_runs```.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from pyrunner_text import paragraphs
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PACKAGE = "jupyter_pyrunner"


def configurable_classes(package: str = PACKAGE) -> tuple[list[type], list[str]]:
    """The ``Configurable`` subclasses defined in ``package``, by module then by name, and the
    modules that could not be imported (with their error)."""
    from traitlets.config import Configurable

    root = importlib.import_module(package)
    found: dict[str, type] = {}
    failures: list[str] = []
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is its whole purpose
        try:
            module = importlib.import_module(info.name)
        except Exception as error:
            failures.append(f"{info.name}: {error!r}")
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Configurable)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)], failures


def _type_name(trait: Any) -> str:
    """``Int``, ``List(Unicode)``, ``Dict(Float)``, ``Type(Executor)``..."""
    name = type(trait).__name__
    inner = getattr(trait, "_trait", None) or getattr(trait, "_value_trait", None)
    if inner is not None:
        name = f"{name}({type(inner).__name__})"
    klass = getattr(trait, "klass", None)
    if name == "Type" and isinstance(klass, type):
        name = f"Type({klass.__name__})"
    if getattr(trait, "allow_none", False):
        name += " or None"
    return name


def _default(cls: type, name: str, trait: Any) -> str:
    """The default as the class declares it; one computed when an instance is made (with
    ``@default``) is said to be, since the value seen here is this machine's."""
    from traitlets.traitlets import DefaultHandler

    for klass in cls.__mro__:
        generator = getattr(klass, "_trait_default_generators", {}).get(name)
        if isinstance(generator, DefaultHandler):
            return "computed at start (see below)"
        if generator is not None:
            break
    try:
        return str(trait.default_value_repr())
    except Exception:
        return "computed at start"


def _literal(text: str) -> str:
    """``text`` as an inline literal of reStructuredText."""
    if "`" in text:
        return text.replace("\\", "\\\\").replace("`", "\\`")
    return f"``{text}``"


class PyRunnerConfig(SphinxDirective):
    """Write the options of every configurable class of the package."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        classes, failures = configurable_classes()
        for failure in failures:
            logger.warning(
                "pyrunner-config: cannot import %s", failure, location=self.get_location()
            )
        result: list[nodes.Node] = []
        for cls in classes:
            own = sorted(cls.class_own_traits(config=True))
            inherited = sorted(set(cls.class_traits(config=True)) - set(own))
            if not own and not inherited:
                continue
            result.extend(self._section(cls, own, inherited))
        return result

    def _section(self, cls: type, own: list[str], inherited: list[str]) -> list[nodes.Node]:
        path = f"{cls.__module__}.{cls.__qualname__}"
        section = nodes.section(ids=[nodes.make_id(f"config-{cls.__name__}")])
        section += nodes.title(text=cls.__name__)
        intro = nodes.paragraph()
        intro += nodes.Text("Defined in ")
        intro += nodes.literal(text=path)
        intro += nodes.Text(". In a configuration file: ")
        intro += nodes.literal(text=f"c.{cls.__name__}.NAME = VALUE")
        intro += nodes.Text("; on the command line: ")
        intro += nodes.literal(text=f"--{cls.__name__}.NAME=VALUE")
        intro += nodes.Text(".")
        section += intro
        doc = (cls.__doc__ or "").strip()
        if doc:
            section += nodes.paragraph(text=" ".join(doc.split()))
        traits = cls.class_traits(config=True)
        for name in own:
            section += self._confval(cls, name, traits[name], True)
        if inherited:
            owners = sorted(
                {next(k.__name__ for k in cls.__mro__ if name in k.__dict__) for name in inherited}
            )
            sub = nodes.section(ids=[nodes.make_id(f"config-{cls.__name__}-inherited")])
            sub += nodes.title(text=f"{cls.__name__}: inherited options")
            sub += nodes.paragraph(
                text=f"These come with its base classes ({', '.join(owners)}) and work as "
                "Jupyter Server documents them; the first line of each one's help is shown."
            )
            for name in inherited:
                sub += self._confval(cls, name, traits[name], False)
            section += sub
        return [section]

    def _confval(self, cls: type, name: str, trait: Any, own: bool) -> list[nodes.Node]:
        lines = StringList()
        source = self.get_source_info()[0]
        for line in (
            f".. confval:: {cls.__name__}.{name}",
            f"   :type: {_literal(_type_name(trait))}",
            f"   :default: {_literal(_default(cls, name, trait))}",
            "",
            "   (help)",
        ):
            lines.append(line, source)
        holder = nodes.container()
        self.state.nested_parse(lines, self.content_offset, holder)
        help_text = (trait.help or "").strip() or "(no help given)"
        # of an inherited option, the first block: the rest is the base class's to document
        shown = paragraphs(help_text, None if own else 1)
        for placeholder in list(holder.findall(nodes.paragraph)):
            if placeholder.astext() == "(help)":
                placeholder.replace_self(shown)
        return list(holder.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("pyrunner-config", PyRunnerConfig)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
