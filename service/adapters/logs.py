"""Structured logs: one JSON object per line, with the request id (and the trace and span ids
when tracing runs), and never a secret."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from typing import Any, Callable

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

SECRET_PATTERNS = (
    re.compile(r"edk_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(r"(?i)((?:token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s,;\"']+"),
)
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
trace_ids: Callable[[], tuple[str, str] | None] | None = None
"""The current span's (trace_id, span_id), set by service.adapters.tracing when tracing runs."""
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "request_id"}


# Words one of SECRET_PATTERNS needs (in any case): ASCII text without any of them has nothing to
# redact, which a substring test tells for a fraction of the patterns' cost (every log line).
SECRET_HINTS = ("edk_", "bearer", "token", "secret", "password", "authorization")


def scrub(text: str) -> str:
    """Replace anything that looks like a token or secret with [redacted]."""
    if text.isascii():
        lowered = text.lower()
        if not any(hint in lowered for hint in SECRET_HINTS):
            return text
    return scrub_patterns(text)


def scrub_patterns(text: str) -> str:
    """``scrub`` by the patterns alone."""
    text = SECRET_PATTERNS[0].sub("[redacted]", text)
    for pattern in SECRET_PATTERNS[1:]:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")

    def _timestamp(self, record: logging.LogRecord) -> str:
        """ISO 8601 UTC with milliseconds; the part up to the second is formatted once a second."""
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        ids = trace_ids() if trace_ids is not None else None
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        entry.update({k: v for k, v in record.__dict__.items()
                      if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


def configure_logging(level: str | int = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("urllib3", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel("WARNING")


def accept_request_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    if value and VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex
