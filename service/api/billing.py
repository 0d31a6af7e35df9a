"""/v1/quotes and /v1/usage: parse, call one use case, return."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.billing import QuoteSchema
from schemas.tickets import TicketCreateSchema
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session
from service.app.billing import quotes
from service.app.commands import FileTicket

blp = Blueprint("billing", __name__, url_prefix="/v1", description="Prices, quotes and usage")


@blp.route("/quotes")
class Quotes(MethodView):
    @blp.arguments(TicketCreateSchema())
    @blp.response(200, QuoteSchema)
    @document(400, 401, 404, 413, 415, 422, 429)
    @blp.doc(operationId="quoteTicket")
    def post(self, data: dict[str, Any]) -> Any:
        """What a request would cost, by the price list and the account's included days; stores nothing."""
        return quotes.quote_request(session(), principal(), FileTicket.from_body(data),
                                    prices=runtime().prices, now=now())
