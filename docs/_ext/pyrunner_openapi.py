"""``.. pyrunner-openapi:: PATH``: an OpenAPI 3.1 description rendered as a reference page.

One section per tag, in the order of the description's ``tags``; in it one section per
operation, titled ``METHOD /path``, with its summary and description, its parameters, its
request body and its responses; then one section per schema of ``components.schemas`` with a
table of its properties. ``$ref`` become links within the page. Texts are read as the YAML
has them: `backticks` become code, nothing else is interpreted, so no text of the API can
break the build.

sphinxcontrib-openapi renders neither request bodies nor schemas of a 3.1 description, and
reads backticks as emphasis: hence this.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from pyrunner_text import inline, paragraphs
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(METHOD, path, operation)`` for every operation, in the order of the description."""
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found.append((method.upper(), path, item[method]))
    return found


def _schema_id(name: str) -> str:
    return nodes.make_id(f"schema-{name}")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _link(name: str) -> nodes.Node:
    reference = nodes.reference("", "", internal=True, refid=_schema_id(name))
    reference += nodes.literal(text=name)
    return reference


class Resolver:
    """Follows the description's local ``$ref`` (parameters, responses)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            target: Any = self.spec
            for part in item["$ref"].lstrip("#/").split("/"):
                target = target[part]
            item = target
        return item


def _type(schema: dict[str, Any] | None) -> list[nodes.Node]:
    """A schema in a few words: ``string or null``, ``array of Run``, ``one of: a, b``."""
    if not schema:
        return [nodes.Text("any")]
    if "$ref" in schema:
        return [_link(_ref_name(schema["$ref"]))]
    for combiner, word in (("oneOf", "one of "), ("anyOf", "any of "), ("allOf", "all of ")):
        if combiner in schema:
            result: list[nodes.Node] = [nodes.Text(word)]
            for index, part in enumerate(schema[combiner]):
                if index:
                    result.append(nodes.Text(", "))
                result.extend(_type(part))
            return result
    kinds = schema.get("type", "any")
    kinds = list(kinds) if isinstance(kinds, list) else [kinds]
    result = []
    for index, kind in enumerate(kinds):
        if index:
            result.append(nodes.Text(" or "))
        if kind == "array":
            result.append(nodes.Text("array of "))
            result.extend(_type(schema.get("items")))
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            result.append(nodes.Text("object of "))
            result.extend(_type(schema["additionalProperties"]))
        else:
            result.append(nodes.Text(str(kind)))
    return result


def _constraints(schema: dict[str, Any]) -> list[nodes.Node]:
    """Enumerations, bounds, patterns and defaults, as short code."""
    words: list[str] = []
    if "enum" in schema:
        words.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minItems", "items >="),
        ("maxItems", "items <="),
        ("minProperties", "keys >="),
        ("maxProperties", "keys <="),
    ):
        if key in schema:
            words.append(f"{sign} {schema[key]}")
    if "pattern" in schema:
        words.append(f"pattern {schema['pattern']}")
    if "default" in schema:
        words.append(f"default {json.dumps(schema['default'])}")
    result: list[nodes.Node] = []
    for word in words:
        result.extend([nodes.Text(" "), nodes.literal(text=word)])
    return result


def _table(headers: list[str], rows: list[list[list[nodes.Node]]]) -> nodes.table:
    table = nodes.table(classes=["pyrunner-api-table"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for header in headers:
        row += nodes.entry("", nodes.paragraph(text=header))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", nodes.paragraph("", "", *cell))
        body += row
    return table


def _rubric(text: str) -> nodes.rubric:
    return nodes.rubric(text=text)


class PyRunnerOpenAPI(SphinxDirective):
    """Render the OpenAPI description named by the argument (relative to this document)."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        _, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(path)
        spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        resolve = Resolver(spec)
        result: list[nodes.Node] = []
        tags = [tag["name"] for tag in spec.get("tags", [])]
        ops = operations(spec)
        for op_tag in sorted({(op.get("tags") or [""])[0] for _, _, op in ops} - set(tags)):
            tags.append(op_tag)
        for tag in tags:
            section = self._labelled(nodes.make_id(f"api-{tag or 'other'}"))
            section += nodes.title(text=(tag or "other").capitalize())
            for method, route, operation in ops:
                if (operation.get("tags") or [""])[0] == tag:
                    section += self._operation(spec, resolve, method, route, operation)
            result.append(section)
        result.append(self._schemas(spec))
        return result

    def _labelled(self, label: str) -> nodes.section:
        """A section that other pages can link to by ``label`` (``rest-api.md#label``)."""
        section = nodes.section(names=[label])
        self.state.document.note_explicit_target(section, section)
        return section

    def _operation(
        self, spec: dict[str, Any], resolve: Resolver, method: str, route: str, op: dict[str, Any]
    ) -> nodes.section:
        section = self._labelled(nodes.make_id(f"{method}-{route}"))
        section["classes"].append("pyrunner-api-operation")
        title = nodes.title()
        title += nodes.literal(text=f"{method} {route}")
        section += title
        section += paragraphs(op.get("summary"))
        section += paragraphs(op.get("description"))
        item = spec["paths"][route]
        parameters = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
        if parameters:
            section += _rubric("Parameters")
            rows = []
            for parameter in parameters:
                schema = parameter.get("schema", {})
                name: list[nodes.Node] = [nodes.literal(text=parameter["name"])]
                if parameter.get("required"):
                    name.append(nodes.Text(" (required)"))
                description = inline(" ".join((parameter.get("description") or "").split()))
                rows.append(
                    [name, [nodes.Text(parameter["in"])], _type(schema) + _constraints(schema),
                     description]
                )  # fmt: skip
            section += _table(["name", "in", "type", "description"], rows)
        body = op.get("requestBody")
        if body:
            body = resolve(body)
            section += _rubric("Request body" + (" (required)" if body.get("required") else ""))
            rows = [
                [[nodes.literal(text=kind)], _type(media.get("schema")) if media else
                 [nodes.Text("raw bytes")]]
                for kind, media in body.get("content", {}).items()
            ]  # fmt: skip
            section += _table(["content type", "body"], rows)
        section += _rubric("Responses")
        rows = []
        for status, response in op.get("responses", {}).items():
            response = resolve(response)
            content = response.get("content") or {}
            body_cell: list[nodes.Node] = []
            for index, (kind, media) in enumerate(content.items()):
                if index:
                    body_cell.append(nodes.Text("; "))
                body_cell.append(nodes.literal(text=kind))
                body_cell.append(nodes.Text(": "))
                body_cell.extend(_type(media.get("schema")) if media else [nodes.Text("raw bytes")])
            rows.append(
                [[nodes.literal(text=str(status))], inline(response.get("description", "")),
                 body_cell or [nodes.Text("none")]]
            )  # fmt: skip
        section += _table(["status", "meaning", "body"], rows)
        return section

    def _schemas(self, spec: dict[str, Any]) -> nodes.section:
        section = self._labelled("api-schemas")
        section += nodes.title(text="Schemas")
        section += nodes.paragraph(text="The JSON bodies the routes above take and give.")
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            sub = self._labelled(_schema_id(name))
            title = nodes.title()
            title += nodes.literal(text=name)
            sub += title
            sub += paragraphs(schema.get("description"))
            properties = schema.get("properties")
            if not properties:
                sub += nodes.paragraph("", "", *(_type(schema) + _constraints(schema)))
            else:
                required = set(schema.get("required", []))
                rows = []
                for prop, prop_schema in properties.items():
                    label: list[nodes.Node] = [nodes.literal(text=prop)]
                    if prop in required:
                        label.append(nodes.Text(" (required)"))
                    rows.append(
                        [label, _type(prop_schema) + _constraints(prop_schema),
                         inline(" ".join((prop_schema.get("description") or "").split()))]
                    )  # fmt: skip
                sub += _table(["field", "type", "description"], rows)
                if schema.get("additionalProperties") is False:
                    sub += nodes.paragraph(text="No other field is accepted.")
            section += sub
        return section


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("pyrunner-openapi", PyRunnerOpenAPI)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
