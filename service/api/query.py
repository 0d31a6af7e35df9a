"""Query parameters an operation does not declare are refused (400), never silently ignored: a
client that misspells a filter learns it at once instead of reading an unfiltered list."""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app, request
from flask_smorest import abort

UNKNOWN_PARAMETER = "unknown query parameter"


@cache
def declared_query_names(view: Any) -> frozenset[str] | None:
    """The query names the operation documents, or None for views outside the API document."""
    doc = getattr(view, "_apidoc", None)
    if doc is None:
        return None
    names: set[str] = set()
    for parameter in doc.get("arguments", {}).get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        names.update(field.data_key or name for name, field in schema.fields.items()
                     if not field.dump_only)
    return frozenset(names)


def _operation(endpoint: str | None) -> Any:
    view = current_app.view_functions.get(endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return getattr(view_class, method, None)
    return view


def refuse_unknown_query_parameters() -> None:
    if not request.args:
        return
    declared = declared_query_names(_operation(request.endpoint))
    if declared is None:
        return
    unknown = sorted(set(request.args) - declared)
    if unknown:
        abort(400, message=f"unknown query parameter: {', '.join(unknown)}", rule="unknown_parameter",
              messages={"query": {name: [UNKNOWN_PARAMETER] for name in unknown}})
