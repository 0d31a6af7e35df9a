"""`envdesk worker-ping`: is the worker on this host answering? (the container healthcheck)."""
from __future__ import annotations

import socket

import click

from service.cli.common import settings


@click.command("worker-ping", help="Ping the local Celery worker over the broker; exit 0 if it "
               "answered, 1 if not (for container healthchecks).")
@click.option("-n", "--hostname", default=lambda: f"envdesk@{socket.gethostname()}",
              show_default="envdesk@<this host>", help="node name of the worker "
              "(the one `envdesk worker -n` was given)")
@click.option("--timeout", default=5.0, show_default=True, type=float,
              help="seconds to wait for the answer")
def worker_ping(hostname: str, timeout: float) -> None:
    from workers.app import make_celery

    app = make_celery(settings())
    try:
        replies = app.control.ping(destination=[hostname], timeout=timeout) or []
    except Exception as exc:  # noqa: BLE001 - broker unreachable: the worker is not healthy
        click.echo(f"{hostname}: broker unreachable: {exc}", err=True)
        raise SystemExit(1) from exc
    if any(hostname in reply for reply in replies):
        click.echo(f"{hostname}: pong")
        return
    click.echo(f"{hostname}: no answer within {timeout:g}s", err=True)
    raise SystemExit(1)
