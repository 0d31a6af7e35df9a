"""schemas.dump.compile_dump equals marshmallow's own ``Schema.dump`` for every field type and
option it compiles, and for those it hands back to marshmallow: same keys, order and values."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings, strategies as st
from marshmallow import Schema, fields

from schemas.common import Text
from schemas.dump import compile_dump


class Inner(Schema):
    name = fields.String()
    at = fields.DateTime()


class Everything(Schema):
    text = fields.String(allow_none=True)
    number = fields.Integer(allow_none=True)
    number_as_text = fields.Integer(as_string=True, allow_none=True)
    moment = fields.DateTime(allow_none=True)
    aware = fields.AwareDateTime(allow_none=True)
    stamp = fields.DateTime(format="timestamp", allow_none=True)
    raw = fields.Raw(allow_none=True)
    flag = fields.Boolean(allow_none=True)
    said = Text(allow_none=True)
    inner = fields.Nested(Inner, allow_none=True)
    inners = fields.List(fields.Nested(Inner), allow_none=True)
    many = fields.Nested(Inner, many=True, allow_none=True)
    only_name = fields.Nested(Inner, only=("name",), allow_none=True)
    words = fields.List(fields.String(), allow_none=True)
    mapping = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    loose = fields.Dict(allow_none=True)
    renamed = fields.String(data_key="renamedKey", allow_none=True)
    elsewhere = fields.String(attribute="stored_as", allow_none=True)
    dotted = fields.String(attribute="inner.name")
    defaulted = fields.String(dump_default="nothing")
    method = fields.Method("_shout")
    function = fields.Function(lambda obj: "fn")

    def _shout(self, obj: Any) -> str:
        return "method"


moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1),
                       timezones=st.just(timezone.utc) | st.just(timezone(timedelta(hours=-5))))
texts = st.text(max_size=12)
inners = st.fixed_dictionaries({}, optional={"name": texts, "at": moments})
VALUES = {
    "text": st.none() | texts, "number": st.none() | st.integers(), "number_as_text": st.none() | st.integers(),
    "moment": st.none() | moments, "aware": st.none() | moments, "stamp": st.none() | moments,
    "raw": st.none() | st.integers() | texts | st.lists(st.integers(), max_size=2),
    "flag": st.none() | st.booleans() | st.sampled_from([0, 1, "yes", "off", "maybe", 2.5, [1]]),
    "said": st.none() | texts | st.integers(),
    "inner": st.none() | inners, "inners": st.none() | st.lists(inners, max_size=3),
    "many": st.none() | st.lists(inners, max_size=3), "only_name": st.none() | inners,
    "words": st.none() | st.lists(st.integers() | texts, max_size=3),
    "mapping": st.none() | st.dictionaries(texts, st.none() | texts | st.integers(), max_size=3),
    "loose": st.none() | st.dictionaries(texts, st.integers(), max_size=3),
    "renamed": st.none() | texts, "defaulted": st.none() | texts, "stored_as": st.none() | texts,
}
# Any subset of the attributes present: a missing one leaves its key out (or takes its default).
objects = st.fixed_dictionaries({}, optional=VALUES)
DUMP = compile_dump(Everything())


@settings(max_examples=400, deadline=None)
@given(objects, st.booleans())
def test_the_compiled_dump_is_the_schemas_dump(values: dict[str, Any], as_object: bool) -> None:
    obj = SimpleNamespace(**values) if as_object else values

    assert list(DUMP(obj).items()) == list(Everything().dump(obj).items())


def test_exclude_and_only_of_the_schema_are_kept() -> None:
    obj = {"text": "a", "number": 2, "renamed": "r"}
    for schema in (Everything(exclude=("number",)), Everything(only=("renamed", "text"))):
        assert compile_dump(schema)(obj) == schema.dump(obj)
    assert "number" not in compile_dump(Everything(exclude=("number",)))(obj)
