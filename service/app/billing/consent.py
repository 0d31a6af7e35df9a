"""Consent at filing: an upscale that costs something is filed only with ``accept_charges``
equal to the quote at that moment; who accepted what, and when, stays on the ticket."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from service.adapters.models import Environment
from service.app.billing.quotes import contract_year, quote_json, quote_upscale
from service.app.commands import FileTicket
from service.domain import hosting
from service.domain.errors import ChargesNotAccepted, QuoteChanged
from service.domain.prices import PriceList, Quote, as_text


def allowance_year(prices: PriceList | None, command: FileTicket, now: datetime) -> int | None:
    """The contract year whose included days a filing's quote needs: that of a temporary
    upscale's period under a price list; None when the quote needs none."""
    if prices is None or command.type != hosting.TicketType.UPSCALE or command.window is None:
        return None
    return contract_year(command.window, now)


def quote_filing(prices: PriceList | None, env: Environment, command: FileTicket, *,
                 allowance: tuple[int, int] | None) -> Quote | None:
    """The quote of an upscale being filed (None for a change, or without a price list);
    ``allowance``: the included days and days used of ``allowance_year``, read with the
    filing's facts (service.app.tickets.filing)."""
    if prices is None or command.type != hosting.TicketType.UPSCALE:
        return None
    return quote_upscale(prices, env, command.resources, command.window, allowance=allowance)


def within_allowance(command: FileTicket, found: Quote | None) -> bool | None:
    """The approval policy's ``within_allowance`` of a request: an upscale that charges nothing."""
    if command.type != hosting.TicketType.UPSCALE:
        return None
    return found is None or found.within_allowance


def charges_for(found: Quote | None, env: Environment, command: FileTicket, *,
                user_id: str, now: datetime) -> dict[str, Any] | None:
    """What the new ticket keeps as ``charges``: its quote and, when it costs something, the
    acceptance. Raises ChargesNotAccepted (422) without an acceptance, QuoteChanged (409) when
    the accepted amount or currency is not the quote's."""
    if found is None:
        return None
    body = quote_json(found, env, period=command.window, now=now)
    if not found.costs_something:
        return {"quote": body, "accepted": None}
    amount = as_text(found.charge, found.currency)
    what = f"{amount} {found.currency}" + (" per day" if command.window is None else "")
    accepted = command.accept_charges
    if accepted is None:
        raise ChargesNotAccepted(
            f"this upscale costs {what}; file it again with accept_charges "
            f"{{\"amount\": \"{amount}\", \"currency\": \"{found.currency}\"}} to accept the charge",
            errors={"accept_charges": [f"required: this upscale costs {what}"]}, quote=body)
    if accepted[1] != found.currency or Decimal(accepted[0]) != found.charge:
        raise QuoteChanged(
            f"the charge is now {what}, not the {accepted[0]} {accepted[1]} accepted; "
            "read the quote again and accept it", quote=body)
    return {"quote": body, "accepted": {"amount": amount, "currency": found.currency,
                                        "by": user_id, "at": now.isoformat()}}


def acceptance_sentence(charges: dict[str, Any] | None) -> str | None:
    """For the creation event: the charge accepted, by whom."""
    accepted = (charges or {}).get("accepted")
    if not accepted:
        return None
    per_day = " per day" if charges and charges["quote"].get("per_day") else ""
    return f"charges of {accepted['amount']} {accepted['currency']}{per_day} accepted by user {accepted['by']}"
