"""OpenAPI documentation of the error responses each operation can return."""
from __future__ import annotations

from typing import Any, Callable

from flask_smorest import Blueprint

DESCRIPTIONS = {
    304: "Not modified",
    400: "Malformed request (for example invalid JSON)",
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
        "description": DESCRIPTIONS[code],
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


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
