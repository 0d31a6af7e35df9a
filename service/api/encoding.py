"""The API's JSON bodies written by orjson through Flask's JSON provider hook (``app.json``):
the same compact, key-sorted JSON as Flask's default provider, in a fraction of its time — a
month of the calendar or of usage is hundreds of kilobytes to megabytes of JSON.

What orjson does not write as the standard library would is handed back to Flask's own
``default`` (dates as HTTP dates, decimals and UUIDs as strings, dataclasses as dicts), and
whatever orjson refuses (an integer past 64 bits) or an indented body (debug) is written by
Flask's provider itself. Non-ASCII text is written as UTF-8, not as ``\\u`` escapes."""
from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_COMPACT = (",", ":")
_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


class OrjsonProvider(DefaultJSONProvider):
    """Flask's default provider, its compact ``dumps`` done by orjson."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("separators", _COMPACT) == _COMPACT and kwargs.keys() <= {"separators"}:
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except orjson.JSONEncodeError:
                pass  # past what orjson writes: the standard library's answer, or its error
        return super().dumps(obj, **({"separators": _COMPACT} | kwargs))
