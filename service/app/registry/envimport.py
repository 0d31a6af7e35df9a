"""`envdesk env import`: sync the environment registry from the contract system's JSON lines.

Idempotent by (account, name); a line names its account by id or external id. The whole file is validated first; one bad line changes nothing.
Rows are written in batches with executemany, so tens of thousands of lines take seconds."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

from sqlalchemy import bindparam, insert, or_, select, update

from service.adapters.db import UnitOfWork
from service.domain.hosting import COMPONENTS, SIZES, Stage
from service.adapters.models import Account, Environment, new_id, utcnow
from service.adapters.registry import default_sizes
from service.app.billing.allowances import MAX_DAYS, this_year, write_allowances

BATCH = 2000


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": len(self.errors)}


def _parse(lines: IO[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, _validate(json.loads(line))
        except (ValueError, TypeError, KeyError) as exc:
            yield number, f"line {number}: {exc}"


def _validate(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object")
    account, name, stage = item["account"], item["name"], item["stage"]
    if not isinstance(account, str) or not isinstance(name, str) or not name.strip():
        raise ValueError("account and name must be non-empty strings")
    if len(name) > 200 or "\x00" in name:
        raise ValueError("name too long or contains NUL")
    sizes = item.get("sizes") or {}
    if not isinstance(sizes, dict) or any(c not in COMPONENTS or s not in SIZES for c, s in sizes.items()):
        raise ValueError(f"sizes must map components {COMPONENTS} to sizes {SIZES}")
    row = {"account_id": account, "name": name, "stage": Stage(stage).value, "sizes": sizes}
    if "allowance_days" in item:  # the account's included upscale-days this contract year
        days = item["allowance_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
            raise ValueError(f"allowance_days must be a whole number from 0 to {MAX_DAYS}")
        row["allowance_days"] = days
    return row


def import_environments(lines: IO[str], *, uow: UnitOfWork) -> ImportSummary:
    summary = ImportSummary()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for number, parsed in _parse(lines):
        if isinstance(parsed, str):
            summary.errors.append(parsed)
        else:
            rows[(parsed["account_id"], parsed["name"])] = parsed
            first_line.setdefault(parsed["account_id"], number)
    with uow:
        account_ids = _customer_accounts(uow, set(first_line))
        summary.errors += [f"line {first_line[acc]}: unknown customer account {acc}"
                           for acc in sorted(set(first_line) - set(account_ids), key=first_line.get)]
        if summary.errors:
            return summary
        rows = {(account_ids[ref], name): {**row, "account_id": account_ids[ref]}
                for (ref, name), row in rows.items()}
        allowed = {row["account_id"]: row.pop("allowance_days") for row in rows.values()
                   if "allowance_days" in row}
        accounts = set(account_ids.values())
        existing = _existing(uow, accounts)
        creates, updates = _plan(rows, existing, summary)
        _write(uow, creates, updates)
        write_allowances(uow.session.connection(), allowed, this_year())
        uow.commit()
    return summary


def _customer_accounts(uow: UnitOfWork, references: set[str]) -> dict[str, str]:
    """Customer accounts named by id or external id: {reference: account id}."""
    found: dict[str, str] = {}
    refs = list(references)
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        for account_id, external_id in uow.session.execute(select(Account.id, Account.external_id).where(
                Account.kind == "customer", or_(Account.id.in_(chunk), Account.external_id.in_(chunk)))):
            found.update({ref: account_id for ref in (account_id, external_id) if ref in references})
    return found


def _existing(uow: UnitOfWork, accounts: set[str]) -> dict[tuple[str, str], Environment]:
    found: dict[tuple[str, str], Environment] = {}
    ids = list(accounts)
    for start in range(0, len(ids), 500):
        for env in uow.session.scalars(select(Environment).where(
                Environment.account_id.in_(ids[start:start + 500]))):
            found[(env.account_id, env.name)] = env
    return found


def _plan(rows: dict[tuple[str, str], dict[str, Any]], existing: dict[tuple[str, str], Environment],
          summary: ImportSummary) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = utcnow()
    creates, updates = [], []
    for key, row in rows.items():
        env = existing.get(key)
        if env is None:
            creates.append({**row, "id": new_id(), "sizes": default_sizes(row["sizes"]), "caps": {},
                            "created_at": now, "updated_at": now})
            continue
        sizes = {**env.sizes, **row["sizes"]}
        if env.stage == row["stage"] and env.sizes == sizes:
            summary.unchanged += 1
            continue
        updates.append({"b_id": env.id, "stage": row["stage"], "sizes": sizes, "updated_at": now})
    summary.created, summary.updated = len(creates), len(updates)
    return creates, updates


def _write(uow: UnitOfWork, creates: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
    table = Environment.__table__
    for start in range(0, len(creates), BATCH):
        uow.session.execute(insert(table), creates[start:start + BATCH])
    statement = update(table).where(table.c.id == bindparam("b_id")).values(
        stage=bindparam("stage"), sizes=bindparam("sizes"), updated_at=bindparam("updated_at"))
    for start in range(0, len(updates), BATCH):
        uow.session.connection().execute(statement, updates[start:start + BATCH])
