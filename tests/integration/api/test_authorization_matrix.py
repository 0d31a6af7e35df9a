"""Who may do what to whose objects: one literal table, checked row by row on both databases.

Each row is (principal, method, path template, owner of the object, expected status, expected rule).
The owner is "A" or "B" (customer A's or customer B's ticket or environment) or "-" for a
collection. A second test fails when the app grows an endpoint that has no row here."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from service.app.registry import operators
from service.api import create_app
from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.domain.actors import WORKER
from service.domain.lifecycle import Action
from service.app.tickets.moves import move
from service.adapters.models import Ticket
from tests.conftest import BACKENDS
from tests.helpers import upscale_body, new_secret
from tests.support.world import World, build_world, file_via_api
from tests.oidc import TestIssuer
from tests.support.databases import empty

PRINCIPALS = ("customer_a", "customer_b", "partner_linked", "partner_unlinked", "support",
              "provider_member")
TICKET = "/v1/tickets/{ticket_id}"
ENV = "/v1/environments/{environment_id}"
DRAFT = "/v1/drafts/{draft_id}"
USAGE = "/v1/usage"
WINDOW = "/v1/windows/{window_id}"

# principal,          method, path,                    owner, status, rule
MATRIX: list[tuple[str, str, str, str, int, str | None]] = [
    # -- collections: everyone may list what they can see ----------------------------------
    ("customer_a",       "GET",  "/v1/tickets",            "-", 200, None),
    ("customer_b",       "GET",  "/v1/tickets",            "-", 200, None),
    ("partner_linked",   "GET",  "/v1/tickets",            "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/tickets",            "-", 200, None),
    ("support",          "GET",  "/v1/tickets",            "-", 200, None),
    ("provider_member",  "GET",  "/v1/tickets",            "-", 200, None),
    ("anonymous",        "GET",  "/v1/tickets",            "-", 401, "unauthenticated"),
    ("customer_a",       "GET",  "/v1/environments",       "-", 200, None),
    ("customer_b",       "GET",  "/v1/environments",       "-", 200, None),
    ("partner_linked",   "GET",  "/v1/environments",       "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/environments",       "-", 200, None),
    ("support",          "GET",  "/v1/environments",       "-", 200, None),
    ("provider_member",  "GET",  "/v1/environments",       "-", 200, None),
    ("anonymous",        "GET",  "/v1/environments",       "-", 401, "unauthenticated"),
    ("customer_a",       "GET",  "/v1/me",                 "-", 200, None),
    ("customer_b",       "GET",  "/v1/me",                 "-", 200, None),
    ("partner_linked",   "GET",  "/v1/me",                 "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/me",                 "-", 200, None),
    ("support",          "GET",  "/v1/me",                 "-", 200, None),
    ("provider_member",  "GET",  "/v1/me",                 "-", 200, None),
    ("anonymous",        "GET",  "/v1/me",                 "-", 401, "unauthenticated"),
    # -- filing: customers for their own environments only; partners and staff never -------
    ("customer_a",       "POST", "/v1/tickets",            "A", 201, None),
    ("customer_a",       "POST", "/v1/tickets",            "B", 404, "not_found"),
    ("customer_b",       "POST", "/v1/tickets",            "A", 404, "not_found"),
    ("customer_b",       "POST", "/v1/tickets",            "B", 201, None),
    ("partner_linked",   "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("partner_linked",   "POST", "/v1/tickets",            "B", 403, "customer_only"),
    ("partner_unlinked", "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("partner_unlinked", "POST", "/v1/tickets",            "B", 403, "customer_only"),
    ("support",          "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("provider_member",  "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("support",          "POST", "/v1/tickets",            "B", 403, "customer_only"),
    ("provider_member",  "POST", "/v1/tickets",            "B", 403, "customer_only"),
    ("anonymous",        "POST", "/v1/tickets",            "A", 401, "unauthenticated"),
    # -- one ticket -------------------------------------------------------------------------
    ("customer_a",       "GET",  TICKET,                   "A", 200, None),
    ("customer_a",       "GET",  TICKET,                   "B", 404, "not_found"),
    ("customer_b",       "GET",  TICKET,                   "A", 404, "not_found"),
    ("customer_b",       "GET",  TICKET,                   "B", 200, None),
    ("partner_linked",   "GET",  TICKET,                   "A", 200, None),
    ("partner_linked",   "GET",  TICKET,                   "B", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET,                   "A", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET,                   "B", 404, "not_found"),
    ("support",          "GET",  TICKET,                   "A", 200, None),
    ("provider_member",  "GET",  TICKET,                   "A", 404, "not_found"),
    ("support",          "GET",  TICKET,                   "B", 200, None),
    ("provider_member",  "GET",  TICKET,                   "B", 404, "not_found"),
    ("anonymous",        "GET",  TICKET,                   "A", 401, "unauthenticated"),
    # -- approve: support only --------------------------------------------------------------
    ("customer_a",       "POST", TICKET + "/approve",      "A", 403, "support_only"),
    ("customer_a",       "POST", TICKET + "/approve",      "B", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/approve",      "A", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/approve",      "B", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/approve",      "A", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/approve",      "B", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/approve",      "A", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/approve",      "B", 404, "not_found"),
    ("support",          "POST", TICKET + "/approve",      "A", 200, None),
    ("provider_member",  "POST", TICKET + "/approve",      "A", 404, "not_found"),
    ("support",          "POST", TICKET + "/approve",      "B", 200, None),
    ("provider_member",  "POST", TICKET + "/approve",      "B", 404, "not_found"),
    ("anonymous",        "POST", TICKET + "/approve",      "A", 401, "unauthenticated"),
    # -- reject: support only ---------------------------------------------------------------
    ("customer_a",       "POST", TICKET + "/reject",       "A", 403, "support_only"),
    ("customer_a",       "POST", TICKET + "/reject",       "B", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/reject",       "A", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/reject",       "B", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/reject",       "A", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/reject",       "B", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/reject",       "A", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/reject",       "B", 404, "not_found"),
    ("support",          "POST", TICKET + "/reject",       "A", 200, None),
    ("provider_member",  "POST", TICKET + "/reject",       "A", 404, "not_found"),
    ("support",          "POST", TICKET + "/reject",       "B", 200, None),
    ("provider_member",  "POST", TICKET + "/reject",       "B", 404, "not_found"),
    ("anonymous",        "POST", TICKET + "/reject",       "A", 401, "unauthenticated"),
    # -- retry (of a failed ticket): support only -------------------------------------------
    ("customer_a",       "POST", TICKET + "/retry",        "A", 403, "support_only"),
    ("customer_a",       "POST", TICKET + "/retry",        "B", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/retry",        "A", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/retry",        "B", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/retry",        "A", 403, "support_only"),
    ("partner_linked",   "POST", TICKET + "/retry",        "B", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/retry",        "A", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/retry",        "B", 404, "not_found"),
    ("support",          "POST", TICKET + "/retry",        "A", 200, None),
    ("provider_member",  "POST", TICKET + "/retry",        "A", 404, "not_found"),
    ("support",          "POST", TICKET + "/retry",        "B", 200, None),
    ("provider_member",  "POST", TICKET + "/retry",        "B", 404, "not_found"),
    ("anonymous",        "POST", TICKET + "/retry",        "A", 401, "unauthenticated"),
    # -- cancel: only the customer who owns it; others who can see it get 403 ---------------
    ("customer_a",       "POST", TICKET + "/cancel",       "A", 200, None),
    ("customer_a",       "POST", TICKET + "/cancel",       "B", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/cancel",       "A", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/cancel",       "B", 200, None),
    ("partner_linked",   "POST", TICKET + "/cancel",       "A", 403, "customer_only"),
    ("partner_linked",   "POST", TICKET + "/cancel",       "B", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/cancel",       "A", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/cancel",       "B", 404, "not_found"),
    ("support",          "POST", TICKET + "/cancel",       "A", 403, "customer_only"),
    ("provider_member",  "POST", TICKET + "/cancel",       "A", 404, "not_found"),
    ("support",          "POST", TICKET + "/cancel",       "B", 403, "customer_only"),
    ("provider_member",  "POST", TICKET + "/cancel",       "B", 404, "not_found"),
    ("anonymous",        "POST", TICKET + "/cancel",       "A", 401, "unauthenticated"),
    # -- audit trail: everyone who may see the ticket ---------------------------------------
    ("customer_a",       "GET",  TICKET + "/events",       "A", 200, None),
    ("customer_a",       "GET",  TICKET + "/events",       "B", 404, "not_found"),
    ("customer_b",       "GET",  TICKET + "/events",       "A", 404, "not_found"),
    ("customer_b",       "GET",  TICKET + "/events",       "B", 200, None),
    ("partner_linked",   "GET",  TICKET + "/events",       "A", 200, None),
    ("partner_linked",   "GET",  TICKET + "/events",       "B", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET + "/events",       "A", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET + "/events",       "B", 404, "not_found"),
    ("support",          "GET",  TICKET + "/events",       "A", 200, None),
    ("provider_member",  "GET",  TICKET + "/events",       "A", 404, "not_found"),
    ("support",          "GET",  TICKET + "/events",       "B", 200, None),
    ("provider_member",  "GET",  TICKET + "/events",       "B", 404, "not_found"),
    ("anonymous",        "GET",  TICKET + "/events",       "A", 401, "unauthenticated"),
    # -- comments: read and write for everyone who may see the ticket -----------------------
    ("customer_a",       "GET",  TICKET + "/comments",     "A", 200, None),
    ("customer_a",       "GET",  TICKET + "/comments",     "B", 404, "not_found"),
    ("customer_b",       "GET",  TICKET + "/comments",     "A", 404, "not_found"),
    ("customer_b",       "GET",  TICKET + "/comments",     "B", 200, None),
    ("partner_linked",   "GET",  TICKET + "/comments",     "A", 200, None),
    ("partner_linked",   "GET",  TICKET + "/comments",     "B", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET + "/comments",     "A", 404, "not_found"),
    ("partner_unlinked", "GET",  TICKET + "/comments",     "B", 404, "not_found"),
    ("support",          "GET",  TICKET + "/comments",     "A", 200, None),
    ("provider_member",  "GET",  TICKET + "/comments",     "A", 404, "not_found"),
    ("support",          "GET",  TICKET + "/comments",     "B", 200, None),
    ("provider_member",  "GET",  TICKET + "/comments",     "B", 404, "not_found"),
    ("anonymous",        "GET",  TICKET + "/comments",     "A", 401, "unauthenticated"),
    ("customer_a",       "POST", TICKET + "/comments",     "A", 201, None),
    ("customer_a",       "POST", TICKET + "/comments",     "B", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/comments",     "A", 404, "not_found"),
    ("customer_b",       "POST", TICKET + "/comments",     "B", 201, None),
    ("partner_linked",   "POST", TICKET + "/comments",     "A", 201, None),
    ("partner_linked",   "POST", TICKET + "/comments",     "B", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/comments",     "A", 404, "not_found"),
    ("partner_unlinked", "POST", TICKET + "/comments",     "B", 404, "not_found"),
    ("support",          "POST", TICKET + "/comments",     "A", 201, None),
    ("provider_member",  "POST", TICKET + "/comments",     "A", 404, "not_found"),
    ("support",          "POST", TICKET + "/comments",     "B", 201, None),
    ("provider_member",  "POST", TICKET + "/comments",     "B", 404, "not_found"),
    ("anonymous",        "POST", TICKET + "/comments",     "A", 401, "unauthenticated"),
    # -- one environment --------------------------------------------------------------------
    ("customer_a",       "GET",  ENV,                      "A", 200, None),
    ("customer_a",       "GET",  ENV,                      "B", 404, "not_found"),
    ("customer_b",       "GET",  ENV,                      "A", 404, "not_found"),
    ("customer_b",       "GET",  ENV,                      "B", 200, None),
    ("partner_linked",   "GET",  ENV,                      "A", 200, None),
    ("partner_linked",   "GET",  ENV,                      "B", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV,                      "A", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV,                      "B", 404, "not_found"),
    ("support",          "GET",  ENV,                      "A", 200, None),
    ("provider_member",  "GET",  ENV,                      "A", 404, "not_found"),
    ("support",          "GET",  ENV,                      "B", 200, None),
    ("provider_member",  "GET",  ENV,                      "B", 404, "not_found"),
    ("anonymous",        "GET",  ENV,                      "A", 401, "unauthenticated"),
    # -- promotions of a prod environment: everyone who may see the environment -------------
    ("customer_a",       "GET",  ENV + "/promotions",      "A", 200, None),
    ("customer_a",       "GET",  ENV + "/promotions",      "B", 404, "not_found"),
    ("customer_b",       "GET",  ENV + "/promotions",      "A", 404, "not_found"),
    ("customer_b",       "GET",  ENV + "/promotions",      "B", 200, None),
    ("partner_linked",   "GET",  ENV + "/promotions",      "A", 200, None),
    ("partner_linked",   "GET",  ENV + "/promotions",      "B", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV + "/promotions",      "A", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV + "/promotions",      "B", 404, "not_found"),
    ("support",          "GET",  ENV + "/promotions",      "A", 200, None),
    ("support",          "GET",  ENV + "/promotions",      "B", 200, None),
    ("provider_member",  "GET",  ENV + "/promotions",      "A", 404, "not_found"),
    ("provider_member",  "GET",  ENV + "/promotions",      "B", 404, "not_found"),
    ("anonymous",        "GET",  ENV + "/promotions",      "A", 401, "unauthenticated"),
    # -- drafts: a linked partner prepares, its customer submits; nobody else sees them ------
    ("customer_a",       "GET",  "/v1/drafts",             "-", 200, None),
    ("customer_b",       "GET",  "/v1/drafts",             "-", 200, None),
    ("partner_linked",   "GET",  "/v1/drafts",             "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/drafts",             "-", 200, None),
    ("support",          "GET",  "/v1/drafts",             "-", 200, None),
    ("provider_member",  "GET",  "/v1/drafts",             "-", 200, None),
    ("anonymous",        "GET",  "/v1/drafts",             "-", 401, "unauthenticated"),
    ("customer_a",       "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("customer_a",       "POST", "/v1/drafts",             "B", 403, "partner_only"),
    ("customer_b",       "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("customer_b",       "POST", "/v1/drafts",             "B", 403, "partner_only"),
    ("partner_linked",   "POST", "/v1/drafts",             "A", 201, None),
    ("partner_linked",   "POST", "/v1/drafts",             "B", 404, "not_found"),
    ("partner_unlinked", "POST", "/v1/drafts",             "A", 404, "not_found"),
    ("partner_unlinked", "POST", "/v1/drafts",             "B", 404, "not_found"),
    ("support",          "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("support",          "POST", "/v1/drafts",             "B", 403, "partner_only"),
    ("provider_member",  "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("provider_member",  "POST", "/v1/drafts",             "B", 403, "partner_only"),
    ("anonymous",        "POST", "/v1/drafts",             "A", 401, "unauthenticated"),
    ("customer_a",       "GET",  DRAFT,                    "A", 200, None),
    ("customer_b",       "GET",  DRAFT,                    "A", 404, "not_found"),
    ("partner_linked",   "GET",  DRAFT,                    "A", 200, None),
    ("partner_unlinked", "GET",  DRAFT,                    "A", 404, "not_found"),
    ("support",          "GET",  DRAFT,                    "A", 404, "not_found"),
    ("provider_member",  "GET",  DRAFT,                    "A", 404, "not_found"),
    ("anonymous",        "GET",  DRAFT,                    "A", 401, "unauthenticated"),
    ("customer_a",       "POST", DRAFT + "/submit",        "A", 201, None),
    ("customer_b",       "POST", DRAFT + "/submit",        "A", 404, "not_found"),
    ("partner_linked",   "POST", DRAFT + "/submit",        "A", 403, "customer_only"),
    ("partner_unlinked", "POST", DRAFT + "/submit",        "A", 404, "not_found"),
    ("support",          "POST", DRAFT + "/submit",        "A", 404, "not_found"),
    ("provider_member",  "POST", DRAFT + "/submit",        "A", 404, "not_found"),
    ("anonymous",        "POST", DRAFT + "/submit",        "A", 401, "unauthenticated"),
    ("customer_a",       "DELETE", DRAFT,                  "A", 204, None),
    ("customer_b",       "DELETE", DRAFT,                  "A", 404, "not_found"),
    ("partner_linked",   "DELETE", DRAFT,                  "A", 204, None),
    ("partner_unlinked", "DELETE", DRAFT,                  "A", 404, "not_found"),
    ("support",          "DELETE", DRAFT,                  "A", 404, "not_found"),
    ("provider_member",  "DELETE", DRAFT,                  "A", 404, "not_found"),
    ("anonymous",        "DELETE", DRAFT,                  "A", 401, "unauthenticated"),
    # -- what may be filed for an environment: everyone who may see it ----------------------
    ("customer_a",       "GET",  ENV + "/options",         "A", 200, None),
    ("customer_a",       "GET",  ENV + "/options",         "B", 404, "not_found"),
    ("customer_b",       "GET",  ENV + "/options",         "A", 404, "not_found"),
    ("customer_b",       "GET",  ENV + "/options",         "B", 200, None),
    ("partner_linked",   "GET",  ENV + "/options",         "A", 200, None),
    ("partner_linked",   "GET",  ENV + "/options",         "B", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV + "/options",         "A", 404, "not_found"),
    ("partner_unlinked", "GET",  ENV + "/options",         "B", 404, "not_found"),
    ("support",          "GET",  ENV + "/options",         "A", 200, None),
    ("support",          "GET",  ENV + "/options",         "B", 200, None),
    ("provider_member",  "GET",  ENV + "/options",         "A", 404, "not_found"),
    ("provider_member",  "GET",  ENV + "/options",         "B", 404, "not_found"),
    ("anonymous",        "GET",  ENV + "/options",         "A", 401, "unauthenticated"),
    # -- my mail settings: everyone for themselves; the unsubscribe link's token is its credential
    ("customer_a",      "GET",  "/v1/me/notifications",   "-", 200, None),
    ("customer_a",      "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("customer_a",      "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("customer_a",      "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("customer_b",      "GET",  "/v1/me/notifications",   "-", 200, None),
    ("customer_b",      "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("customer_b",      "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("customer_b",      "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("partner_linked",  "GET",  "/v1/me/notifications",   "-", 200, None),
    ("partner_linked",  "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("partner_linked",  "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("partner_linked",  "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("partner_unlinked", "GET",  "/v1/me/notifications",   "-", 200, None),
    ("partner_unlinked", "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("partner_unlinked", "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("support",         "GET",  "/v1/me/notifications",   "-", 200, None),
    ("support",         "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("support",         "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("support",         "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("provider_member", "GET",  "/v1/me/notifications",   "-", 200, None),
    ("provider_member", "PATCH", "/v1/me/notifications",  "-", 200, None),
    ("provider_member", "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("provider_member", "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("anonymous",        "GET",  "/v1/me/notifications",   "-", 401, "unauthenticated"),
    ("anonymous",        "PATCH", "/v1/me/notifications",  "-", 401, "unauthenticated"),
    ("anonymous",        "GET",  "/v1/unsubscribe",        "-", 422, "validation_failed"),
    ("anonymous",        "POST", "/v1/unsubscribe",        "-", 422, "validation_failed"),
    # -- quotes: everyone who may see the environment; stores nothing ------------------------
    ("customer_a",       "POST", "/v1/quotes",             "A", 200, None),
    ("customer_a",       "POST", "/v1/quotes",             "B", 404, "not_found"),
    ("customer_b",       "POST", "/v1/quotes",             "A", 404, "not_found"),
    ("customer_b",       "POST", "/v1/quotes",             "B", 200, None),
    ("partner_linked",   "POST", "/v1/quotes",             "A", 200, None),
    ("partner_linked",   "POST", "/v1/quotes",             "B", 404, "not_found"),
    ("partner_unlinked", "POST", "/v1/quotes",             "A", 404, "not_found"),
    ("partner_unlinked", "POST", "/v1/quotes",             "B", 404, "not_found"),
    ("support",          "POST", "/v1/quotes",             "A", 200, None),
    ("support",          "POST", "/v1/quotes",             "B", 200, None),
    ("provider_member",  "POST", "/v1/quotes",             "A", 404, "not_found"),
    ("provider_member",  "POST", "/v1/quotes",             "B", 404, "not_found"),
    ("anonymous",        "POST", "/v1/quotes",             "A", 401, "unauthenticated"),
    # -- usage of an account: the tenant rules of tickets -----------------------------------
    ("customer_a",       "GET",  USAGE,                    "A", 200, None),
    ("customer_a",       "GET",  USAGE,                    "B", 404, "not_found"),
    ("customer_b",       "GET",  USAGE,                    "A", 404, "not_found"),
    ("customer_b",       "GET",  USAGE,                    "B", 200, None),
    ("partner_linked",   "GET",  USAGE,                    "A", 200, None),
    ("partner_linked",   "GET",  USAGE,                    "B", 404, "not_found"),
    ("partner_unlinked", "GET",  USAGE,                    "A", 404, "not_found"),
    ("partner_unlinked", "GET",  USAGE,                    "B", 404, "not_found"),
    ("support",          "GET",  USAGE,                    "A", 200, None),
    ("support",          "GET",  USAGE,                    "B", 200, None),
    ("provider_member",  "GET",  USAGE,                    "A", 404, "not_found"),
    ("provider_member",  "GET",  USAGE,                    "B", 404, "not_found"),
    ("anonymous",        "GET",  USAGE,                    "A", 401, "unauthenticated"),
    # -- windows of the change calendar: support staff only ------------------------------
    ("customer_a",       "GET",  "/v1/windows",            "-", 403, "support_only"),
    ("customer_b",       "GET",  "/v1/windows",            "-", 403, "support_only"),
    ("partner_linked",   "GET",  "/v1/windows",            "-", 403, "support_only"),
    ("partner_unlinked", "GET",  "/v1/windows",            "-", 403, "support_only"),
    ("support",          "GET",  "/v1/windows",            "-", 200, None),
    ("provider_member",  "GET",  "/v1/windows",            "-", 403, "support_only"),
    ("anonymous",        "GET",  "/v1/windows",            "-", 401, "unauthenticated"),
    ("customer_a",       "POST", "/v1/windows",            "-", 403, "support_only"),
    ("customer_b",       "POST", "/v1/windows",            "-", 403, "support_only"),
    ("partner_linked",   "POST", "/v1/windows",            "-", 403, "support_only"),
    ("partner_unlinked", "POST", "/v1/windows",            "-", 403, "support_only"),
    ("support",          "POST", "/v1/windows",            "-", 201, None),
    ("provider_member",  "POST", "/v1/windows",            "-", 403, "support_only"),
    ("anonymous",        "POST", "/v1/windows",            "-", 401, "unauthenticated"),
    ("customer_a",       "DELETE", WINDOW,                   "-", 403, "support_only"),
    ("customer_b",       "DELETE", WINDOW,                   "-", 403, "support_only"),
    ("partner_linked",   "DELETE", WINDOW,                   "-", 403, "support_only"),
    ("partner_unlinked", "DELETE", WINDOW,                   "-", 403, "support_only"),
    ("support",          "DELETE", WINDOW,                   "-", 204, None),
    ("provider_member",  "DELETE", WINDOW,                   "-", 403, "support_only"),
    ("anonymous",        "DELETE", WINDOW,                   "-", 401, "unauthenticated"),
    # -- the calendar: everyone, of what they may see; the feed opens with a key, not a token
    ("customer_a",       "GET",  "/v1/calendar",           "-", 200, None),
    ("customer_b",       "GET",  "/v1/calendar",           "-", 200, None),
    ("partner_linked",   "GET",  "/v1/calendar",           "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/calendar",           "-", 200, None),
    ("support",          "GET",  "/v1/calendar",           "-", 200, None),
    ("provider_member",  "GET",  "/v1/calendar",           "-", 200, None),
    ("anonymous",        "GET",  "/v1/calendar",           "-", 401, "unauthenticated"),
    ("customer_a",       "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("customer_b",       "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("partner_linked",   "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("partner_unlinked", "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("support",          "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("provider_member",  "GET",  "/v1/calendar.ics",       "-", 200, None),
    ("anonymous",        "GET",  "/v1/calendar.ics",       "-", 401, "unauthenticated"),
    ("customer_a",       "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("customer_b",       "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("partner_linked",   "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("partner_unlinked", "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("support",          "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("provider_member",  "POST", "/v1/me/calendar-key",    "-", 201, None),
    ("anonymous",        "POST", "/v1/me/calendar-key",    "-", 401, "unauthenticated"),
    ("customer_a",       "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("customer_b",       "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("partner_linked",   "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("partner_unlinked", "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("support",          "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("provider_member",  "DELETE", "/v1/me/calendar-key",    "-", 204, None),
    ("anonymous",        "DELETE", "/v1/me/calendar-key",    "-", 401, "unauthenticated"),
    # -- callers with the portal issuer's access tokens: the same rules ---------------------
    ("jwt_customer_a",   "GET",  "/v1/me",                 "-", 200, None),
    ("jwt_customer_a",   "GET",  "/v1/tickets",            "-", 200, None),
    ("jwt_customer_a",   "POST", "/v1/tickets",            "A", 201, None),
    ("jwt_customer_a",   "POST", "/v1/tickets",            "B", 404, "not_found"),
    ("jwt_customer_a",   "GET",  TICKET,                   "A", 200, None),
    ("jwt_customer_a",   "GET",  TICKET,                   "B", 404, "not_found"),
    ("jwt_customer_a",   "POST", TICKET + "/approve",      "A", 403, "support_only"),
    ("jwt_customer_a",   "POST", TICKET + "/cancel",       "A", 200, None),
    ("jwt_customer_a",   "GET",  ENV + "/options",         "A", 200, None),
    ("jwt_customer_a",   "GET",  ENV + "/options",         "B", 404, "not_found"),
    ("jwt_partner",      "GET",  "/v1/tickets",            "-", 200, None),
    ("jwt_partner",      "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("jwt_partner",      "GET",  TICKET,                   "A", 200, None),
    ("jwt_partner",      "GET",  TICKET,                   "B", 404, "not_found"),
    ("jwt_partner",      "POST", TICKET + "/comments",     "A", 201, None),
    ("jwt_partner",      "POST", TICKET + "/cancel",       "A", 403, "customer_only"),
    ("jwt_provider",     "POST", TICKET + "/approve",      "A", 404, "not_found"),
    ("jwt_provider",     "GET",  "/v1/tickets",            "-", 200, None),
    ("jwt_staff",        "GET",  "/v1/tickets",            "-", 200, None),
    ("jwt_staff",        "POST", "/v1/tickets",            "A", 403, "customer_only"),
    ("jwt_staff",        "GET",  TICKET,                   "B", 200, None),
    ("jwt_staff",        "POST", TICKET + "/approve",      "A", 200, None),
    ("jwt_staff",        "POST", TICKET + "/reject",       "B", 200, None),
    ("jwt_staff",        "GET",  ENV + "/options",         "B", 200, None),
    ("jwt_customer_a",   "GET",  ENV + "/promotions",      "A", 200, None),
    ("jwt_customer_a",   "GET",  ENV + "/promotions",      "B", 404, "not_found"),
    ("jwt_customer_a",   "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("jwt_customer_a",   "GET",  DRAFT,                    "A", 200, None),
    ("jwt_customer_a",   "POST", DRAFT + "/submit",        "A", 201, None),
    ("jwt_partner",      "GET",  "/v1/drafts",             "-", 200, None),
    ("jwt_partner",      "POST", "/v1/drafts",             "A", 201, None),
    ("jwt_partner",      "POST", "/v1/drafts",             "B", 404, "not_found"),
    ("jwt_partner",      "GET",  DRAFT,                    "A", 200, None),
    ("jwt_partner",      "POST", DRAFT + "/submit",        "A", 403, "customer_only"),
    ("jwt_partner",      "DELETE", DRAFT,                  "A", 204, None),
    ("jwt_provider",     "GET",  "/v1/drafts",             "-", 200, None),
    ("jwt_provider",     "GET",  ENV + "/promotions",      "A", 404, "not_found"),
    ("jwt_staff",        "GET",  "/v1/drafts",             "-", 200, None),
    ("jwt_staff",        "GET",  DRAFT,                    "A", 404, "not_found"),
    ("jwt_staff",        "POST", "/v1/drafts",             "A", 403, "partner_only"),
    ("jwt_staff",        "GET",  ENV + "/promotions",      "B", 200, None),
]

OWNER_ACCOUNT = {"A": "customer_a", "B": "customer_b"}
VISIBLE_OWNERS = {"customer_a": {"A"}, "customer_b": {"B"}, "partner_linked": {"A"},
                  "partner_unlinked": set(), "support": {"A", "B"}, "provider_member": set(),
                  "jwt_customer_a": {"A"}, "jwt_partner": {"A"}, "jwt_provider": set(),
                  "jwt_staff": {"A", "B"}}
DRAFT_OWNERS = {**VISIBLE_OWNERS, "support": set(), "jwt_staff": set()}
BODIES = {TICKET + "/reject": {"reason": "not in this contract period"},
          TICKET + "/comments": {"body": "any news on this?"},
          "/v1/me/notifications": {"watch_account": True},
          "/v1/windows": {"kind": "freeze", "title": "Matrix freeze", "start": "2031-01-01T00:00:00Z",
                          "end": "2031-01-02T00:00:00Z"}}


@dataclass
class Matrix:
    client: Any
    world: World
    new_uow: Any


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """One world per backend for the whole table; every row makes its own fresh objects."""
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        empty(conn)
    sessions = make_session_factory(engine)
    world = build_world(lambda: UnitOfWork(sessions))
    issuer = TestIssuer().start()
    _add_provider_member(world, lambda: UnitOfWork(sessions))
    settings = Settings(database_url=url, broker_url="memory://", home=tmp_path_factory.mktemp("m"),
                        secret_key=new_secret(), oidc_issuer=issuer.url, oidc_audience=issuer.audience)
    app = create_app(settings)
    app.config["TESTING"] = True
    m = Matrix(client=app.test_client(), world=world, new_uow=lambda: UnitOfWork(sessions))
    _sign_in_portal_users(m, issuer)
    yield m
    issuer.stop()
    engine.dispose()


def _sign_in_portal_users(m: Matrix, issuer: TestIssuer) -> None:
    """Users known only by the issuer's tokens; the staff one is given its role by an operator."""
    hour = int(time.time()) + 3600
    for who, account in (("jwt_customer_a", "customer_a"), ("jwt_partner", "partner_linked"),
                         ("jwt_provider", "provider"), ("jwt_staff", "provider")):
        claims = issuer.claims(m.world.accounts[account], exp=hour)
        me = m.client.get("/v1/me", headers={"Authorization": f"Bearer {issuer.mint(claims)}"})
        assert me.status_code == 200, me.get_json()
        m.world.tokens[who] = issuer.mint({**claims, "jti": "after-sign-up"})
        if who == "jwt_staff":
            operators.set_role(me.get_json()["email"], "support", uow=m.new_uow())


