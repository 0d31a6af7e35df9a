"""HTTP front of the provisioning simulator (stdlib ThreadingHTTPServer)."""

from __future__ import annotations

import hmac
import json
import logging
import signal
import sys
import threading
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from service.provisioning_sim.state import (
    MAX_BODY_BYTES, Reply, SimError, SimSettings, SimState, validate_operation_body,
)

logger = logging.getLogger(__name__)


class SimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SimState) -> None:
        self.state = state
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SimServer
    server_version = "envdesk-provisioning-sim"
    # Keep-alive: a client sends its next request on the same connection (every reply has a
    # Content-Length), as it would to a real provisioning API.
    protocol_version = "HTTP/1.1"
    # Headers and body leave as two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK of the headers (≈ 40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            body = self._read_body() if self.command == "POST" else b""
            reply = self._route(urlsplit(self.path).path, body)
        except SimError as exc:
            reply = (exc.status, {"error": exc.message}, exc.headers)
        self._reply(reply)

    def _route(self, path: str, body: bytes) -> Reply:
        state = self.server.state
        if path == "/_sim/stats" and self.command == "GET":
            return 200, state.stats(), {}
        if path in ("/_sim/config", "/_sim/reset") and self.command == "POST":
            self._authorize()
            if path == "/_sim/reset":
                state.reset()
                return 200, {"reset": True}, {}
            return 200, _public(state.configure(_json(body))), {}
        if path == "/v1/operations" and self.command == "POST":
            self._enter_operations_api()
            key = self._idempotency_key()
            return state.submit(key, validate_operation_body(_json(body)))
        if path.startswith("/v1/operations/") and self.command == "GET":
            self._enter_operations_api()
            return state.lookup(unquote(path.removeprefix("/v1/operations/")))
        raise SimError(404, f"no route for {self.command} {path}")

    def _enter_operations_api(self) -> None:
        delay = self.server.state.settings.response_delay
        if delay > 0:
            self.server.stopping.wait(delay)
        self.server.state.inject_failure()
        self._authorize()

    def _authorize(self) -> None:
        token = self.server.state.settings.token
        if token is None:
            return
        sent = self.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise SimError(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})

    def _idempotency_key(self) -> str:
        key = self.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise SimError(400, "Idempotency-Key header is required")
        return key

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True  # the body's end is unknown: this connection is done
            raise SimError(400, "invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body must not be taken for a request
            raise SimError(413, "body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _reply(self, reply: Reply) -> None:
        status, payload, headers = reply
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before %s %s was answered", self.command, self.path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info("%s %s -> %s", self.command, self.path, code)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug(format, *args)


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise SimError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SimError(400, "body must be a JSON object")
    return data


def _public(settings: SimSettings) -> dict:
    view = {field.name: getattr(settings, field.name) for field in fields(SimSettings)}
    view["token"] = "[set]" if settings.token else None
    return view


def make_server(host: str, port: int, settings: SimSettings) -> SimServer:
    """A bound, not yet serving simulator; port 0 picks a free port (see ``server_address``)."""
    return SimServer((host, port), SimState(settings))


def serve(host: str, port: int, settings: SimSettings) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""
    server = make_server(host, port, settings)
    bound_host, bound_port = server.server_address[:2]
    print(f"provisioning simulator on http://{bound_host}:{bound_port}", file=sys.stderr)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
