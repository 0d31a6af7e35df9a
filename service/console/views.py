"""The queue and the ticket page: parse the form, call one use case, render or redirect."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, NamedTuple
from urllib.parse import quote

from flask import flash, redirect, render_template, request, url_for

from service.app.tickets import comments, actions as tickets
from service.api.runtime import now, runtime, session, uow
from service.console import blp
from service.console.forms import ActionForm, CommentForm, QueueFilterForm, RejectForm, SignOutForm, WeekForm
from service.app.commands import STATUS_COMMANDS, AddComment
from service.console.security import staff, staff_required
from service.domain.errors import InvalidTransition, PeriodEnded, PreconditionFailed
from service.domain.lifecycle import Action
from service.app.staff.ticket_details import ticket_details
from service.app.staff.worklist import QueueRow, staff_queue
from service.app.staff.week import week_view, windows_touching

STALE = ("Someone else acted on this ticket first, so nothing was done. "
         "This is its current state.")
DONE = {Action.APPROVE: "Approved.", Action.REJECT: "Rejected.", Action.RETRY: "Sent round again."}


@blp.get("/")
@staff_required
def queue() -> Any:
    form = QueueFilterForm(request.args)
    queue = None
    valid = form.validate()
    if valid and form.number.data:  # search by case number (or id): its page
        return redirect(url_for("console.ticket", ticket_id=form.number.data.strip()), 303)
    if valid:
        filters = {k: v for k, v in form.data.items() if k not in ("cursor", "number") and v}
        queue = staff_queue(session(), staff(), key=runtime().settings.cursor_key, filters=filters,
                            sla_hours=runtime().settings.sla_decision_hours,
                            cursor=form.cursor.data or None, counts=runtime().queue_counts)
    status = 200 if queue is not None else 400
    at = now()
    rows = present_rows(queue.page.items, at, url_for("console.ticket", ticket_id="-")[:-1]) if queue else []
    return render_template("console/queue.html", form=form, queue=queue, rows=rows, now=at,
                           filters=request.args.to_dict(), signout=SignOutForm()), status


class RowView(NamedTuple):
    """A queue row as the page shows it (console/rows.html writes it)."""

    id: str
    number: int
    href: str
    late: bool
    age: str
    account_name: str
    environment_name: str
    stage: str
    type: str
    summary: str
    status: str


def present_rows(rows: Iterable[QueueRow], at: datetime, ticket_path: str) -> list[RowView]:
    """The texts of each row, worked out once here rather than by calls in the template's loop;
    ``ticket_path`` is the ticket page's address without its id."""
    return [RowView(id=row.id, number=row.number, href=ticket_path + quote(row.id, safe="/"), late=row.overdue(at),
                    age=age(row.created_at, at), account_name=row.account_name,
                    environment_name=row.environment_name, stage=row.stage, type=row.type,
                    summary=row.summary, status=row.status.replace("_", " ")) for row in rows]


def _ticket_page(ticket_id: str, *, status: int = 200, **forms: Any) -> Any:
    details = ticket_details(session(), staff(), ticket_id,
                             sla_hours=runtime().settings.sla_decision_hours)
    etag = tickets.etag(details.ticket)
    return render_template(
        "console/ticket.html", d=details, now=now(), signout=SignOutForm(),
        windows=windows_touching(session(), staff(), details.ticket),
        action_form=ActionForm(formdata=None, etag=etag),
        reject_form=forms.get("reject_form") or RejectForm(formdata=None, etag=etag),
        comment_form=forms.get("comment_form") or CommentForm(formdata=None)), status


@blp.get("/tickets/<ticket_id>")
@staff_required
def ticket(ticket_id: str) -> Any:
    return _ticket_page(ticket_id)


def _act(ticket_id: str, action: Action, form: ActionForm, reason: str | None = None) -> Any:
    try:
        command = STATUS_COMMANDS[action](ticket_id, reason=reason, if_match=form.etag.data or None)
        tickets.change_status(staff(), command, uow=uow(), now=now(), listener=runtime().listener,
                              dispatch=runtime().dispatch)
        flash(DONE[action], "success")
    except (InvalidTransition, PreconditionFailed):
        flash(STALE, "stale")
    except PeriodEnded as exc:
        flash(exc.detail, "stale")
    return redirect(url_for("console.ticket", ticket_id=ticket_id), 303)


@blp.post("/tickets/<ticket_id>/approve")
@staff_required
def approve(ticket_id: str) -> Any:
    return _act(ticket_id, Action.APPROVE, ActionForm())


@blp.post("/tickets/<ticket_id>/retry")
@staff_required
def retry(ticket_id: str) -> Any:
    return _act(ticket_id, Action.RETRY, ActionForm())


@blp.post("/tickets/<ticket_id>/reject")
@staff_required
def reject(ticket_id: str) -> Any:
    form = RejectForm()
    if not form.validate():
        return _ticket_page(ticket_id, status=422, reject_form=form)
    return _act(ticket_id, Action.REJECT, form, reason=form.reason.data)


@blp.post("/tickets/<ticket_id>/comments")
@staff_required
def comment(ticket_id: str) -> Any:
    form = CommentForm()
    if not form.validate():
        return _ticket_page(ticket_id, status=422, comment_form=form)
    command = AddComment(ticket_id, body=form.body.data, internal=form.internal.data)
    comments.add_comment(staff(), command, uow=uow(), now=now(), listener=runtime().listener)
    flash("Internal note added." if form.internal.data else "Comment added.", "success")
    return redirect(url_for("console.ticket", ticket_id=ticket_id) + "#comments", 303)


@blp.app_template_filter("age")
def age(then: datetime, now_: datetime) -> str:
    minutes = max(0, int((now_ - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


@blp.app_template_filter("when")
def when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@blp.app_template_filter("time_of_day")
def time_of_day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%H:%M:%S UTC")


@blp.get("/calendar")
@staff_required
def calendar() -> Any:
    form = WeekForm(request.args)
    if not form.validate():
        return render_template("console/week.html", week=None, form=form, signout=SignOutForm()), 400
    week = week_view(session(), staff(), week_of=form.week.data or now().date(),
                     environment_id=form.environment_id.data or None)
    return render_template("console/week.html", week=week, form=form, signout=SignOutForm())