def _add_provider_member(world: World, new_uow: Any) -> None:
    """A user of the provider account whom no operator has given a staff role yet."""
    user = operators.add_user("provider_member@example.com", world.accounts["provider"], "member",
                              uow=new_uow())
    world.users["provider_member"] = user.id
    world.tokens["provider_member"] = operators.issue_user_token(user.email, uow=new_uow())


def _fresh_environment(m: Matrix, owner: str, stage: str = "stage") -> str:
    """A new environment of the owner, so no row trips over another row's open ticket."""
    account = m.world.accounts[OWNER_ACCOUNT[owner]]
    env = operators.add_environment(account, f"matrix-{uuid.uuid4().hex[:12]}", stage,
                                    uow=m.new_uow(), sizes={"yves": "medium"})
    return env.id


def _fresh_ticket(m: Matrix, owner: str, *, failed: bool = False) -> str:
    customer = OWNER_ACCOUNT[owner]
    ticket_id = file_via_api(m.client, m.world, who=customer,
                             body=upscale_body(_fresh_environment(m, owner))).get_json()["id"]
    if failed:
        assert m.client.post(f"/v1/tickets/{ticket_id}/approve",
                             headers=m.world.auth("support")).status_code == 200
        with m.new_uow() as uow:
            ticket = uow.session.get(Ticket, ticket_id)
            move(uow, ticket, Action.FAIL, actor=WORKER, now=ticket.updated_at,
                 reason="provisioning said no")
            uow.commit()
    return ticket_id


