"""Mail: how soon a status event's message reaches an SMTP server, how fast the outbox drains, and
what mail costs filing and approving.

``run`` — 1,000 status events (filings through the API, paced at ``rate`` per second, default
BENCH_MAIL_RATE or 50), each
telling its requester; an aiosmtpd sink on 127.0.0.1 notes when it accepts each message. The
latency is from the 201 (the event is committed before it is sent) to the sink's acceptance; then
a burst of ``burst`` more events at once gives the drain rate (messages accepted per second).

``cost`` — filing and approving with mail on (MAIL_DIR set: the move writes the outbox rows) and
off, interleaved call by call through the use cases the API runs; nothing is sent meanwhile."""
from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.parser import BytesParser
from typing import Any

import requests

from bench import common
from bench.common import Proc

SINK_PORT_OFFSET = 25


class Sink:
    """An SMTP server that keeps the time it accepted each message, by case number."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.accepted: dict[str, float] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                at = time.time()
                message = BytesParser(policy=policy.default).parsebytes(envelope.content)
                with sink.lock:
                    sink.accepted.setdefault(str(message["X-Envdesk-Ticket"]), at)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def stop(self) -> None:
        self.controller.stop()


def _mail_env(sink_port: int) -> dict[str, str]:
    return {"SMTP_URL": f"smtp://127.0.0.1:{sink_port}", "SWEEP_INTERVAL": "1", "RATE_LIMIT_WRITES": "",
            "MAX_OPEN_TICKETS_PER_ACCOUNT": "0"}


def _file(session: requests.Session, token: str, env_id: str) -> tuple[str, float]:
    body = {"type": "upscale", "environment_id": env_id, "summary": "mail bench",
            "resources": [{"component": "yves", "size": "large"}]}
    response = session.post(f"{common.API}/v1/tickets", json=body, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()["number"], time.time()


def _events(reg: dict[str, Any], count: int, start: int) -> list[tuple[str, str]]:
    pairs = [(c["token"], e) for j in range(len(reg["customers"][0]["stage_envs"]))
             for c in reg["customers"] for e in c["stage_envs"][j:j + 1]]
    return pairs[start:start + count]


def _paced(pairs: list[tuple[str, str]], rate: float) -> dict[str, float]:
    """File each (token, env) at ``rate`` per second; the moment each 201 arrived, by case number."""
    committed: dict[str, float] = {}
    session = requests.Session()
    begin = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        for i, (token, env_id) in enumerate(pairs):
            delay = begin + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(_file, session, token, env_id))
        for future in futures:
            number, at = future.result()
            committed[number] = at
    return committed


def _wait_for(sink: Sink, numbers: set[str], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with sink.lock:
            if numbers <= set(sink.accepted):
                return
        time.sleep(0.1)
    raise RuntimeError(f"only {len(numbers & set(sink.accepted))} of {len(numbers)} messages arrived")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(events: int = 1000, rate: float = 0, burst: int = 1000) -> dict[str, Any]:
    rate = rate or float(os.environ.get("BENCH_MAIL_RATE", "50"))
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=100, envs_per_account=(events + burst) // 100 + 1, support_tokens=1)
    sink_port = common.API_PORT + SINK_PORT_OFFSET
    sink = Sink(sink_port)
    env = common.bench_env(**_mail_env(sink_port))
    worker = Proc("mail-worker", [common.ENVDESK, "worker", "-Q", "mail,maintenance", "--concurrency", "2",
                                  "-n", f"mailbench{common.API_PORT}@%h", "--loglevel", "WARNING"], env)
    beat = Proc("mail-beat", [common.ENVDESK, "beat", "--loglevel", "WARNING"], env)
    try:
        with common.running(common.start_api(**_mail_env(sink_port)), worker, beat):
            time.sleep(3)  # the worker is ready and beat's first sweep has run
            committed = _paced(_events(reg, events, 0), rate)
            _wait_for(sink, set(committed), timeout=120)
            latencies = [sink.accepted[n] - at for n, at in committed.items()]
            started = time.time()
            burst_numbers = _paced(_events(reg, burst, events), rate=10_000)
            filed = time.time()
            _wait_for(sink, set(burst_numbers), timeout=300)
            drained = max(sink.accepted[n] for n in burst_numbers) - started
    finally:
        sink.stop()
    figures = {"events": events, "rate": rate, "p50_s": statistics.median(latencies),
               "p99_s": _percentile(latencies, 0.99), "max_s": max(latencies), "burst": burst,
               "burst_filing_s": filed - started, "burst_drain_s": drained,
               "drain_per_s": burst / drained}
    print(f"mail  {events} events at {rate:.0f}/s: committed -> accepted by the sink "
          f"p50 {figures['p50_s']:.2f} s  p99 {figures['p99_s']:.2f} s  max {figures['max_s']:.2f} s", flush=True)
    print(f"mail  burst of {burst} events (filed in {filed - started:.1f} s): all accepted in {drained:.1f} s, "
          f"drain rate {figures['drain_per_s']:.0f} messages/s", flush=True)
    return common.save("mail", figures)


def cost(pairs: int = 1500) -> dict[str, Any]:
    """Filing, then approving, with mail on and off, interleaved one by one (on, off, on, off...)
    so that the machine's noise falls on both alike: the use cases the API runs (filing in
    autocommit, as the API files), on PostgreSQL, timed per call; medians compared."""
    from datetime import datetime, timezone

    from service.adapters.config import Settings
    from service.adapters.db import UnitOfWork, make_engine, make_session_factory
    from service.adapters.identity import authenticate
    from service.app.commands import Approve, FileTicket
    from service.app.notify.outbox import status_listener
    from service.app.tickets import actions

    common.reset_database()
    reg = common.seed_registry(accounts=100, envs_per_account=2 * pairs // 100 + 1, support_tokens=1)
    url = common.DB_URL.replace("postgresql://", "postgresql+psycopg://")
    off = Settings(database_url=url, broker_url="memory://")
    listeners = {"off": status_listener(off), "on": status_listener(
        Settings(database_url=url, broker_url="memory://", mail_dir=str(common.WORK / "mail")))}
    engine = make_engine(url, pool_size=2)
    sessions, filing = make_session_factory(engine), make_session_factory(engine, autocommit=True)
    with UnitOfWork(sessions) as uow:
        people = {c["token"]: authenticate(uow.session, c["token"]) for c in reg["customers"]}
        support = authenticate(uow.session, reg["support"][0])
    work = _events(reg, 2 * pairs, 0)
    times: dict[str, dict[str, list[float]]] = {"file": {"on": [], "off": []}, "approve": {"on": [], "off": []}}
    filed: list[tuple[str, str]] = []
    for i, (token, env_id) in enumerate(work):
        mode = ("on", "off")[i % 2]
        command = FileTicket.from_body({"type": "upscale", "environment_id": env_id, "summary": "mail cost",
                                        "resources": [{"component": "yves", "size": "large"}]})
        started = time.perf_counter()
        ticket, _ = actions.file_ticket(people[token], command, uow=UnitOfWork(filing),
                                        now=datetime.now(timezone.utc), listener=listeners[mode])
        times["file"][mode].append(time.perf_counter() - started)
        filed.append((mode, ticket.id))
    for mode, ticket_id in filed:
        started = time.perf_counter()
        actions.change_status(support, Approve(ticket_id), uow=UnitOfWork(sessions),
                              now=datetime.now(timezone.utc), listener=listeners[mode])
        times["approve"][mode].append(time.perf_counter() - started)
    engine.dispose()
    return common.save("mail_cost", _summary(times))


def _summary(times: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for phase, modes in times.items():
        median = {mode: statistics.median(values) * 1000 for mode, values in modes.items()}
        p90 = {mode: _percentile(values, 0.9) * 1000 for mode, values in modes.items()}
        summary[phase] = {"median_ms": median, "p90_ms": p90, "n": {m: len(v) for m, v in modes.items()},
                          "on_vs_off": median["on"] / median["off"]}
        print(f"mail cost {phase:7}: median {median['on']:.2f} ms with mail, {median['off']:.2f} ms without "
              f"(p90 {p90['on']:.2f} / {p90['off']:.2f} ms, n={len(modes['on'])} each): "
              f"on/off = {median['on'] / median['off']:.3f}", flush=True)
    return summary
