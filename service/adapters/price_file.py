"""The price list file (``PRICE_LIST``): YAML read once at start-up, with line numbers."""
from __future__ import annotations

from pathlib import Path as FilePath

import yaml

from service.adapters.policy_file import load_file, read_yaml
from service.domain.prices import PriceList, PriceListError
from service.domain.prices_parse import parse_price_list, to_data


def load_price_list(path: str | FilePath | None) -> PriceList | None:
    """The price list in ``path``; no path: None (nothing is priced, nothing needs consent).
    Raises PriceListError naming the file and the line at fault."""
    if not path:
        return None
    return load_file(path, "the price list", PriceListError, parse_text)


def parse_text(text: str) -> PriceList:
    return parse_price_list(*read_yaml(text, PriceListError))


def dump(prices: PriceList) -> str:
    """The price list as YAML that ``parse_text`` reads back to an equal list."""
    return yaml.safe_dump(to_data(prices), sort_keys=False, default_flow_style=None)
