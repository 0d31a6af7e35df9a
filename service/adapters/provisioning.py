"""Client of the provisioning API (docs/operations.md#provisioning), built on
``outbound.HttpClient``.

``submit`` hands one ticket action to provisioning under the idempotency key
``{ticket_id}:{action}``, so submitting again returns the same operation instead
of applying it twice. ``get`` reads the operation's progress. Failures surface as
``outbound.RetryLater`` or ``outbound.GiveUp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from service.domain.lifecycle import ProvisioningAction
from service.adapters.outbound import GiveUp, HttpClient, RetryLater

__all__ = ["ACTIONS", "STATUSES", "GiveUp", "Operation", "ProvisioningClient", "RetryLater"]

ACTIONS = frozenset(a.value for a in ProvisioningAction)
STATUSES = frozenset({"pending", "running", "succeeded", "failed"})
FINISHED_STATUSES = frozenset({"succeeded", "failed"})
ENVIRONMENT_FIELDS = ("id", "name", "stage", "account_id")
REQUEST_PAYLOADS = ("resources", "change", "load_test")


@dataclass(frozen=True)
class Operation:
    id: str
    status: str
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown operation status {self.status!r}")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class ProvisioningClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
    ) -> None:
        if not base_url:
            raise ValueError("a provisioning base URL is required")
        if not token:
            raise ValueError("a provisioning token is required")
        self._http = HttpClient(
            base_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            name="provisioning",
        )

    def submit(
        self, *, ticket_id: str, action: str, environment: Mapping, request: Mapping,
        attempt_round: int = 1,
    ) -> Operation:
        body = operation_body(
            ticket_id=ticket_id, action=action, environment=environment, request=request
        )
        headers = {"Idempotency-Key": idempotency_key(ticket_id, action, attempt_round)}
        data = self._http.post_json("/v1/operations", body, headers=headers)
        return parse_operation(data)

    def get(self, operation_id: str) -> Operation:
        if not operation_id:
            raise ValueError("an operation id is required")
        data = self._http.get_json(f"/v1/operations/{quote(operation_id, safe='')}")
        operation = parse_operation(data)
        if operation.id != operation_id:
            raise RetryLater("provisioning answered about a different operation")
        return operation

    def close(self) -> None:
        self._http.close()


def idempotency_key(ticket_id: str, action: str, attempt_round: int = 1) -> str:
    """``{ticket_id}:{action}``, stable across every retry and redelivery of one round.

    A new round (``:2``, ``:3``...) starts only after an operation ended ``failed`` (nothing was
    applied, and provisioning keeps answering the old key with that failed operation). Every other
    failure keeps the key, so an operation created after a timeout is found, not repeated."""
    return (f"{ticket_id}:{action}" if attempt_round <= 1
            else f"{ticket_id}:{action}:{attempt_round}")


def operation_body(
    *, ticket_id: str, action: str, environment: Mapping, request: Mapping
) -> dict:
    """The POST body of the provisioning contract; raises ValueError on anything incomplete."""
    if not str(ticket_id):
        raise ValueError("a ticket id is required")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}, not {action!r}")
    missing = [field for field in ENVIRONMENT_FIELDS if field not in environment]
    if missing:
        raise ValueError(f"environment is missing {', '.join(missing)}")
    return {
        "ticket_id": str(ticket_id),
        "action": action,
        "environment": {field: environment[field] for field in ENVIRONMENT_FIELDS},
        "request": _request_part(request),
    }


def _request_part(request: Mapping) -> dict:
    if not request.get("type"):
        raise ValueError("request type is required")
    payloads = [field for field in REQUEST_PAYLOADS if field in request]
    if len(payloads) != 1:
        raise ValueError("request needs exactly one of resources, change or load_test")
    return {"type": request["type"], payloads[0]: request[payloads[0]]}


def parse_operation(data: Mapping) -> Operation:
    """An ``Operation`` from a response body; an invalid body is ``RetryLater``."""
    operation_id = data.get("id")
    status = data.get("status")
    error = data.get("error")
    if not isinstance(operation_id, str) or not operation_id:
        raise RetryLater("provisioning sent a malformed response: missing operation id")
    if status not in STATUSES:
        raise RetryLater(f"provisioning sent a malformed response: unknown status {status!r:.40}")
    if error is not None and not isinstance(error, str):
        error = str(error)
    return Operation(id=operation_id, status=status, error=error or None)
