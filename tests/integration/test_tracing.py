"""Tracing from the OTEL_* variables, in processes of their own (a tracer provider is set once
per process): off, nothing of OpenTelemetry is imported; on, spans reach a real OTLP/HTTP
receiver, an outbox row carries the trace on, and log lines name the trace."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.otlp import OtlpReceiver
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


OFF_SCRIPT = """
    import json, logging, sys
    {prelude}
    from pathlib import Path
    import redis  # redis-py imports OpenTelemetry's metrics SDK by itself when it is installed
    theirs = {{m for m in sys.modules if m.split(".")[0] == "opentelemetry"}}
    from service.adapters import logs, tracing
    from service.adapters.config import Settings
    from service.entrypoints import server
    from service.entrypoints.wsgi import build_app
    import workers.tasks

    server._post_fork(None, None)
    workers.tasks._start_tracing()
    home = Path({home!r})
    app = build_app(Settings(database_url=f"sqlite:///{{home}}/db.sqlite", broker_url="memory://",
                             home=home, secret_key="k" * 40))
    assert app.test_client().get("/healthz").status_code == 200
    class Row:
        trace_context = None
    row = Row()
    tracing.stamp(row)
    with tracing.resumed("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "step"):
        line = json.loads(logs.JsonFormatter().format(logging.LogRecord("t", 20, "", 0, "m", (), None)))
    assert row.trace_context is None and "trace_id" not in line and not tracing.active()
    ours = {{m for m in sys.modules if m.split(".")[0] == "opentelemetry"}} - theirs
    print(json.dumps(sorted(ours)))
"""


def test_with_otel_unset_envdesk_imports_nothing_of_opentelemetry(tmp_path: Path) -> None:
    """The API's and the worker's start-up hooks run, the app serves a request, an outbox row is
    stamped and a step resumed, a log line is written: none of it imports a module of
    OpenTelemetry (beyond the metrics SDK that redis-py imports, and never starts, by itself
    when the package is installed: no tracer, no instrumentation, no exporter)."""
    modules = _run(OFF_SCRIPT.format(prelude="", home=str(tmp_path)))
    assert json.loads(modules) == []


def test_without_the_otel_extra_installed_everything_runs(tmp_path: Path) -> None:
    """The extra is optional: with OpenTelemetry not importable at all, the same start-up,
    request, stamp, step and log line work."""
    blocked = 'sys.modules["opentelemetry"] = None  # as if the extra were not installed'
    modules = _run(OFF_SCRIPT.format(prelude=blocked, home=str(tmp_path)))
    assert json.loads(modules) == []


def test_tracing_asked_for_without_the_extra_installed_says_what_to_install() -> None:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None  # as if the extra were not installed
        from service.adapters import tracing
        tracing.start("envdesk-api")
    """)], cwd=ROOT, env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "pip install 'envdesk[otel]'" in out.stderr


def test_otel_sdk_disabled_wins_over_an_endpoint() -> None:
    from service.adapters.tracing import configured

    assert configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert configured({"OTEL_TRACES_EXPORTER": "console"})
    assert not configured({})
    assert not configured({"OTEL_SERVICE_NAME": "envdesk"})
    assert not configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"})
    assert not configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"})


def test_an_outbox_row_carries_the_request_trace_to_the_step_that_acts_on_it(
        receiver: OtlpReceiver, tmp_path: Path) -> None:
    """A span stands for the request; the row stamped inside it is acted on later, outside any
    span (as by a worker): that step, its SQL and its HTTP call land in the request's trace, and
    the log lines of both name it."""
    result = json.loads(_run(f"""
        import io, json, logging
        import requests
        from sqlalchemy import text
        from service.adapters import logs, tracing
        from service.adapters.db import make_engine

        assert tracing.start("envdesk-test")
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logs.JsonFormatter())
        log = logging.getLogger("envdesk.test")
        log.addHandler(handler)
        log.setLevel("INFO")

        class Row:
            trace_context = None
        row = Row()
        with tracing.resumed(None, "request"):
            request_context = tracing.traceparent()
            tracing.stamp(row)
            log.info("in the request")
        engine = make_engine("sqlite:///{tmp_path}/db.sqlite")  # made after start: traced
        with tracing.resumed(row.trace_context, "worker step"):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            requests.post("{receiver.endpoint}/not-traces", data=b"x", timeout=5)
            log.info("in the step")
        tracing.flush()
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        print(json.dumps({{"context": request_context, "row": row.trace_context, "lines": lines}}))
    """, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="50"))

    trace_id = result["context"].split("-")[1]
    assert result["row"] == result["context"]
    spans = wait_until(lambda: s if len(s := receiver.trace(trace_id)) >= 4 else None,
                       timeout=10, what="the spans of the request's trace")
    names = {span.name for span in spans}
    assert {"request", "worker step", "POST"} <= names, names
    assert any(span.attributes.get("db.system") == "sqlite" or span.name.startswith("SELECT")
               for span in spans), names
    assert {span.service for span in spans} == {"envdesk-test"}
    assert [line["trace_id"] for line in result["lines"]] == [trace_id, trace_id]
    assert all(len(line["span_id"]) == 16 for line in result["lines"])


