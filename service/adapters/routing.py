"""The routing table: each (type, stage) has its own queue and provisioning target.

Production work has queues of its own, so it never waits behind a staging backlog."""
from __future__ import annotations

from dataclasses import dataclass

from service.adapters.config import Settings
from service.domain.hosting import Stage, TicketType

MAINTENANCE_QUEUE = "maintenance"
WEBHOOK_QUEUE = "webhooks"
MAIL_QUEUE = "mail"

QUEUES: dict[tuple[str, str], str] = {
    (TicketType.UPSCALE.value, Stage.DEV.value): "provision.dev.upscale",
    (TicketType.CHANGE.value, Stage.DEV.value): "provision.dev.change",
    (TicketType.UPSCALE.value, Stage.STAGE.value): "provision.stage.upscale",
    (TicketType.CHANGE.value, Stage.STAGE.value): "provision.stage.change",
    (TicketType.UPSCALE.value, Stage.PROD.value): "provision.prod.upscale",
    (TicketType.CHANGE.value, Stage.PROD.value): "provision.prod.change",
}

SHARES_QUEUE: dict[str, str] = {TicketType.LOAD_TEST.value: TicketType.CHANGE.value}
"""A load test's announce and withdraw travel through the change queues of its stage."""

PROD_QUEUES: tuple[str, ...] = tuple(q for (_, stage), q in QUEUES.items() if stage == Stage.PROD)
NON_PROD_QUEUES: tuple[str, ...] = tuple(q for q in QUEUES.values() if q not in PROD_QUEUES)
ALL_QUEUES: tuple[str, ...] = (*PROD_QUEUES, *NON_PROD_QUEUES, WEBHOOK_QUEUE, MAIL_QUEUE, MAINTENANCE_QUEUE)


@dataclass(frozen=True)
class Route:
    queue: str
    target: str


def route_for(ticket_type: str, stage: str, settings: Settings) -> Route:
    """The queue and provisioning base URL for one ticket; a per-route URL overrides the default."""
    queue = QUEUES[(SHARES_QUEUE.get(ticket_type, ticket_type), stage)]
    target = settings.routes.get(f"{ticket_type}_{stage}", settings.provisioning_url)
    return Route(queue=queue, target=target)
