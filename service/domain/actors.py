"""Who made a move: a person (by user id) or a part of the system (by name), never nobody."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is ActorKind.USER) != bool(self.id) or (self.kind is ActorKind.SYSTEM) != bool(self.name):
            raise ValueError("a user actor has an id, a system actor a name")

    @classmethod
    def user(cls, user_id: str) -> "Actor":
        return cls(ActorKind.USER, id=user_id)

    @classmethod
    def system(cls, name: str) -> "Actor":
        return cls(ActorKind.SYSTEM, name=name)


WORKER = Actor.system("worker")
"""the provisioning pipeline"""
SWEEP = Actor.system("sweep")
"""the periodic pass that starts periods, expires and reverts them"""
POLICY = Actor.system("policy")
"""the approval policy deciding at filing"""
