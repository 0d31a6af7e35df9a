"""OpenAPI documentation of the error responses each operation can return."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable

from flask_smorest import Api, Blueprint

DESCRIPTIONS = {
    304: "Not modified",
    400: "Malformed request (invalid JSON, or a request line over 8190 bytes)",
    401: "Missing or invalid bearer token",
    403: "The caller's role or account kind may not do this (rule names why)",
    404: "No such object visible to the caller",
    409: "Conflicts with the ticket's state or an open request (rule names which)",
    412: "If-Match does not match the ticket's current ETag",
    413: "Request body too large",
    415: "Request body is not JSON",
    422: "Invalid input or a hosting rule refused it (errors / rule name each problem)",
    429: "Too many requests",
}


def _problem(code: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(code) or HTTPStatus(code).phrase,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


class ProblemApi(Api):
    """flask-smorest's Api, with the error responses it documents by itself (such as the 422 of
    ``@blp.arguments``) in problem+json, and no catch-all ``default``: each operation lists its
    own error codes through ``document``."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        for status in HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, _problem(status), lazy=True)


CREATED_TICKET_LINKS = {
    "GetTicket": {"operationId": "getTicket", "parameters": {"ticket_id": "$response.body#/id"}},
    "GetTicketEvents": {"operationId": "getTicketEvents",
                        "parameters": {"ticket_id": "$response.body#/id"}},
}


def document(*codes: int, links: bool = False) -> Callable[[Any], Any]:
    responses: dict[int, Any] = {code: _problem(code) for code in codes}
    if links:
        responses[201] = {"links": CREATED_TICKET_LINKS}
    return Blueprint.doc(responses=responses)