def _fresh_draft(m: Matrix, owner: str) -> str:
    response = m.client.post("/v1/drafts", json=upscale_body(_fresh_environment(m, owner)),
                             headers=m.world.auth("partner_linked"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _fresh_window(m: Matrix) -> str:
    response = m.client.post("/v1/windows", json=BODIES["/v1/windows"], headers=m.world.auth("support"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _feed_key(m: Matrix, headers: dict[str, str]) -> str:
    if not headers:
        return "edc_not-a-key"
    return m.client.post("/v1/me/calendar-key", headers=headers).get_json()["key"]


def _url(m: Matrix, path: str, owner: str) -> str:
    if path == USAGE:
        return f"{path}?month=2030-03&account_id={m.world.accounts[OWNER_ACCOUNT[owner]]}"
    if "{window_id}" in path:
        return path.format(window_id=_fresh_window(m))
    if "{draft_id}" in path:
        return path.format(draft_id=_fresh_draft(m, owner))
    if path.endswith("/promotions"):
        return path.format(environment_id=_fresh_environment(m, owner, "prod"))
    if "{ticket_id}" in path:
        return path.format(ticket_id=_fresh_ticket(m, owner, failed=path.endswith("/retry")))
    if "{environment_id}" in path:
        return path.format(environment_id=_fresh_environment(m, owner))
    return path


def _row_id(row: tuple[Any, ...]) -> str:
    principal, method, path, owner, status, _ = row
    return f"{principal}-{method}-{path}-{owner}-{status}"


def _check_lists_only_visible(m: Matrix, principal: str, path: str, body: Any) -> None:
    if path == "/v1/calendar":
        leaked = {i["id"] for i in body["items"] if i["kind"] == "ticket"} - {
            t["id"] for t in m.client.get("/v1/tickets?limit=200", headers=m.world.auth(principal)).get_json()["items"]}
        assert not leaked, f"{principal} sees tickets {leaked} in the calendar"
        return
    if path not in ("/v1/tickets", "/v1/environments", "/v1/drafts"):
        return
    owners = DRAFT_OWNERS if path == "/v1/drafts" else VISIBLE_OWNERS
    visible = {m.world.accounts[OWNER_ACCOUNT[o]] for o in owners[principal]}
    leaked = {item["account_id"] for item in body["items"]} - visible
    assert not leaked, f"{principal} sees objects of accounts {leaked}"


@pytest.mark.parametrize("row", MATRIX, ids=_row_id)
def test_authorization_matrix_row(matrix: Matrix, row: tuple[str, str, str, str, int, str | None],
                                  request: pytest.FixtureRequest) -> None:
    principal, method, path, owner, expected, rule = row
    request.node.user_properties.append(("count", "authorization matrix checks"))
    url = _url(matrix, path, owner)
    headers = {} if principal == "anonymous" else matrix.world.auth(principal)
    if path == "/v1/calendar.ics":  # calendar programs send the caller's feed key, not a token
        url += "?key=" + _feed_key(matrix, headers)
    body = BODIES.get(path)
    if path in ("/v1/tickets", "/v1/drafts", "/v1/quotes") and method == "POST":
        body = upscale_body(_fresh_environment(matrix, owner))
    response = matrix.client.open(url, method=method, json=body, headers=headers)
    payload = response.get_json(silent=True)
    assert response.status_code == expected, f"{principal} {method} {path} ({owner}): {payload}"
    if rule:
        assert response.mimetype == "application/problem+json"
        assert payload["rule"] == rule, payload
    elif method == "GET":
        _check_lists_only_visible(matrix, principal, path, payload)


def test_every_v1_endpoint_has_rows_in_the_matrix() -> None:
    app = create_app(Settings(database_url="sqlite://", broker_url="memory://", home=Path(".")))
    covered = {(method, path) for _, method, path, *_ in MATRIX}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") or rule.rule.endswith("openapi.json"):
            continue
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, template) not in covered:
                missing.append(f"{method} {template}")
    assert not missing, f"endpoints without rows in the authorization matrix: {missing}"
    for _, method, path, *_ in MATRIX:
        rows = {(p, o) for p, mth, pth, o, *_ in MATRIX if (mth, pth) == (method, path)}
        owners = {o for _, o in rows}
        for principal in PRINCIPALS:
            assert {(principal, o) for o in owners} <= rows, f"{principal} lacks {method} {path}"
