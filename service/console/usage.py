"""The usage page of one account: a month's used days and charges per environment and component
(the same use case as GET /v1/usage), with a CSV download."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Response, abort, render_template, request

from service.api.runtime import now, runtime, session
from service.app.billing import usage
from service.console import blp
from service.console.forms import SignOutForm
from service.console.security import staff, staff_required
from service.domain.prices import MONTH_PATTERN

_MONTH = re.compile(MONTH_PATTERN)


@blp.get("/accounts/<account_id>/usage")
@staff_required
def account_usage(account_id: str) -> Any:
    month = request.args.get("month") or now().strftime("%Y-%m")
    if not _MONTH.match(month):
        abort(400, "month must be given as YYYY-MM")
    prices = runtime().prices
    report = usage.usage_report(session(), staff(), month=month, account_id=account_id, now=now(),
                                currency=prices.currency if prices else None)
    if request.args.get("format") == "csv":
        return Response(report.as_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="usage-{month}.csv"'})
    span = usage.Month.parse(month)
    previous = (span.start - timedelta(days=1)).strftime("%Y-%m")
    return render_template("console/usage.html", report=report.as_json(), account_id=account_id,
                           previous=previous, following=span.end.strftime("%Y-%m"),
                           signout=SignOutForm())
