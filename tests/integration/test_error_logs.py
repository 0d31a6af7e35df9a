"""A failing request leaves a trace of where it failed, never of the customer's data: not in the
database error (SQL parameters are hidden) and not in the log of an unhandled error."""
from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

from service.api import create_app
from service.adapters.db import make_engine
from service.adapters.logs import JsonFormatter

CUSTOMER_DATA = "Acme-Shop-Secret-Launch-Plan"


def test_a_database_error_does_not_quote_the_statements_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as raised, engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table WHERE name = :name"), {"name": CUSTOMER_DATA})
    finally:
        engine.dispose()

    assert "no_such_table" in str(raised.value)
    assert CUSTOMER_DATA not in str(raised.value)


def test_the_log_of_a_500_names_the_place_and_type_but_no_request_data(
    settings: Any, world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    def fail() -> Any:
        raise ValueError(f"cannot handle {CUSTOMER_DATA}")

    app.add_url_rule("/v1/failing", "failing", fail, methods=["POST"])
    with caplog.at_level(logging.ERROR):
        response = app.test_client().post("/v1/failing", json={"summary": CUSTOMER_DATA},
                                          headers=world.auth("customer_a"))

    assert response.status_code == 500 and CUSTOMER_DATA not in response.get_data(as_text=True)
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "unhandled error: builtins.ValueError" in logged and "in fail" in logged
    assert CUSTOMER_DATA not in logged
