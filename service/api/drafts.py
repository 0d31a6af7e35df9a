"""/v1/drafts: partners prepare requests, their customers submit them."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.drafts import DraftListQuerySchema, DraftPageSchema, DraftSchema, DraftSubmitSchema
from schemas.tickets import TicketCreateSchema, TicketSchema
from service.app.drafts import drafts
from service.app.tickets import actions as tickets
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session, uow
from service.app.commands import SubmitDraft

blp = Blueprint("drafts", __name__, url_prefix="/v1/drafts",
                description="Requests a partner prepares for its customer to submit")


@blp.route("")
class DraftCollection(MethodView):
    @blp.arguments(DraftListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, DraftPageSchema)
    @document(400, 401, 422)
    @blp.doc(operationId="listDrafts")
    def get(self, **args: Any) -> Any:
        """Drafts the caller prepared (partner) or may submit (customer), newest first."""
        return drafts.list_drafts(session(), principal(), key=runtime().settings.cursor_key, **args)

    @blp.arguments(TicketCreateSchema)
    @blp.response(201, DraftSchema, headers={"Location": {"schema": {"type": "string"}}})
    @document(400, 401, 403, 404, 413, 415, 422, 429)
    @blp.doc(operationId="createDraft")
    def post(self, data: dict[str, Any]) -> Any:
        """Prepare a request for a linked customer (partners); it files nothing yet."""
        draft = drafts.create_draft(principal(), data, uow=uow(), now=now())
        return draft, 201, {"Location": url_for("drafts.DraftItem", draft_id=draft.id)}


@blp.route("/<draft_id>")
class DraftItem(MethodView):
    @blp.response(200, DraftSchema)
    @document(401, 404)
    @blp.doc(operationId="getDraft")
    def get(self, draft_id: str) -> Any:
        """One draft."""
        return drafts.load_visible_draft(session(), principal(), draft_id)

    @blp.response(204)
    @document(401, 404, 409, 429)
    @blp.doc(operationId="deleteDraft")
    def delete(self, draft_id: str) -> Any:
        """Throw away a draft that was not submitted (its partner or its customer)."""
        drafts.delete_draft(principal(), draft_id, uow=uow())
        return "", 204


@blp.route("/<draft_id>/submit")
class DraftSubmit(MethodView):
    @blp.arguments(DraftSubmitSchema, required=False)
    @blp.response(201, TicketSchema, headers={"Location": {"schema": {"type": "string"}}})
    @document(401, 403, 404, 409, 415, 422, 429)
    @blp.doc(operationId="submitDraft")
    def post(self, data: dict[str, Any], draft_id: str) -> Any:
        """File the draft as a ticket of the customer (customers); every filing rule applies now,
        and the customer accepts the charge of an upscale that costs something."""
        accepted = (data or {}).get("accept_charges")
        command = SubmitDraft(draft_id, accept_charges=(accepted["amount"], accepted["currency"]) if accepted else None)
        ticket, created = drafts.submit_draft(
            principal(), command, uow=uow(), now=now(), listener=runtime().listener,
            max_open=runtime().settings.max_open_tickets, approval=runtime().approval,
            dispatch=runtime().dispatch, prices=runtime().prices)
        headers = {"Location": url_for("tickets.TicketItem", ticket_id=ticket.id),
                   "ETag": tickets.etag(ticket)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return ticket, 201, headers
