"""SQLAlchemy 2 typed models: the registry (accounts, users, tokens, environments) and tickets."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.adapters.db import UTCDateTime
from service.domain.lifecycle import OPEN_STATUSES, Status

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerLink(Base):
    __tablename__ = "partner_links"
    partner_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    customer_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    name: Mapped[str | None] = mapped_column(String(200))
    # A user signed in through the configured OIDC issuer is known by (issuer, subject).
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console session. The browser holds only a random id; this row holds its
    SHA-256, so the table alone lets no one in. Ends when deleted (sign-out, an operator's
    revocation), idle past ``idle_expires_at`` or past ``expires_at``."""

    __tablename__ = "console_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    idle_expires_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Environment(Base):
    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        # The environments of one stage, from the index alone (the console's stage filter).
        Index("ix_environments_stage", "stage", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(8))
    sizes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    caps: Mapped[dict[str, Any]] = mapped_column(default=dict)
    upscale_allowed: Mapped[bool | None] = mapped_column(Boolean)
    requires_staging_verification: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
# What the staff console's queue lists: open work and failures waiting for a retry.
QUEUE_STATUSES = frozenset({*OPEN_STATUSES, Status.FAILED})
_QUEUE = ", ".join(f"'{s.value}'" for s in sorted(QUEUE_STATUSES))


SLA_OWED = f"status = '{Status.PENDING_APPROVAL.value}' AND sla_alerted_at IS NULL"
"""A ticket waiting for a decision whose SLA alert has not been sent (it may not be due yet)."""


TRACEPARENT_LENGTH = 55
"""A W3C traceparent: version, trace id, span id and flags (service/adapters/tracing.py)."""


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_open_per_environment", "environment_id", "type", unique=True,
            postgresql_where=text(f"status IN ({_OPEN})"), sqlite_where=text(f"status IN ({_OPEN})"),
        ),
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_account_created", "account_id", "created_at", "id"),
        Index("ix_tickets_status_created", "status", "created_at", "id"),
        Index("ix_tickets_due", "status", "next_attempt_at"),
        Index("ix_tickets_account_status", "account_id", "status"),
        # Portals polling for what changed: GET /v1/tickets?updated_since=...
        Index("ix_tickets_account_updated", "account_id", "updated_at"),
        Index("ix_tickets_updated", "updated_at"),
        Index("ix_tickets_queue", "created_at", "id",
              postgresql_where=text(f"status IN ({_QUEUE})"), sqlite_where=text(f"status IN ({_QUEUE})")),
        # The sweep's temporary upscales whose period begins or ends (service/app/provisioning/sweep.py).
        Index("ix_tickets_period_start", "status", "period_start",
              postgresql_where=text("period_start IS NOT NULL"), sqlite_where=text("period_start IS NOT NULL")),
        Index("ix_tickets_period_end", "status", "period_end",
              postgresql_where=text("period_end IS NOT NULL"), sqlite_where=text("period_end IS NOT NULL")),
        # The console's count per status (also per stage) read from the index alone.
        Index("ix_tickets_queue_status", "status", "environment_id",
              postgresql_where=text(f"status IN ({_QUEUE})"), sqlite_where=text(f"status IN ({_QUEUE})")),
        # Pending tickets staff were not yet told are past their SLA (service/app/notify/staff_alerts.py),
        # with what the sweep's look needs, so that it is an index-only scan of what is owed.
        Index("ix_tickets_sla_owed", "created_at", postgresql_include=["id", "environment_id"],
              postgresql_where=text(SLA_OWED), sqlite_where=text(SLA_OWED)),
        # The sweep's scheduled tickets that become due (service/app/provisioning/sweep.py).
        Index("ix_tickets_not_before", "status", "not_before",
              postgresql_where=text("not_before IS NOT NULL"), sqlite_where=text("not_before IS NOT NULL")),
        # The calendar (service/app/calendar/): tickets with a time, read from the end of the
        # range asked about onwards, so that history behind it costs nothing.
        Index("ix_tickets_calendar", "calendar_end",
              postgresql_where=text("calendar_end IS NOT NULL"), sqlite_where=text("calendar_end IS NOT NULL")),
        Index("ix_tickets_account_calendar", "account_id", "calendar_end",
              postgresql_where=text("calendar_end IS NOT NULL"), sqlite_where=text("calendar_end IS NOT NULL")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The case number, ENV-<n> (service.adapters.case_numbers draws it; the default serves rows
    # written by other means).
    number: Mapped[int] = mapped_column(BigInteger, unique=True,
                                        server_default=text("nextval('ticket_numbers')"))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer, default=1)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # The partner's user who prepared it as a draft, when a customer filed it from one.
    drafter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(Text)
    resources: Mapped[list[Any] | None]
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    change: Mapped[dict[str, Any] | None]
    verified_on: Mapped[str | None] = mapped_column(String(36))
    # Every ticket a prod change cites (verified_on given as one id or a list).
    verified_on_ids: Mapped[list[Any] | None]
    baseline: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    failed_action: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    operation_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    round: Mapped[int] = mapped_column(Integer, default=1)
    # The decision clock: staff's first comment or decision, and the approve/reject itself.
    first_response_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # When staff were told the ticket passed its decision SLA (told once).
    sla_alerted_at: Mapped[datetime | None]
    # The approval policy's decision at filing: how many staff approvals, by which rule.
    approvals_required: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    approval_rule: Mapped[str | None] = mapped_column(String(100))
    # The W3C traceparent of the move that last handed the ticket to the workers (tracing on).
    trace_context: Mapped[str | None] = mapped_column(String(TRACEPARENT_LENGTH))
    # An upscale's quote at filing when a price list is configured, and who accepted its charge
    # when, for how much (service.app.billing.consent).
    charges: Mapped[dict[str, Any] | None]
    # The change calendar (SPEC section 11): when the customer asked it to be applied, when a
    # scheduled ticket is due (apply_at, a period's start, or a freeze's or maintenance's end),
    # an emergency's reason, and what a load test announces.
    apply_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]
    emergency: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    emergency_reason: Mapped[str | None] = mapped_column(Text)
    load_test: Mapped[dict[str, Any] | None]
    # The span the calendar shows (a period, a load test's window, apply_at); null: no time.
    calendar_start: Mapped[datetime | None]
    calendar_end: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    approvals: Mapped[list["TicketApproval"]] = relationship(
        lazy="selectin", order_by="TicketApproval.at", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class TicketApproval(Base):
    """One staff member's approval of a ticket that needs more than one."""

    __tablename__ = "ticket_approvals"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketEvent(Base):
    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # A person (actor_kind "user", actor_id) or a part of the system ("system", actor_name).
    actor_kind: Mapped[str] = mapped_column(String(8), default="user", server_default="user")
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_name: Mapped[str | None] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)


