"""/v1/tickets: parse, call one use case, return."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from schemas.common import Text
from schemas.tickets import (
    CommentCreateSchema, CommentListSchema, CommentSchema, EmptyQuerySchema, EventListSchema,
    RejectSchema, TicketCreateSchema, TicketListQuerySchema, TicketPageSchema, TicketSchema,
)
from service import comments, queries, tickets
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session, uow
from service.domain.lifecycle import Action

blp = Blueprint("tickets", __name__, url_prefix="/v1/tickets", description="Upscale and change requests")


class IdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = "exclude"

    idempotency_key = Text(max=255, data_key="Idempotency-Key", metadata={
        "description": "replaying the same key with the same body returns the same ticket"})


class IfMatchHeaderSchema(Schema):
    class Meta:
        unknown = "exclude"

    if_match = Text(max=512, data_key="If-Match", metadata={"description": "the ticket's ETag"})


def _with_etag(ticket: Any) -> tuple[Any, int, dict[str, str]]:
    return ticket, 200, {"ETag": tickets.etag(ticket)}


@blp.route("")
class TicketCollection(MethodView):
    @blp.arguments(TicketListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, TicketPageSchema)
    @document(400, 401, 422)
    def get(self, limit: int | None = None, cursor: str | None = None, **filters: Any) -> Any:
        """List the tickets the caller may see, newest first."""
        return queries.list_tickets(session(), principal(), key=runtime().settings.cursor_key,
                                    filters=filters, limit=limit, cursor=cursor)

    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.arguments(TicketCreateSchema)
    @blp.response(201, TicketSchema, headers={"Location": {"schema": {"type": "string"}}})
    @document(400, 401, 403, 404, 409, 413, 415, 422, 429, links=True)
    def post(self, data: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """File an upscale or change request (customers only)."""
        ticket, created = tickets.file_ticket(
            principal(), data, uow=uow(), now=now(), idempotency_key=idempotency_key,
            listener=runtime().listener, max_open=runtime().settings.max_open_tickets,
            approval=runtime().approval, dispatch=runtime().dispatch)
        headers = {"Location": url_for("tickets.TicketItem", ticket_id=ticket.id),
                   "ETag": tickets.etag(ticket)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return ticket, 201, headers


@blp.route("/<ticket_id>")
class TicketItem(MethodView):
    @blp.response(200, TicketSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @document(401, 404)
    @blp.doc(operationId="getTicket")
    def get(self, ticket_id: str) -> Any:
        """One ticket, with its ETag."""
        return _with_etag(queries.get_ticket(session(), principal(), ticket_id))


def _status_view(action: Action, summary: str, *codes: int) -> type[MethodView]:
    class StatusChange(MethodView):
        @blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)
        @blp.response(200, TicketSchema, headers={"ETag": {"schema": {"type": "string"}}})
        @document(401, 403, 404, 409, 415, 429, *codes)
        def post(self, ticket_id: str, if_match: str | None = None) -> Any:
            return _with_etag(tickets.change_status(
                principal(), ticket_id, action, uow=uow(), now=now(), if_match=if_match,
                listener=runtime().listener, dispatch=runtime().dispatch))

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"Ticket{action.value.title()}"
    return StatusChange


blp.route("/<ticket_id>/approve")(_status_view(Action.APPROVE, "Approve a pending ticket (support).", 412, 422))
blp.route("/<ticket_id>/cancel")(_status_view(Action.CANCEL, "Cancel a pending ticket (its customer).", 412, 422))
blp.route("/<ticket_id>/retry")(_status_view(Action.RETRY, "Send a failed ticket round again (support).", 412, 422))


@blp.route("/<ticket_id>/reject")
class TicketReject(MethodView):
    @blp.arguments(RejectSchema)
    @blp.response(200, TicketSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @document(400, 401, 403, 404, 409, 413, 415, 422, 429)
    def post(self, data: dict[str, Any], ticket_id: str) -> Any:
        """Reject a pending ticket with a reason (support)."""
        return _with_etag(tickets.change_status(
            principal(), ticket_id, Action.REJECT, uow=uow(), now=now(), reason=data["reason"],
            listener=runtime().listener))


@blp.route("/<ticket_id>/events")
class TicketEvents(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, EventListSchema)
    @document(401, 404)
    @blp.doc(operationId="getTicketEvents")
    def get(self, _args: dict[str, Any], ticket_id: str) -> Any:
        """The audit trail, oldest first."""
        return {"items": queries.list_events(session(), principal(), ticket_id), "next_cursor": None}


@blp.route("/<ticket_id>/comments")
class TicketComments(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, CommentListSchema)
    @document(401, 404)
    def get(self, _args: dict[str, Any], ticket_id: str) -> Any:
        """The conversation, oldest first; internal notes only for support."""
        return {"items": queries.list_comments(session(), principal(), ticket_id), "next_cursor": None}

    @blp.arguments(CommentCreateSchema)
    @blp.response(201, CommentSchema)
    @document(400, 401, 403, 404, 413, 415, 422, 429)
    def post(self, data: dict[str, Any], ticket_id: str) -> Any:
        """Add a comment; support may add internal notes."""
        return comments.add_comment(principal(), ticket_id, body=data["body"],
                                    internal=data["internal"], uow=uow(), now=now())