def test_a_mail_joins_the_trace_of_the_request_that_moved_the_ticket(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """The mail outbox row recorded by a filing inside a request span keeps its context through
    addressing (one row per recipient), and the send, later and outside any span, is a span of
    that request's trace."""
    result = json.loads(_run(f"""
        import json
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from service.adapters import tracing
        from service.adapters.config import Settings
        from service.adapters.db import UnitOfWork, make_engine, make_session_factory
        from service.adapters.mail import composer_for
        from service.adapters.migrate import upgrade
        from service.app.notify.mail_delivery import send_message
        from service.app.notify.mail_outbox import MailOutbox, claim_due_mail
        from tests.support.world import build_world, file_via_use_case

        assert tracing.start("envdesk-test")
        upgrade("sqlite:///{tmp_path}/db.sqlite")
        engine = make_engine("sqlite:///{tmp_path}/db.sqlite")
        sessions = make_session_factory(engine)
        world = build_world(lambda: UnitOfWork(sessions))
        now = datetime.now(timezone.utc)
        with tracing.resumed(None, "request"):
            request_context = tracing.traceparent()
            file_via_use_case(world, uow=UnitOfWork(sessions), now=now, listener=MailOutbox())
        settings = Settings(database_url="sqlite://", broker_url="memory://", home=Path("{tmp_path}"),
                            mail_from="desk@envdesk.example", public_url="https://envdesk.example")
        sent = []
        outcomes = [send_message(i, uow=UnitOfWork(sessions), send=sent.append, composer=composer_for(settings),
                                 clock=lambda: now, max_attempts=3)
                    for i in claim_due_mail(UnitOfWork(sessions), now=now + timedelta(minutes=1), lease=60)]
        tracing.flush()
        print(json.dumps({{"context": request_context, "outcomes": outcomes, "to": [m["To"] for m in sent]}}))
    """, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="50"))

    assert result["outcomes"] == ["sent"] and result["to"] == ["customer_a@example.com"]
    trace_id = result["context"].split("-")[1]

    def names() -> set[str] | None:
        found = {span.name for span in receiver.trace(trace_id)}
        return found if "mail delivery" in found else None

    assert "request" in wait_until(names, timeout=10, what="the mail delivery span in the request's trace")


def test_a_request_is_one_trace_from_its_authentication_on_and_an_unsampled_one_makes_none(
        receiver: OtlpReceiver, tmp_path: Path) -> None:
    """Sampling follows the caller's `traceparent` (parentbased): a request it does not sample
    exports nothing, not even a span of its SQL, and the next request (on the same thread) that
    it does sample is one trace: the server span with every statement under it, the token's
    lookup included."""
    unsampled, sampled, caller = "1" * 32, "2" * 32, "3" * 16
    _run(f"""
        from pathlib import Path
        from service.adapters import tracing
        from service.adapters.config import Settings
        from service.adapters.db import UnitOfWork, make_engine, make_session_factory
        from service.adapters.migrate import upgrade
        from service.entrypoints.wsgi import build_app
        from tests.support.world import build_world

        url = "sqlite:///{tmp_path}/db.sqlite"
        upgrade(url)
        world = build_world(lambda: UnitOfWork(make_session_factory(make_engine(url))))
        assert tracing.start("envdesk-test")  # after the set-up: only the requests make spans
        client = build_app(Settings(database_url=url, broker_url="memory://", home=Path("{tmp_path}"),
                                    secret_key="k" * 40, auth_cache_seconds=0)).test_client()
        for trace_id, flags in (("{unsampled}", "00"), ("{sampled}", "01")):
            headers = world.auth("customer_a") | {{"traceparent": f"00-{{trace_id}}-{caller}-{{flags}}"}}
            assert client.get("/v1/tickets", headers=headers).status_code == 200
        tracing.flush()
        print("done")
    """, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_TRACES_SAMPLER="parentbased_always_on",
         OTEL_BSP_SCHEDULE_DELAY="50")

    spans = wait_until(lambda: s if len(s := receiver.trace(sampled)) >= 3 else None,
                       timeout=10, what="the sampled request's spans")
    server = [span for span in spans if span.kind == "server"]
    assert [span.name for span in server] == ["GET /v1/tickets"]
    statements = [span for span in spans if span.kind == "client"]  # SQLite's BEGINs among them
    assert [span.name.split()[0] for span in statements].count("SELECT") == 2, [span.name for span in spans]
    assert {span.parent_id for span in statements} == {server[0].span_id}  # the token's owner, the page
    assert {span.trace_id for span in receiver.spans} == {sampled}
