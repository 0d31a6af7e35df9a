"""OpenTelemetry tracing, configured from the standard ``OTEL_*`` variables, or nothing at all.

Tracing is on when the environment asks for an exporter (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` other than ``none``) and
``OTEL_SDK_DISABLED`` is not ``true``. Each process starts it once, after the fork: gunicorn's
``post_fork`` for the API, Celery's ``worker_process_init`` for the workers (the SDK's export
thread and the instrumentations must belong to the process that uses them). When it is off, no
module of OpenTelemetry is imported and every function here returns at its first line.

What the official instrumentations do not carry is the context of a move through the outbox:
a row written by a request (a webhook event, a ticket handed to the workers) is stamped with the
request's W3C ``traceparent`` (``stamp``), and the worker that acts on the row later, maybe
after a sweep republished it, opens its span under that context (``resumed``), so the
provisioning call and the webhook join the trace of the request that caused them."""
from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol

from service.adapters import logs

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

OFF_VALUES = ("", "none")
EXCLUDED_URLS = "healthz,readyz,metrics"
"""The probes' and the scraper's paths: no trace per probe unless OTEL_PYTHON_FLASK_EXCLUDED_URLS
says otherwise."""


class Traced(Protocol):
    """An outbox row that carries the trace context of the move that wrote it."""

    trace_context: str | None


class _Tracing:
    """What a started process holds: the tracer, the W3C propagator, the provider, and what
    the SQLAlchemy instrumentation's engine tracer needs (its tracer and connection counter)."""

    def __init__(self, provider: Any, tracer: Any, propagator: Any, sql_tracer: Any, sql_usage: Any) -> None:
        self.provider, self.tracer, self.propagator = provider, tracer, propagator
        self.sql_tracer, self.sql_usage = sql_tracer, sql_usage


_state: _Tracing | None = None


def configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter not in OFF_VALUES
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def active() -> bool:
    return _state is not None


def start(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Start tracing in this process when configured (once); True if it runs."""
    global _state
    if _state is not None or not configured(environ):
        return _state is not None
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sql_version
        from opentelemetry.metrics import get_meter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError as exc:
        raise RuntimeError("the OTEL_* variables ask for tracing, but OpenTelemetry is not installed: "
                           "pip install 'envdesk[otel]' (or unset them)") from exc

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the process's own name.
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": service_name}))
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    RequestsInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    sql_scope = "opentelemetry.instrumentation.sqlalchemy"
    sql_usage = get_meter(sql_scope, sql_version).create_up_down_counter(
        "db.client.connections.usage", unit="connections",
        description="The number of connections that are currently in state described by the state attribute.")
    _state = _Tracing(provider, trace.get_tracer("envdesk"), TraceContextTextMapPropagator(),
                      trace.get_tracer(sql_scope, sql_version), sql_usage)
    logs.trace_ids = _current_ids
    log.info("tracing on", extra={"service_name": provider.resource.attributes.get("service.name")})
    return True


def _exporters(environ: Mapping[str, str]) -> list[Any]:
    """OTLP over HTTP/protobuf (the default, or ``otlp``; OTEL_EXPORTER_OTLP_PROTOCOL is not
    read: gRPC is not installed) and/or ``console``, as listed."""
    names = [n.strip().lower() for n in (environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")]
    exporters: list[Any] = []
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name not in OFF_VALUES:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none)", name)
    return exporters


def instrument_engine(engine: Any) -> None:
    """A span per SQL statement on ``engine`` (made by ``db.make_engine``), when tracing runs.

    The SQLAlchemy instrumentation's engine tracer, attached to the engine itself, rather than
    ``SQLAlchemyInstrumentor().instrument()``: that also wraps every ``Engine.connect`` in a
    "connect" span (a pool checkout, two a request, a third of a create's spans, telling nothing
    the statements' spans do not) and patches ``create_engine`` process-wide. Its declared range
    stops below SQLAlchemy 2.1, whose engine events it uses are unchanged
    (tests/integration/test_tracing.py sees the SQL spans). No sqlcommenter: a comment on every
    statement costs CPU on both ends and defeats PostgreSQL's statement statistics."""
    if _state is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    EngineTracer(_state.sql_tracer, engine, _state.sql_usage, enable_commenter=False)


def flush() -> None:
    """Export what is buffered (a worker process about to exit skips atexit handlers)."""
    if _state is not None:
        _state.provider.force_flush()


def instrument_app(app: "Flask") -> None:
    """A server span per request, with its route, when tracing runs. Call it on a new app,
    before any other hook is registered: Flask runs ``before_request`` functions in order, so
    authentication (and its statement) then runs inside the request's span, in its trace."""
    if _state is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    excluded = None if os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS") else EXCLUDED_URLS
    # No sqlcommenter (on by default): its per-request context would only feed SQL comments,
    # which the engines do not write (see instrument_engine).
    FlaskInstrumentor.instrument_app(app, excluded_urls=excluded, enable_commenter=False)
    app.before_request(_quiet_unless_recorded)  # after the instrumentation's: its span is current
    app.teardown_request(_end_quiet)  # teardowns run in reverse: before the span is detached


_QUIET = "envdesk.tracing_suppressed"


def _quiet_unless_recorded() -> None:
    """A request whose span is not recorded (not sampled, or a probe's excluded URL) runs with
    the instrumentations suppressed: its SQL statements (and outbound calls) would make spans
    that are not recorded either, yet cost their hooks' work per statement. The trace context
    still travels (the Celery hand-off, the outbox rows), so the workers follow the decision."""
    from flask import request
    from opentelemetry import trace
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    if trace.get_current_span().is_recording():
        return
    quiet = suppress_instrumentation()
    quiet.__enter__()  # left in _end_quiet, at the request's teardown
    request.environ[_QUIET] = quiet


def _end_quiet(_exc: BaseException | None) -> None:
    from flask import request

    quiet = request.environ.pop(_QUIET, None)
    if quiet is not None:
        quiet.__exit__(None, None, None)


def traceparent() -> str | None:
    """The current span's W3C ``traceparent``; None when tracing is off or no span is open."""
    if _state is None:
        return None
    carrier: dict[str, str] = {}
    _state.propagator.inject(carrier)
    return carrier.get("traceparent")


def stamp(row: Traced) -> None:
    """Write the current trace context on an outbox row (in the transaction that writes the
    move); nothing when tracing is off, so a row keeps the context it had."""
    if _state is None:
        return
    context = traceparent()
    if context:
        row.trace_context = context


@contextlib.contextmanager
def resumed(trace_context: str | None, name: str, **attributes: str) -> Iterator[None]:
    """A span named ``name`` in the trace stored on an outbox row (the request that caused the
    work), linked to the span that runs now (the Celery task); without a stored context, a
    child of the current span. Nothing when tracing is off."""
    if _state is None:
        yield
        return
    from opentelemetry import trace

    current = trace.get_current_span().get_span_context()
    parent = _state.propagator.extract({"traceparent": trace_context}) if trace_context else None
    links = [trace.Link(current)] if parent is not None and current.is_valid else None
    with _state.tracer.start_as_current_span(name, context=parent, links=links, attributes=attributes):
        yield


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
