"""Mail: how soon a status event's message reaches an SMTP server, how fast the outbox drains, and
what mail costs filing and approving.

``run`` — 1,000 status events (filings through the API, paced at ``rate`` per second), each
telling its requester; an aiosmtpd sink on 127.0.0.1 notes when it accepts each message. The
latency is from the 201 (the event is committed before it is sent) to the sink's acceptance; then
a burst of ``burst`` more events at once gives the drain rate (messages accepted per second).

``cost`` — filing and approving with mail on (MAIL_DIR set: the API writes the outbox rows) and off,
side by side, alternating, with wrk; only the API runs (nothing is sent during the measurement)."""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.parser import BytesParser
from typing import Any

import requests

from bench import common
from bench.common import Proc, fmt, log

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


def run(events: int = 1000, rate: float = 50.0, burst: int = 1000) -> dict[str, Any]:
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


def cost(duration: float = 8, conns: int = 16, rounds: int = 2) -> dict[str, Any]:
    """Filing, then approving, with mail on and off, alternating ``rounds`` times each."""
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=300, envs_per_account=60, support_tokens=40)
    body = '{"type": "upscale", "environment_id": "%s", "summary": "load test next week", ' \
           '"resources": [{"component": "yves", "size": "large"}]}'
    lines = [("POST", "/v1/tickets", c["token"], body % e) for j in range(60)
             for c in reg["customers"] for e in c["stage_envs"][j:j + 1]]
    modes = {"off": {}, "on": {"MAIL_DIR": str(common.WORK / "mail")}}
    limits = {"RATE_LIMIT_WRITES": "", "MAX_OPEN_TICKETS_PER_ACCOUNT": "0"}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {"file": {"off": [], "on": []},
                                                          "approve": {"off": [], "on": []}}
    runs = 2 * rounds
    for phase in ("file", "approve"):
        work = lines if phase == "file" else _approvals(reg)
        share = len(work) // runs
        for r in range(rounds):
            for i, mode in enumerate(("off", "on") if r % 2 == 0 else ("on", "off")):
                part = work[(2 * r + i) * share:(2 * r + i + 1) * share]
                warm = common.write_requests(f"mail-{phase}-{mode}-{r}-warm", part[:300])
                data = common.write_requests(f"mail-{phase}-{mode}-{r}", part[300:])
                with common.running(common.start_api(**limits, **modes[mode])):
                    common.wrk(common.API, data=warm, conns=conns, duration=1)
                    result = common.wrk(common.API, data=data, conns=conns, duration=duration)
                results[phase][mode].append(result)
                print(f"mail cost {phase:7} mail {mode:3} round {r + 1}: {fmt(result)}  "
                      f"(lines {len(part) - 300})", flush=True)
    return common.save("mail_cost", _summary(results))


def _approvals(reg: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """An approval of every pending ticket, by the support tokens in turn."""
    with common.connect() as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM tickets WHERE status = 'pending_approval' ORDER BY created_at, id")]
    support = reg["support"]
    return [("POST", f"/v1/tickets/{t}/approve", support[i % len(support)], "{}") for i, t in enumerate(ids)]


def _summary(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for phase, modes in results.items():
        rps = {mode: statistics.mean(r["rps"] for r in runs) for mode, runs in modes.items()}
        p50 = {mode: statistics.mean(r["p50_ms"] for r in runs) for mode, runs in modes.items()}
        summary[phase] = {"rps": rps, "p50_ms": p50, "on_vs_off": rps["on"] / rps["off"], "runs": modes}
        print(f"mail cost {phase:7}: mail on {rps['on']:.0f} req/s (p50 {p50['on']:.1f} ms), off {rps['off']:.0f} "
              f"req/s (p50 {p50['off']:.1f} ms): on/off = {rps['on'] / rps['off']:.3f}", flush=True)
    return summary
