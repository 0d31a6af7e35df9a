"""`envdesk serve`, `worker`, `beat`, `provisioning-sim` and `up`: the long-running processes.

Each command imports what it starts only when it runs, so that `serve` and `worker` choose the
metrics directory before prometheus-client is first imported (see service/adapters/multiproc.py)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from service.cli.common import settings
from service.adapters.config import Settings
from service.adapters.routing import ALL_QUEUES, NON_PROD_QUEUES, PROD_QUEUES

QUEUE_GROUPS = {"prod": PROD_QUEUES, "non-prod": NON_PROD_QUEUES}


def queue_names(value: str | None) -> list[str]:
    """`-Q prod,webhooks` → the queues it names, groups expanded; every queue when empty."""
    if not value:
        return list(ALL_QUEUES)
    names: list[str] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        names += QUEUE_GROUPS.get(part, (part,))
    unknown = [n for n in names if n not in ALL_QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(ALL_QUEUES)} or the groups prod, non-prod")
    return names


def _default_web_workers() -> int:
    return int(os.environ.get("WEB_CONCURRENCY", "0")) or min(2 * (os.cpu_count() or 1) + 1, 8)


PROCESS_SECRETS = {"serve": ("SECRET_KEY",), "worker": ("PROVISIONING_TOKEN",), "beat": ()}
"""The secrets each process cannot run without. Every process refuses any secret that is set to
a placeholder or is too short, used by it or not: such a value means an unfinished deployment."""


def checked_settings(process: str) -> Settings:
    """The settings, or the command ends naming every secret it refuses."""
    conf = settings()
    problems = conf.secret_problems(PROCESS_SECRETS[process])
    if problems:
        raise click.ClickException(f"envdesk {process} refuses to start: " + "; ".join(problems))
    return conf


@click.command("serve", help="Serve the REST API with gunicorn (production-grade WSGI server).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=_default_web_workers, type=int, help="worker processes")
@click.option("--threads", default=1, show_default=True, type=int,
              help="threads per process. 1: gunicorn's sync worker, a process takes a connection only "
                   "when idle, so the load spreads over all processes (behind a proxy that buffers "
                   "requests); more: the threaded worker, which keeps a connection alive on the "
                   "process that accepted it, busy or not")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    from service.entrypoints.server import run_gunicorn

    run_gunicorn(checked_settings("serve"), host=host, port=port, workers=workers, threads=threads)


@click.command("worker", help="Run a Celery worker; consumes every queue unless -Q names some "
               "(queue names, or the groups 'prod' and 'non-prod').")
@click.option("-Q", "--queues", help="comma-separated queues or groups")
@click.option("-c", "--concurrency", type=int, help="worker processes (default: CPU count)")
@click.option("-n", "--hostname", default="envdesk@%h", show_default=True)
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=int, default=lambda: int(os.environ.get("METRICS_PORT", "0")),
              help="serve Prometheus metrics of this worker on this port (0: off)")
def worker(queues: str | None, concurrency: int | None, hostname: str, loglevel: str,
           metrics_port: int) -> None:
    from service.adapters.multiproc import prepare_multiprocess_dir

    conf = checked_settings("worker")
    prepare_multiprocess_dir(conf.home / "metrics" / f"worker-{os.getpid()}")
    from service.adapters.metrics import serve_metrics
    from workers.app import make_celery

    if metrics_port:
        serve_metrics(metrics_port)
    argv = ["worker", "-Q", ",".join(queue_names(queues)), "-n", hostname, "--loglevel", loglevel,
            "--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    make_celery(conf).worker_main(argv)


@click.command("beat", help="Schedule the sweep: reverts due, lost hand-offs, webhooks due.")
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    from workers.app import make_celery

    conf = checked_settings("beat")
    conf.home.mkdir(parents=True, exist_ok=True)
    make_celery(conf).start(["beat", "--loglevel", loglevel,
                             "--schedule", str(conf.home / "celerybeat-schedule")])


@click.command("provisioning-sim", help="Serve a provisioning API simulator "
               "(the contract in docs/operations.md#provisioning).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--latency", default=0.0, show_default=True, type=float,
              help="seconds an operation takes to finish")
@click.option("--failure-rate", default=0.0, show_default=True, type=float,
              help="fraction of requests answered 503/429")
@click.option("--terminal-failure-rate", default=0.0, show_default=True, type=float,
              help="fraction of operations that end failed")
@click.option("--response-delay", default=0.0, show_default=True, type=float,
              help="seconds every response is held (a hanging provider)")
def provisioning_sim(host: str, port: int, latency: float, failure_rate: float,
                     terminal_failure_rate: float, response_delay: float) -> None:
    from service.provisioning_sim import SimSettings, check_settings, serve as serve_sim

    sim = SimSettings(token=settings().provisioning_token or None, latency=latency,
                      failure_rate=failure_rate, terminal_failure_rate=terminal_failure_rate,
                      response_delay=response_delay)
    try:
        check_settings(sim)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    serve_sim(host, port, sim)


@click.command("up", help="Run API, worker, beat and the provisioning simulator on the embedded "
               "defaults (SQLite, filesystem broker); seeds demo accounts on first start.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--sim-port", default=8081, show_default=True, type=int)
@click.option("--home", default=lambda: os.environ.get("ENVDESK_HOME", "var"), show_default="var",
              type=click.Path(file_okay=False, path_type=Path), help="where data and the processes' logs (logs/*.log) are kept")
def up(host: str, port: int, sim_port: int, home: Path) -> None:
    from service.entrypoints.up import run_all

    raise SystemExit(run_all(home=home, host=host, port=port, sim_port=sim_port))
