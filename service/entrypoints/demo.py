"""The demo of ``envdesk up``: accounts and tokens on first start, and a welcome that shows how
to file a temporary upscale and approve it with commands that run as printed."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from service.app.billing import allowances
from service.app.registry import operators
from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.domain.hosting import AccountKind, Stage
from service.adapters.models import Account

CUSTOMER = "customer@demo.shop"
PARTNER = "partner@demo.agency"
SUPPORT = "support@hosting.example"
# The demo period: it starts a little after filing and is reverted minutes later.
PERIOD_MINUTES = (2, 12)
DEMO_ALLOWANCE_DAYS = 10


def seed_demo(settings: Settings) -> dict[str, Any] | None:
    """Demo accounts on first start; returns tokens, or None when the registry has accounts."""
    sessions = make_session_factory(make_engine(settings.database_url, pooler=settings.database_pooler))
    new = lambda: UnitOfWork(sessions)  # noqa: E731
    with new() as uow:
        if uow.session.query(Account.id).first() is not None:
            return None
    shop = operators.add_account("Demo Shop GmbH", AccountKind.CUSTOMER, uow=new())
    agency = operators.add_account("Demo Agency", AccountKind.PARTNER, uow=new())
    host = operators.add_account("Hosting Support", AccountKind.PROVIDER, uow=new())
    operators.link_partner(agency.id, shop.id, uow=new())
    # Included upscale-days this year: the demo's upscale is quoted by the sample price list
    # and uses one of them, so it needs no accepted charge.
    allowances.set_allowance(shop.id, DEMO_ALLOWANCE_DAYS, uow=new())
    envs = {stage.value: operators.add_environment(shop.id, f"demo-shop-{stage}", stage, uow=new()).id
            for stage in Stage}
    tokens = {}
    for email, account, role in ((CUSTOMER, shop, "member"), (PARTNER, agency, "member"),
                                 (SUPPORT, host, "support")):
        operators.add_user(email, account.id, role, uow=new())
        tokens[email] = operators.issue_user_token(email, uow=new())
    return {"tokens": tokens, "environments": envs}


def _minutes_from_now(minutes: int) -> str:
    """A shell expression for the UTC time ``minutes`` from now, for GNU and BSD date alike."""
    return (f"$(date -u -d '+{minutes} min' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null"
            f" || date -u -v+{minutes}M +%Y-%m-%dT%H:%M:%SZ)")


def file_and_approve_commands(url: str, demo: dict[str, Any]) -> list[str]:
    """Shell lines: quote a temporary upscale, file it as the customer, approve it as support,
    show it."""
    customer, support = demo["tokens"][CUSTOMER], demo["tokens"][SUPPORT]
    body = ('{"type": "upscale", "environment_id": "%s", "summary": "load test", '
            '"resources": [{"component": "yves", "size": "large"}], '
            '"period": {"start": "\'"$start"\'", "end": "\'"$end"\'"}}') % demo["environments"]["stage"]
    start, end = PERIOD_MINUTES
    return [
        f"start={_minutes_from_now(start)}; end={_minutes_from_now(end)}",
        f"curl -sf -X POST {url}/v1/quotes -H 'Authorization: Bearer {customer}' "
        f"-H 'Content-Type: application/json' -d '{body}' "
        "| python3 -c 'import json, sys; q = json.load(sys.stdin); print(\"quote\", q[\"charge\"][\"amount\"], "
        "q[\"currency\"], \"within the allowance\" if q[\"within_allowance\"] else \"to accept\")'",
        f"ticket=$(curl -sf -X POST {url}/v1/tickets -H 'Authorization: Bearer {customer}' "
        f"-H 'Content-Type: application/json' -d '{body}' "
        "| python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'); echo \"ticket $ticket\"",
        f"curl -sf -X POST {url}/v1/tickets/$ticket/approve -H 'Authorization: Bearer {support}'",
        f"curl -sf {url}/v1/tickets/$ticket/events -H 'Authorization: Bearer {customer}'",
    ]


def print_welcome(port: int, demo: dict[str, Any] | None, logs: dict[str, Path] | None = None,
                  mail_dir: str = "") -> None:
    """What ``envdesk up`` prints once every process has started: the last thing on screen, as
    the processes write their logs to the files ``logs`` names."""
    url = f"http://127.0.0.1:{port}"
    click.echo(f"\nenvdesk is up: {url}  (API docs: {url}/docs)")
    click.echo(f"Staff console: {url}/console/  (sign in with the support token)")
    if mail_dir:
        click.echo(f"Mail to people is written here as .eml files, not sent: {mail_dir}")
    if logs:
        click.echo("Logs of the processes (Ctrl-C stops them all):")
        for name, path in logs.items():
            click.echo(f"  {name:26} {path}")
    if demo is None:
        click.echo("Demo accounts exist from an earlier start; issue a new token with "
                   f"`envdesk token issue {CUSTOMER}` (same ENVDESK_HOME).")
        return
    click.echo("Demo tokens (shown once; only their hashes are stored):")
    for email, token in demo["tokens"].items():
        click.echo(f"  {email:26} {token}")
    start, end = PERIOD_MINUTES
    click.echo(f"\nFile a temporary upscale of the staging environment, for {start} to {end} minutes "
               "from now.\nThen approve it as support: it waits as `scheduled` until its start, is "
               "applied,\nand is reverted at its end. In a shell (curl and python3):\n")
    for line in file_and_approve_commands(url, demo):
        click.echo(f"  {line}")
    click.echo("")
