"""/v1/calendar, its iCalendar feed, and the caller's feed key."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.calendar import (
    CalendarKeySchema, CalendarQuerySchema, CalendarSchema, FeedQuerySchema, calendar_body,
)
from schemas.tickets import EmptyQuerySchema
from service.app.calendar import bodies, feed
from service.app.calendar.entries import calendar_entries
from service.app.calendar.ics import render_ics
from service.api.docs import document
from service.api.errors import problem
from service.api.runtime import now, principal, runtime, session, uow
from service.domain.windows import later

blp = Blueprint("calendar", __name__, url_prefix="/v1", description="The change calendar")


@blp.route("/calendar")
class CalendarRange(MethodView):
    @blp.arguments(CalendarQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, CalendarSchema)
    @document(400, 401, 404, 422)
    @blp.doc(operationId="getCalendar")
    def get(self, from_: Any = None, to: Any = None, environment_id: str | None = None) -> Any:
        """Windows, temporary upscales, scheduled changes and load tests the caller may see."""
        since = from_ or now()
        until = to or later(since, timedelta(days=7))
        feed.check_range(since, until)

        def render() -> bytes:
            calendar = feed.read_calendar(session(), principal(), since=since, until=until,
                                          environment_id=environment_id)
            return current_app.json.response(calendar_body(since, until, calendar_entries(calendar))).get_data()

        if environment_id is not None or from_ is None:  # one environment's, or from now on
            return Response(render(), mimetype="application/json")
        return Response(bodies.kept_body(session(), principal(), since=since, until=until, kind="json",
                                         kept=runtime().calendar_bodies, render=render),
                        mimetype="application/json")


@blp.route("/calendar.ics")
class CalendarFeed(MethodView):
    @blp.arguments(FeedQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, content_type="text/calendar")
    @document(400, 401, 422)
    @blp.doc(operationId="getCalendarFeed", security=[])
    def get(self, key: str) -> Any:
        """The calendar as an RFC 5545 feed, opened with the caller's feed key (calendar programs
        send no bearer token): a month back, a year ahead."""
        with runtime().read_connection() as connection:
            owner = feed.key_owner(connection, key)
        if owner is None:
            return problem(401, "Unauthorized", "the feed key is not valid", rule="unauthenticated")
        moment = now()
        hour = moment.replace(minute=0, second=0, microsecond=0)  # the same range for an hour
        since, until, ticket_url = hour - feed.FEED_PAST, hour + feed.FEED_AHEAD, _ticket_url()

        def render() -> bytes:
            calendar = feed.read_calendar(session(), owner, since=since, until=until, with_deleted=True)
            return render_ics(calendar, now=moment, ticket_url=ticket_url)

        body = bodies.kept_body(session(), owner, since=since, until=until, kind=("ics", ticket_url),
                                kept=runtime().calendar_bodies, render=render)
        return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=60"})


def _ticket_url() -> str:
    return url_for("tickets.TicketItem", ticket_id="ID", _external=True).replace("ID", "{id}")


@blp.route("/me/calendar-key")
class CalendarKey(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(201, CalendarKeySchema)
    @document(400, 401, 429)
    @blp.doc(operationId="issueCalendarKey")
    def post(self, _args: dict[str, Any]) -> Any:
        """A new feed key for the caller (shown once); it revokes the earlier one."""
        key = feed.issue_key(principal(), uow=uow(), now=now())
        return {"key": key, "url": url_for("calendar.CalendarFeed", key=key, _external=True)}, 201

    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(204)
    @document(400, 401, 429)
    @blp.doc(operationId="revokeCalendarKey")
    def delete(self, _args: dict[str, Any]) -> Any:
        """Revoke the caller's feed key."""
        feed.revoke_key(principal(), uow=uow())
        return "", 204
