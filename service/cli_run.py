"""`envdesk serve` and the other long-running processes."""
from __future__ import annotations

import os
from typing import Any, Callable

import click

from service.config import Settings


def register(cli: click.Group, *, settings: Callable[[], Settings]) -> None:
    @cli.command("serve", help="Serve the REST API with gunicorn (production-grade WSGI server).")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8080, show_default=True, type=int)
    @click.option("--workers", default=lambda: int(os.environ.get("WEB_CONCURRENCY", "0")) or
                  min(2 * (os.cpu_count() or 1) + 1, 8), type=int, help="worker processes")
    @click.option("--threads", default=4, show_default=True, type=int)
    def serve(host: str, port: int, workers: int, threads: int) -> None:
        from service.server import run_gunicorn

        run_gunicorn(settings(), host=host, port=port, workers=workers, threads=threads)
