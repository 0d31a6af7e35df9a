"""The API's JSON provider (service/api/encoding.py) writes what Flask's default provider writes —
the same keys in the same order, the same values — for any body, and where the two may differ in
bytes (non-ASCII text, a float's spelling) the parsed values are equal."""
from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings, strategies as st

from service.api import create_app
from service.api.encoding import OrjsonProvider

APP = Flask("t")
OURS, FLASKS = OrjsonProvider(APP), DefaultJSONProvider(APP)

SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
BODIES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_any_body_parses_back_to_what_flask_writes(body: Any) -> None:
    ours = OURS.response(body).get_data(as_text=True)
    assert json.loads(ours) == json.loads(FLASKS.response(body).get_data(as_text=True))
    assert ours.endswith("\n") and "\n" not in ours[:-1]


def test_ascii_bodies_are_the_same_bytes_with_keys_sorted() -> None:
    body = {"z": [1, 2.5, None, True], "a": {"y": "x", "b": ""}, "m": -7}
    assert OURS.response(body).get_data() == FLASKS.response(body).get_data() \
        == b'{"a":{"b":"","y":"x"},"m":-7,"z":[1,2.5,null,true]}\n'


class Colour(str, Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


def test_what_json_cannot_write_is_written_by_flasks_default() -> None:
    when = datetime(2031, 3, 1, 8, 30, tzinfo=timezone.utc)
    body = {"at": when, "day": date(2031, 3, 1), "money": Decimal("40.50"), "id": uuid.UUID(int=1),
            "point": Point(3), "colour": Colour.RED, "big": 2**70}
    assert json.loads(OURS.dumps(body)) == json.loads(FLASKS.dumps(body, sort_keys=True, default=FLASKS.default))
    assert json.loads(OURS.dumps(body))["at"] == "Sat, 01 Mar 2031 08:30:00 GMT"


def test_something_unwritable_is_still_a_type_error() -> None:
    try:
        OURS.dumps({"x": object()})
    except TypeError as exc:
        assert "not JSON serializable" in str(exc)
    else:
        raise AssertionError("an object without a JSON form was written")


def test_the_api_answers_with_it(tmp_path: Any) -> None:
    from service.adapters.config import Settings
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db", broker_url="memory://",
                              home=tmp_path, secret_key="test-secret-test-secret"))
    assert isinstance(app.json, OrjsonProvider)
    assert app.test_client().get("/healthz").get_data() == b'{"status":"ok"}\n'
