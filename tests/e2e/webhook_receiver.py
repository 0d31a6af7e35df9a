"""A webhook receiver for the e2e stack: records every POST and whether its signature verifies."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.adapters import webhooks
@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]
    valid: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """Records every POST and whether its Envdesk-Signature verifies with the shared secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Hook] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get(webhooks.SIGNATURE_HEADER, "")
                valid = webhooks.verify(header, body, receiver.secret, now=int(time.time()))
                with receiver.lock:
                    receiver.received.append(Hook(body, dict(self.headers.items()), valid))
                self.send_response(204 if valid else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def for_ticket(self, ticket_id: str) -> list[Hook]:
        with self.lock:
            return [h for h in self.received if _ticket_id(h) == ticket_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ticket_id(hook: Hook) -> str | None:
    try:
        return hook.json.get("ticket", {}).get("id")
    except ValueError:
        return None
