"""`envdesk prices check FILE`: validate a price list and print it."""
from __future__ import annotations

import click

from service.adapters.price_file import dump, load_price_list
from service.domain.prices import PriceListError


@click.group(help="The price list (PRICE_LIST).")
def prices() -> None:
    pass


@prices.command("check", help="Validate a price list file and print it as YAML (prices per day "
                "of each size step, per stage and component); exit 1 naming the line at fault if "
                "it is invalid.")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    try:
        price_list = load_price_list(file)
    except PriceListError as exc:
        click.echo(f"invalid price list: {exc}", err=True)
        raise SystemExit(1) from None
    assert price_list is not None
    click.echo(dump(price_list), nl=False)
    count = len(price_list.prices)
    click.echo(f"{file}: {count} priced size step{'' if count == 1 else 's'} in "
               f"{price_list.currency}; a step it does not name costs nothing", err=True)
