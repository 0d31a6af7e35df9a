"""PRICE_LIST parsing: strict, naming the line at fault; what `prices check` prints reads back."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.adapters.price_file import dump, load_price_list, parse_text
from service.cli import cli
from service.domain.prices import PriceListError

SAMPLE = Path(__file__).parents[2] / "service" / "entrypoints" / "sample_price_list.yaml"


def test_the_shipped_sample_is_valid_and_reads_back() -> None:
    prices = load_price_list(SAMPLE)
    assert prices is not None and prices.currency == "EUR"
    assert prices.step_price("stage", "yves", "large") == Decimal("18.50")
    assert parse_text(dump(prices)) == prices


@pytest.mark.parametrize(("text", "line", "words"), [
    ("currency: EUR\nstages:\n  stage:\n    yvs: {medium: '1.00'}\n", 4, "unknown key 'yvs'"),
    ("currency: EUR\nstages:\n  stage:\n    yves: {medium: 12.5}\n", 4, "quoted decimal"),
    ("currency: EUR\nstages:\n  stage:\n    yves:\n      medium: '1.005'\n", 5, "2 decimal places"),
    ("currency: EUR\nstages:\n  stage:\n    yves: {small: '1.00'}\n", 4, "unknown key 'small'"),
    ("currency: EUR\nstages:\n  qa: {}\n", 3, "unknown key 'qa'"),
    ("currency: EURO\nstages: {}\n", 1, "ISO 4217"),
    ("currency: EUR\nstages:\n  stage:\n    yves: {medium: '-1.00'}\n", 4, "at least 0"),
    ("currency: EUR\ncurrency: USD\n", 2, "appears twice"),
    ("currency: EUR\nprices: {}\n", 2, "unknown key 'prices'"),
    ("currency: [EUR\n", 2, "not valid YAML"),
])
def test_an_invalid_price_list_names_the_line_at_fault(text: str, line: int, words: str) -> None:
    with pytest.raises(PriceListError) as caught:
        parse_text(text)
    assert caught.value.line == line and words in str(caught.value)


def test_prices_check_prints_the_list_and_fails_on_an_invalid_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["prices", "check", str(SAMPLE)], catch_exceptions=False)
    assert result.exit_code == 0 and "currency: EUR" in result.stdout and "in EUR" in result.stderr
    bad = tmp_path / "prices.yaml"
    bad.write_text("currency: EUR\nstages:\n  stage:\n    yves: {medium: 12.5}\n")
    result = CliRunner().invoke(cli, ["prices", "check", str(bad)], catch_exceptions=False)
    assert result.exit_code == 1 and "line 4" in result.stderr and str(bad) in result.stderr


def test_the_api_refuses_to_start_on_an_invalid_price_list(tmp_path: Path) -> None:
    from service.api import create_app
    from service.adapters.config import Settings

    path = tmp_path / "prices.yaml"
    path.write_text("currency: EUR\nstages:\n  stage:\n    yves: {tiny: '1.00'}\n")
    settings_ = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", broker_url="memory://",
                         price_list=str(path))
    with pytest.raises(PriceListError, match="line 4.*'tiny'"):
        create_app(settings_)
