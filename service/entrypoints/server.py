"""gunicorn, embedded: `envdesk serve` runs the API under it."""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from service.adapters import tracing
from service.adapters.config import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], settings: Settings) -> None:
        self.options = options
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service.entrypoints.wsgi import build_app

        return build_app(self.settings)


LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "service.adapters.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}


GC_THRESHOLDS = (10_000, 20, 20)
"""Young-generation collections every 10,000 net allocations instead of Python's 700: a request
allocates thousands of short-lived objects (rows, SQL parameters, JSON), and collecting them
every few hundred costs CPU without freeing more."""


def _post_worker_init(_worker: Any) -> None:
    """Once the worker has loaded the app, its objects (modules, SQLAlchemy mappers, schemas)
    live for the whole process: frozen, the collector stops walking them on every full collection,
    which took milliseconds out of a request at random (the tail of the latency)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _post_fork(_server: Any, _worker: Any) -> None:
    """Tracing, when the OTEL_* variables ask for it, starts in each worker after the fork and
    before it loads the app (its export thread belongs to the process that makes the spans)."""
    tracing.start("envdesk-api")


def _worker_exit(_server: Any, _worker: Any) -> None:
    tracing.flush()


def _no_metrics(_pid: int) -> None:
    return None


_mark_process_dead: Callable[[int], None] = _no_metrics
"""prometheus-client's, once ``prepare_metrics`` has chosen the directory (it cannot be imported
before that)."""


def _child_exit(_server: Any, worker: Any) -> None:
    """Runs in gunicorn's SIGCHLD handler, so it imports nothing: when it imported
    prometheus-client itself, a second worker exiting during that import found the module half
    initialised, and the arbiter died with an AttributeError instead of shutting down."""
    _mark_process_dead(worker.pid)


def prepare_metrics(folder: Path) -> None:
    """The metrics directory of this process tree, and prometheus-client imported with it,
    before the first fork."""
    global _mark_process_dead
    from service.adapters.multiproc import prepare_multiprocess_dir

    prepare_multiprocess_dir(folder)
    from prometheus_client import multiprocess

    _mark_process_dead = multiprocess.mark_process_dead


def gunicorn_options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "graceful_timeout": 30,
        "timeout": 60,
        "keepalive": 5,
        # gunicorn's largest request line: long query strings reach the app and get a problem+json
        # answer; only lines beyond this get gunicorn's own 400.
        "limit_request_line": 8190,
        "accesslog": None,
        "errorlog": "-",
        "logconfig_dict": LOG_CONFIG,
        "child_exit": _child_exit,
        "post_fork": _post_fork,
        "post_worker_init": _post_worker_init,
        "worker_exit": _worker_exit,
        "max_requests": 0,
    }


def run_gunicorn(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    prepare_metrics(settings.home / "metrics" / f"api-{port}")
    _Gunicorn(gunicorn_options(host=host, port=port, workers=workers, threads=threads), settings).run()