class Draft(Base):
    """A request a partner prepared for its customer; it files nothing until a customer submits it."""

    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_account_created", "account_id", "created_at", "id"),
        Index("ix_drafts_drafter_account_created", "drafter_account_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    drafter_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    drafter_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    request: Mapped[dict[str, Any]]
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"))
    submitted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_UNADDRESSED = "url IN ('', 'staff')"
"""An event's url before a worker addresses it: '' for the portal, 'staff' for staff."""


_OWED = "delivered_at IS NULL AND given_up_at IS NULL"
"""A delivery neither made nor given up."""


_ACTIVE = "deleted_at IS NULL"


class ChangeWindow(Base):
    """A maintenance or freeze window (service/domain/windows.py). Deleting one keeps the row
    (``deleted_at``) so that calendar feeds can say it was cancelled; ``sequence`` counts its
    changes for iCalendar's SEQUENCE."""

    __tablename__ = "change_windows"
    __table_args__ = (
        # Windows that may touch a time: one-off windows ending after it, and every recurring one.
        Index("ix_change_windows_active", "last_end", postgresql_where=text(_ACTIVE),
              sqlite_where=text(_ACTIVE)),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    rrule: Mapped[str | None] = mapped_column(String(500))
    # The end of the last occurrence; null for a recurrence without COUNT or UNTIL.
    last_end: Mapped[datetime | None]
    scope_stage: Mapped[str | None] = mapped_column(String(8))
    scope_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    scope_environment_id: Mapped[str | None] = mapped_column(ForeignKey("environments.id"))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class ChangeWindowsVersion(Base):
    """One row: the version of the stored windows, a random id that declaring or withdrawing a
    window replaces in the same transaction (random, not a count: a database restored from a
    backup never shows a version some process kept other windows at). A process that keeps the
    windows (service.app.calendar.kept) tells by primary key whether they still hold."""

    __tablename__ = "change_windows_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[str] = mapped_column(String(36))


class CalendarKey(Base):
    """A user's key to the iCalendar feed (calendar programs send no bearer token); only its
    SHA-256 is stored, one per user: a new key replaces the old."""

    __tablename__ = "calendar_keys"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # Deliveries still to be made: the sweep hands out the due ones (service.app.notify.outbox).
        Index("ix_webhook_deliveries_owed", "next_attempt_at",
              postgresql_where=text(_OWED), sqlite_where=text(_OWED)),
        # Events the workers have not yet addressed to their receivers (service.app.notify.outbox).
        Index("ix_webhook_deliveries_unaddressed", "created_at",
              postgresql_where=text(_UNADDRESSED), sqlite_where=text(_UNADDRESSED)),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(36))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    given_up_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The W3C traceparent of the request whose move wrote the event (tracing on).
    trace_context: Mapped[str | None] = mapped_column(String(TRACEPARENT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_MAIL_OWED = "recipient_id IS NOT NULL AND sent_at IS NULL AND given_up_at IS NULL"
"""A message addressed to a person and neither sent nor given up."""
_MAIL_UNADDRESSED = "recipient_id IS NULL"
"""An event the workers have not yet addressed to the people it tells."""


class MailMessage(Base):
    """The mail outbox (service.app.notify.mail): a row per event as the move records it
    (``recipient_id`` NULL), which the workers replace by a row per (event, recipient). The row's
    id is its Message-ID's left part, so a message sent again is the same message."""

    __tablename__ = "mail_messages"
    # Two indexes only (the key and what is unaddressed) are touched by a move's row: the event
    # is addressed once, its row taken FOR UPDATE SKIP LOCKED and deleted in that transaction.
    # The others hold addressed messages only, which the workers write.
    __table_args__ = (
        Index("ix_mail_messages_owed", "next_attempt_at",
              postgresql_where=text(_MAIL_OWED), sqlite_where=text(_MAIL_OWED)),
        Index("ix_mail_messages_unaddressed", "created_at",
              postgresql_where=text(_MAIL_UNADDRESSED), sqlite_where=text(_MAIL_UNADDRESSED)),
        # A person's messages about one ticket go out in order: the claim asks of each due
        # message whether an earlier one of its thread is still owed.
        Index("ix_mail_messages_thread", "ticket_id", "recipient_id", "created_at",
              postgresql_where=text(_MAIL_OWED), sqlite_where=text(_MAIL_OWED)),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(36))
    ticket_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str | None] = mapped_column(String(36))
    # What the event said (reason, comment, who acted), as JSON.
    facts: Mapped[str] = mapped_column(Text, default="{}")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    given_up_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The W3C traceparent of the request whose move recorded the event (service.adapters.tracing).
    trace_context: Mapped[str | None] = mapped_column(String(TRACEPARENT_LENGTH))


class NotificationPreference(Base):
    """A person's mail settings (GET/PATCH /v1/me/notifications); no row: the defaults."""

    __tablename__ = "notification_preferences"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    watch_account: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_awaiting_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_sla_breach: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
class Allowance(Base):
    """An account's included upscale-days in one contract year (a calendar year, UTC)."""

    __tablename__ = "allowances"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(Integer)


_OPEN_USAGE = "ended_at IS NULL"


class Usage(Base):
    """The usage ledger: one row per component an upscale raised, from the completion of its
    provisioning until its revert completes or a later request changes the component."""

    __tablename__ = "usage"
    __table_args__ = (
        # One apply opens one row per component, whichever worker records it.
        UniqueConstraint("ticket_id", "component"),
        Index("ix_usage_account_started", "account_id", "started_at"),
        # A month of an account: its rows ended after the month began, and its open rows (NULL),
        # read from the index alone on PostgreSQL (service.app.billing.usage).
        Index("ix_usage_account_ended", "account_id", "ended_at",
              postgresql_include=["started_at", "environment_id", "component", "daily_minor",
                                  "included_days", "currency"]),
        Index("ix_usage_open", "environment_id", "component",
              postgresql_where=text(_OPEN_USAGE), sqlite_where=text(_OPEN_USAGE)),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    component: Mapped[str] = mapped_column(String(32))
    from_size: Mapped[str] = mapped_column(String(16))
    to_size: Mapped[str] = mapped_column(String(16))
    # The price per day of the steps, in the currency's minor units, and the included days the
    # accepted quote set against it.
    daily_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    included_days: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(36))
