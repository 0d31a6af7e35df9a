"""/v1/tickets: parse, call one use case, return."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from schemas.common import Text
from schemas.ticket_bodies import conflicts_json, page_body, ticket_json
from schemas.tickets import (
    CommentCreateSchema, CommentListSchema, CommentSchema, EmptyQuerySchema, EventListSchema,
    ActionSchema, RejectSchema, TicketCreateSchema, TicketListQuerySchema, TicketPageSchema, TicketSchema,
)
from service.app.tickets import comments, queries, actions as tickets
from service.api.docs import CREATED_TICKET_LINKS, FIRST_TICKET_LINKS, TICKET_ID, document
from service.api.runtime import filing_uow, now, principal, runtime, session, uow
from service.app.commands import STATUS_COMMANDS, AddComment, FileTicket
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


class IfNoneMatchHeaderSchema(Schema):
    class Meta:
        unknown = "exclude"

    if_none_match = Text(max=512, data_key="If-None-Match", metadata={
        "description": "the ETag the caller holds; 304 without a body while it is still current"})


def _with_etag(ticket: Any) -> tuple[Any, int, dict[str, str]]:
    return ticket, 200, {"ETag": tickets.etag(ticket)}


def _unless_current(ticket: Any, if_none_match: str | None) -> Any:
    """304 Not Modified when the caller's ETag is the ticket's (weak comparison, RFC 9110)."""
    if if_none_match is not None and tickets.etag_listed(if_none_match, ticket):
        return Response(status=304, headers={"ETag": tickets.etag(ticket)})
    return _with_etag(ticket)


NOT_MODIFIED = {304: {"description": "Not modified: the ETag in If-None-Match is current",
                      "headers": {"ETag": {"schema": {"type": "string"}}}}}


@blp.route("")
class TicketCollection(MethodView):
    @blp.arguments(TicketListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, TicketPageSchema)
    @document(400, 401, 422, links={200: FIRST_TICKET_LINKS})
    @blp.doc(operationId="listTickets")
    def get(self, limit: int | None = None, cursor: str | None = None, **filters: Any) -> Any:
        """List the tickets the caller may see, newest first."""
        page = queries.list_tickets(session(), principal(), key=runtime().settings.cursor_key,
                                    filters=filters, limit=limit, cursor=cursor)
        # The body TicketPageSchema documents, through its compiled dump (schemas.ticket_bodies).
        return current_app.json.response(page_body(page))

    # Schema instances, not classes: webargs would build a new schema (and its nested ones) for
    # every request from a class.
    @blp.arguments(IdempotencyHeaderSchema(), location="headers", as_kwargs=True)
    @blp.arguments(TicketCreateSchema())
    @blp.response(201, TicketSchema, headers={"Location": {"schema": {"type": "string"}},
                                              "ETag": {"schema": {"type": "string"}}})
    @document(400, 401, 403, 404, 409, 413, 415, 422, 429, links={201: CREATED_TICKET_LINKS})
    @blp.doc(operationId="fileTicket")
    def post(self, data: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """File an upscale, change or load-test request (customers only); the answer names
        what its time overlaps (conflicts)."""
        overlapping: list[Any] = []
        ticket, created = tickets.file_ticket(
            principal(), FileTicket.from_body(data, idempotency_key=idempotency_key),
            uow=filing_uow(), now=now(), listener=runtime().listener, max_open=runtime().settings.max_open_tickets,
            approval=runtime().approval, dispatch=runtime().dispatch, prices=runtime().prices,
            conflicts=overlapping)
        headers = {"Location": url_for("tickets.TicketItem", ticket_id=ticket.id),
                   "ETag": tickets.etag(ticket)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        # TicketSchema's body, through its compiled dump (schemas.ticket_bodies).
        return jsonify({**ticket_json(ticket), "conflicts": conflicts_json(overlapping)}), 201, headers


@blp.route("/<ticket_id>", parameters=[TICKET_ID])
class TicketItem(MethodView):
    @blp.arguments(IfNoneMatchHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(200, TicketSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @document(400, 401, 404)
    @blp.doc(operationId="getTicket", responses=NOT_MODIFIED)
    def get(self, ticket_id: str, if_none_match: str | None = None) -> Any:
        """One ticket, with its ETag; 304 while the caller's If-None-Match is current."""
        return _unless_current(queries.get_ticket(session(), principal(), ticket_id), if_none_match)


def _status_view(action: Action, schema: type[Schema], summary: str) -> type[MethodView]:
    class StatusChange(MethodView):
        @blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)
        @blp.arguments(schema, required=action is Action.REJECT)
        @blp.response(200, TicketSchema, headers={"ETag": {"schema": {"type": "string"}}})
        @document(400, 401, 403, 404, 409, 412, 413, 415, 422, 429)
        @blp.doc(operationId=f"{action.value}Ticket")
        def post(self, data: dict[str, Any], ticket_id: str, if_match: str | None = None) -> Any:
            command = STATUS_COMMANDS[action](ticket_id, reason=data.get("reason"), if_match=if_match)
            return _with_etag(tickets.change_status(principal(), command, uow=uow(), now=now(),
                                                    listener=runtime().listener, dispatch=runtime().dispatch))

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"Ticket{action.value.title()}"
    return StatusChange


blp.route("/<ticket_id>/approve", parameters=[TICKET_ID])(_status_view(
    Action.APPROVE, ActionSchema, "Approve a pending ticket, with an optional reason (support)."))
blp.route("/<ticket_id>/reject", parameters=[TICKET_ID])(_status_view(
    Action.REJECT, RejectSchema, "Reject a pending ticket with a reason (support)."))
blp.route("/<ticket_id>/cancel", parameters=[TICKET_ID])(_status_view(
    Action.CANCEL, ActionSchema, "Cancel a pending ticket, with an optional reason (its customer)."))
blp.route("/<ticket_id>/retry", parameters=[TICKET_ID])(_status_view(
    Action.RETRY, ActionSchema, "Send a failed ticket round again, with an optional reason (support)."))


@blp.route("/<ticket_id>/events", parameters=[TICKET_ID])
class TicketEvents(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, EventListSchema)
    @document(400, 401, 404)
    @blp.doc(operationId="getTicketEvents")
    def get(self, _args: dict[str, Any], ticket_id: str) -> Any:
        """The audit trail, oldest first."""
        return {"items": queries.list_events(session(), principal(), ticket_id), "next_cursor": None}


@blp.route("/<ticket_id>/comments", parameters=[TICKET_ID])
class TicketComments(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, CommentListSchema)
    @document(400, 401, 404)
    @blp.doc(operationId="listTicketComments")
    def get(self, _args: dict[str, Any], ticket_id: str) -> Any:
        """The conversation, oldest first; internal notes only for support staff."""
        return {"items": queries.list_comments(session(), principal(), ticket_id), "next_cursor": None}

    @blp.arguments(CommentCreateSchema)
    @blp.response(201, CommentSchema)
    @document(400, 401, 403, 404, 413, 415, 422, 429)
    @blp.doc(operationId="addTicketComment")
    def post(self, data: dict[str, Any], ticket_id: str) -> Any:
        """Add a comment; support may add internal notes."""
        command = AddComment(ticket_id, body=data["body"], internal=data["internal"])
        return comments.add_comment(principal(), command, uow=uow(), now=now(), listener=runtime().listener)
