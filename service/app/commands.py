"""The use cases' inputs: one frozen dataclass per action, built once at the edge (an API view,
a console form, the CLI) from what it has already validated. The request body and the period of
a temporary upscale are read here and nowhere else."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Mapping

from service.domain.lifecycle import Action


@dataclass(frozen=True)
class Period:
    """The period of a temporary upscale."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class FileTicket:
    """File an upscale or change request."""

    type: str
    environment_id: str
    summary: str
    resources: list[dict[str, Any]] | None = None
    change: dict[str, Any] | None = None
    period: Period | None = None
    verified_on: tuple[str, ...] = ()
    """The tickets a change cites as verified (``verified_on``: one id or a list of them)."""
    idempotency_key: str | None = None
    request_hash: str = ""
    """The body's digest when an Idempotency-Key came with it: a replay must send the same body."""
    accept_charges: tuple[str, str] | None = None
    """(amount, currency) of the charge the requester accepts (``accept_charges``)."""
    apply_at: datetime | None = None
    """Applied no earlier than this (it waits as ``scheduled``); lead times count to it."""
    emergency: bool = False
    emergency_reason: str | None = None
    load_test: dict[str, Any] | None = None
    """A load test's ``peak_rps``, ``source_cidrs`` and ``upscale_ticket_id``; its window is ``period``."""

    @classmethod
    def from_body(cls, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> "FileTicket":
        """From a request body as TicketCreateSchema loads it (the period's ends as datetimes)."""
        period, cited, accepted = data.get("period") or data.get("window"), data.get("verified_on"), data.get("accept_charges")
        return cls(
            type=data["type"], environment_id=data["environment_id"], summary=data["summary"],
            resources=data.get("resources"), change=data.get("change"),
            period=Period(period["start"], period["end"]) if period else None,
            verified_on=() if cited is None else (cited,) if isinstance(cited, str) else tuple(cited),
            idempotency_key=idempotency_key,
            request_hash=request_hash(data) if idempotency_key else "",
            accept_charges=(accepted["amount"], accepted["currency"]) if accepted else None,
            apply_at=data.get("apply_at"), emergency=bool(data.get("emergency")),
            emergency_reason=data.get("emergency_reason"),
            load_test=({name: data.get(name) for name in ("peak_rps", "source_cidrs", "upscale_ticket_id")}
                       if data["type"] == "load_test" else None),
        )

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> "FileTicket":
        """From a body stored as JSON (a draft's): the period's ends as ISO 8601 strings."""
        for span in ("period", "window"):
            if data.get(span):
                data = {**data, span: {name: datetime.fromisoformat(when) for name, when in data[span].items()}}
        if data.get("apply_at"):
            data = {**data, "apply_at": datetime.fromisoformat(data["apply_at"])}
        return cls.from_body(data, idempotency_key=idempotency_key)

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        return (self.period.start, self.period.end) if self.period else None

    @property
    def change_kind(self) -> str | None:
        return (self.change or {}).get("kind")


def request_hash(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ChangeStatus:
    """A person's move of a ticket; ``if_match``: the ETag the caller read it at."""

    ticket_id: str
    reason: str | None = None
    if_match: str | None = None
    action: ClassVar[Action]


@dataclass(frozen=True)
class Approve(ChangeStatus):
    action = Action.APPROVE


@dataclass(frozen=True)
class Reject(ChangeStatus):
    action = Action.REJECT


@dataclass(frozen=True)
class Cancel(ChangeStatus):
    action = Action.CANCEL


@dataclass(frozen=True)
class Retry(ChangeStatus):
    action = Action.RETRY


@dataclass(frozen=True)
class AddComment:
    """A comment on a ticket, or (``internal``, support staff only) an internal note."""

    ticket_id: str
    body: str
    internal: bool = False


@dataclass(frozen=True)
class SubmitDraft:
    """File a partner's draft as the customer's ticket."""

    draft_id: str
    accept_charges: tuple[str, str] | None = None
    """(amount, currency): the submitting customer accepts the charge (a draft's own is ignored)."""


STATUS_COMMANDS: dict[Action, type[ChangeStatus]] = {
    command.action: command for command in (Approve, Reject, Cancel, Retry)}
