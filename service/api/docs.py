"""OpenAPI documentation of the error responses each operation can return."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import make_schema_key, resolve_schema_cls, resolve_schema_instance
from flask_smorest import Api, Blueprint

DESCRIPTIONS = {
    304: "Not modified",
    400: "Malformed request: invalid JSON, a request line over 8190 bytes, or a query parameter "
         "the operation does not declare (rule unknown_parameter)",
    401: "Missing or invalid bearer token",
    403: "The caller's role or account kind may not do this (rule names why)",
    404: "No such object visible to the caller",
    409: "Conflicts with the ticket's state or an open request (rule names which)",
    412: "If-Match does not match the ticket's current ETag",
    413: "Request body too large",
    415: "Request body is not JSON",
    422: "Invalid input or a hosting rule refused it (errors / rule name each problem)",
    429: "Too many requests",
    503: "The database (rule database_unavailable) or the OIDC issuer's keys (rule "
         "identity_provider_unavailable) are out of reach for a moment; nothing was half done: "
         "send the request again after Retry-After seconds",
}
TICKET_ID = {"in": "path", "name": "ticket_id",
             "description": "The ticket's `id`, or its case number `ENV-<n>` (its `number`, in any case, "
                            "e.g. `ENV-42`): both name the same ticket, with the same tenant rules"}
"""The ticket path parameter's documentation (flask-smorest's ``parameters`` of a route); the
schema is the one flask-smorest derives from the rule."""
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _problem(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(code) or HTTPStatus(code).phrase,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if code == 503:
        response["headers"] = RETRY_AFTER
    return response


class ContractPlugin(MarshmallowPlugin):
    """A schema naming ``openapi_one_of`` variants is documented as their ``oneOf``, with a
    discriminator on ``type`` so that generated clients get one type per variant."""

    def schema_helper(self, name: str, _: Any, schema: Any = None, **kwargs: Any) -> Any:
        variants = getattr(resolve_schema_cls(schema), "openapi_one_of", None) if schema else None
        if not variants:
            documented = super().schema_helper(name, _, schema=schema, **kwargs)
            least = getattr(resolve_schema_cls(schema), "openapi_min_properties", None) if schema else None
            if least and documented is not None:  # a body that must name something (a PATCH)
                documented["minProperties"] = least
            return documented
        self.converter.refs[make_schema_key(resolve_schema_instance(schema))] = name
        refs = {value: self.converter.resolve_nested_schema(variant)
                for value, variant in variants.items()}
        return {"oneOf": list(refs.values()),
                "discriminator": {"propertyName": "type",
                                  "mapping": {value: ref["$ref"] for value, ref in refs.items()}}}


class ProblemApi(Api):
    """flask-smorest's Api, documenting the error responses it documents by itself (such as the
    422 of ``@blp.arguments``) in problem+json, with no catch-all ``default``: each operation
    lists its own error codes through ``document``. Schemas naming variants are documented by
    ``ContractPlugin``. Lists page with cursors in the body, never with flask-smorest's
    pagination header (``@blp.paginate`` is not used, so the header is never documented)."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Any) -> None:
        super().__init__(app, spec_kwargs={"marshmallow_plugin": ContractPlugin()})
        # flask-smorest registers the schemas of its own error body and pagination header, which
        # this API uses neither of: nothing refers to them, and the document leaves them out.
        self.spec.components.schemas.clear()
        for status in HTTPStatus:  # replaces the lazy responses flask-smorest registered
            if status >= 400:
                self.spec.components.response(status.name, _problem(status), lazy=True)


def _ticket_link(operation_id: str, description: str, *, source: str = "$response.body#/id",
                 if_match: bool = False) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation_id, "description": description,
                            "parameters": {"ticket_id": source}}
    if if_match:
        link["parameters"]["header.If-Match"] = "$response.header.ETag"
    return link


def _ticket_links(source: str, *, etag: bool) -> dict[str, Any]:
    return {
        "GetTicket": _ticket_link("getTicket", "the ticket", source=source),
        "GetTicketEvents": _ticket_link("getTicketEvents", "its audit trail", source=source),
        "ListTicketComments": _ticket_link("listTicketComments", "its conversation", source=source),
        "AddTicketComment": _ticket_link("addTicketComment", "comment on it", source=source),
        "ApproveTicket": _ticket_link("approveTicket", "approve it (support)", source=source,
                                      if_match=etag),
        "RejectTicket": _ticket_link("rejectTicket", "reject it (support)", source=source),
        "CancelTicket": _ticket_link("cancelTicket", "cancel it (its customer)", source=source,
                                     if_match=etag),
        "RetryTicket": _ticket_link("retryTicket", "send it round again once failed (support)",
                                    source=source),
    }


CREATED_TICKET_LINKS = _ticket_links("$response.body#/id", etag=True)
"""From a filed ticket to every action on it (a stateful client or fuzzer follows them)."""
FIRST_TICKET_LINKS = _ticket_links("$response.body#/items/0/id", etag=False)
FIRST_ENVIRONMENT_LINKS = {
    "GetEnvironment": {"operationId": "getEnvironment", "description": "the first environment",
                       "parameters": {"environment_id": "$response.body#/items/0/id"}},
    "FileTicket": {"operationId": "fileTicket", "description": "file a request for it",
                   "requestBody": {"environment_id": "$response.body#/items/0/id"}},
}


def document(*codes: int, links: dict[int, dict[str, Any]] | None = None) -> Callable[[Any], Any]:
    """The error responses an operation can return (400 always: an undeclared query parameter is
    refused everywhere; 503 wherever a bearer token is checked: the database or the OIDC
    issuer's keys may be out of reach), and links from its success response."""
    always = {400, 503} if 401 in codes else {400}
    responses: dict[int, Any] = {code: _problem(code) for code in sorted({*always, *codes})}
    for code, named in (links or {}).items():
        responses[code] = {"links": named}
    return Blueprint.doc(responses=responses)
