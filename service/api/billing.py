"""/v1/quotes and /v1/usage: parse, call one use case, return."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.billing import QuoteSchema, UsageQuerySchema, UsageSchema
from schemas.tickets import TicketCreateSchema
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session
from service.api.tickets import IfNoneMatchHeaderSchema
from service.app.billing import quotes, usage
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
        # The body QuoteSchema documents, as built (quote_json): nothing left to dump.
        return current_app.json.response(quotes.quote_request(session(), principal(), FileTicket.from_body(data),
                                                              prices=runtime().prices, now=now()))


USAGE_HEADERS = {
    "ETag": {"description": "the body's entity tag: send it as If-None-Match to be answered 304 while the "
                            "month's usage is unchanged", "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, no-cache: a client may keep the body and ask again with "
                                     "If-None-Match", "schema": {"type": "string"}}}
CACHE_CONTROL = "private, no-cache"


@blp.route("/usage")
class UsageReport(MethodView):
    @blp.arguments(IfNoneMatchHeaderSchema, location="headers", as_kwargs=True)
    @blp.arguments(UsageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, UsageSchema, headers=USAGE_HEADERS)
    @document(400, 401, 404, 422)
    @blp.doc(operationId="getUsage", responses={200: {"description": "OK", "content": {
        "application/json": {"schema": UsageSchema}, "text/csv": {
        "schema": {"type": "string", "description": "the same lines as CSV, with a header row: "
                   + ", ".join(usage.CSV_COLUMNS)}}}}, 304: {
        "description": "Not modified: the ETag in If-None-Match is the current body's", "headers": USAGE_HEADERS}})
    def get(self, month: str, account_id: str | None = None, **_if_none_match: str) -> Any:
        """Used days and charges per environment and component of one account in one month
        (UTC): JSON, or CSV with ``Accept: text/csv``; with an ETag, 304 while If-None-Match
        names it. A month ended over an hour ago is settled: computed once, then served as kept."""
        as_csv = request.accept_mimetypes.best_match(("application/json", "text/csv")) == "text/csv"
        body, tag = usage.usage_body(
            session(), principal(), month=month, account_id=account_id, now=now(),
            currency=runtime().prices.currency if runtime().prices else None, kind="csv" if as_csv else "json",
            render=_csv if as_csv else _json, kept=runtime().usage_bodies)
        response = (Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="usage-{month}.csv"'}) if as_csv
            else Response(body, mimetype="application/json"))
        response.set_etag(tag)
        response.headers.update({"Cache-Control": CACHE_CONTROL, "Vary": "Accept"})
        return response.make_conditional(request)  # 304 when If-None-Match names the tag


def _json(report: usage.UsageReport) -> bytes:
    # The body UsageSchema documents, as built: a month can hold tens of thousands of lines.
    return current_app.json.response(report.as_json()).get_data()


def _csv(report: usage.UsageReport) -> bytes:
    return report.as_csv().encode()
