"""A self-contained HTML page listing the operations of the OpenAPI document (no scripts, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.op { margin: 1rem 0 2rem; }
.method { font-weight: bold; font-family: monospace; padding: .1rem .4rem; background: #eef; }
code { font-size: .95em; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
"""


def render_docs(spec: dict[str, Any]) -> str:
    """The HTML page: the API's description, then each tag's operations with their parameters."""
    info = spec.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(info.get('version', ''))}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>",
    ]
    for tag in spec.get("tags", []):
        parts.append(f"<h2 id='{escape(tag['name'])}'>{escape(tag['name'])}</h2>")
        if tag.get("description"):
            parts.append(f"<p>{escape(tag['description'])}</p>")
        for path, item in spec.get("paths", {}).items():
            for method, operation in item.items():
                if tag["name"] in operation.get("tags", []):
                    parts.append(_operation(method, path, operation))
    parts.append("</body></html>")
    return "".join(parts)


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [
        f"<div class='op' id='{escape(operation.get('operationId', ''))}'>",
        f"<p><span class='method'>{escape(method.upper())}</span> <code>{escape(path)}</code></p>",
        f"<p>{escape(operation.get('description', operation.get('summary', '')))}</p>",
    ]
    if operation.get("security"):
        parts.append("<p>Requires <code>Authorization: Bearer &lt;token&gt;</code>.</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        parts.append("<table><tr><th>name</th><th>in</th><th>description</th></tr>")
        for parameter in parameters:
            parts.append(
                f"<tr><td><code>{escape(parameter['name'])}</code></td><td>{escape(parameter['in'])}</td>"
                f"<td>{escape(parameter.get('description', ''))}</td></tr>"
            )
        parts.append("</table>")
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        parts.append(f"<p>Body: <code>{escape(_schema_name(schema))}</code></p>")
    parts.append("</div>")
    return "".join(parts)


def _schema_name(schema: dict[str, Any]) -> str:
    reference = schema.get("$ref")
    if isinstance(reference, str):
        return reference.rsplit("/", 1)[-1]
    for alternative in schema.get("anyOf", []):
        if "$ref" in alternative:
            return _schema_name(alternative)
    return "object"
