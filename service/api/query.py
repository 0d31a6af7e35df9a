"""Query parameters an operation does not declare are refused (400), never silently ignored: a
client that misspells a filter learns it at once instead of reading an unfiltered list.

What an operation declares is what its OpenAPI operation lists ``in: query`` — the published
document, read once through flask-smorest's public ``Api.spec``, so the document and the check
cannot disagree."""
from __future__ import annotations

from typing import Callable

from flask import Flask, request
from flask_smorest import Api, abort
from flask_smorest.spec.plugins import FlaskPlugin

UNKNOWN_PARAMETER = "unknown query parameter"
Declared = dict[tuple[str, str], frozenset[str]]


def declared_query_names(api: Api) -> Declared:
    """(OpenAPI path, method) → the query names that operation documents."""
    declared: Declared = {}
    for path, item in api.spec.to_dict().get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                declared[(path, method)] = frozenset(
                    parameter["name"] for parameter in operation.get("parameters", [])
                    if isinstance(parameter, dict) and parameter.get("in") == "query")
    return declared


def refuser(api: Api) -> Callable[[], None]:
    """A before-request hook refusing the query names the requested operation does not document
    (requests outside the API document, such as health and the console, pass)."""
    declared: Declared = {}

    def refuse_unknown_query_parameters() -> None:
        if not request.args or request.url_rule is None:
            return
        if not declared:
            declared.update(declared_query_names(api))
        method = "get" if request.method == "HEAD" else request.method.lower()
        names = declared.get((FlaskPlugin.flaskpath2openapi(request.url_rule.rule), method))
        if names is None:
            return
        unknown = sorted(set(request.args) - names)
        if unknown:
            abort(400, message=f"unknown query parameter: {', '.join(unknown)}", rule="unknown_parameter",
                  messages={"query": {name: [UNKNOWN_PARAMETER] for name in unknown}})

    return refuse_unknown_query_parameters


def register(app: Flask, api: Api) -> None:
    app.before_request(refuser(api))
