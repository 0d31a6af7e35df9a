"""A schema's ``dump``, compiled once into one plain function for the bodies served most often.

``compile_dump(schema)`` returns ``dump(obj) -> dict`` equal to ``schema.dump(obj)``. It walks
the schema's public ``dump_fields`` once, at import, and writes the source of one function that
reads each attribute and converts it inline — strings, integers, ISO date-times, raw values, booleans,
nested schemas, lists and dicts of those; ``Method`` and ``Function`` fields call their method or
function directly — so a page of tickets costs a dict per ticket instead of marshmallow's
machinery per field (the way dataclasses writes ``__init__``). Any other field (a
custom one (the project's ``Text`` is a string), a dotted ``attribute``, a ``dump_default``, an ``as_string``) keeps marshmallow's own
public ``Field.serialize``. The schema stays the one description of the format: the OpenAPI
document and these bodies both come from it, and tests/unit/test_compiled_dump.py holds the two
equal over every field type and option.

Schemas with ``pre_dump``/``post_dump`` hooks are not for this: their hooks would not run."""
from __future__ import annotations

import keyword
from typing import Any, Callable

from marshmallow import Schema, fields, missing

from schemas.common import Text

Dump = Callable[[Any], dict[str, Any]]
_ABSENT = object()
_SIMPLE = {
    fields.String: "{v} if {v}.__class__ is str else str({v})",
    fields.Integer: "int({v})",
    fields.DateTime: "{v}.isoformat()",
    fields.AwareDateTime: "{v}.isoformat()",
}


class _Source:
    """The generated function's lines and the objects its names refer to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {"_ABSENT": _ABSENT, "missing": missing}

    def name(self, obj: Any) -> str:
        """A name in the function's globals bound to ``obj``."""
        label = f"_n{len(self.names)}"
        self.names[label] = obj
        return label


def expression(field: fields.Field, var: str, depth: int, source: _Source) -> str | None:
    """Python source of ``field``'s serialization of the value in ``var``, or None where
    marshmallow's own ``Field.serialize`` is kept (a type or option not reproduced here)."""
    kind = fields.String if isinstance(field, Text) else type(field)  # Text: how it loads differs only
    if kind in _SIMPLE and not getattr(field, "as_string", False) and getattr(field, "format", None) in (None, "iso"):
        convert = _SIMPLE[kind].format(v=var)
    elif kind in (fields.Raw, fields.Boolean):  # a Boolean dumps its value as it is
        return var
    elif kind is fields.Nested:
        mapping, obj = (source.name(dump) for dump in _functions(field.schema))
        item = f"_x{depth}"
        one = f"({mapping}({item}) if {item}.__class__ is dict else {obj}({item}))"
        if field.many or field.schema.many:
            convert = f"[{one} for {item} in {var}]"
        else:
            convert = f"({mapping}({var}) if {var}.__class__ is dict else {obj}({var}))"
    elif kind is fields.List:
        item = f"_x{depth}"
        inner = expression(field.inner, item, depth + 1, source)
        if inner is None:
            return None
        convert = f"[{inner} for {item} in {var}]"
    elif kind is fields.Dict:
        key, value = f"_k{depth}", f"_w{depth}"
        key_of = key if field.key_field is None else expression(field.key_field, key, depth + 1, source)
        value_of = value if field.value_field is None else expression(field.value_field, value, depth + 1, source)
        if key_of is None or value_of is None:
            return None
        convert = f"{{{key_of}: {value_of} for {key}, {value} in {var}.items()}}"
    else:
        return None
    return f"None if {var} is None else {convert}"


def _read(field: fields.Field, name: str, key: str, mapping: bool, source: _Source) -> str:
    """The source putting ``field``'s value of ``obj`` into ``body[key]``, or leaving it out where
    marshmallow would (``missing``, or an attribute the object does not have)."""
    if isinstance(field, fields.Method) and field.serialize_method_name:
        value = f"{source.name(getattr(field.parent, field.serialize_method_name))}(obj)"
    elif isinstance(field, fields.Function) and field.serialize_func:
        value = f"{source.name(field.serialize_func)}(obj)"
    else:
        attribute = field.attribute or name
        convert = expression(field, "v", 0, source)
        if convert is None or "." in attribute or field.dump_default is not missing:
            value = f"{source.name(field.serialize)}({name!r}, obj)"
        else:
            if mapping:
                return f"    v = obj.get({attribute!r}, _ABSENT)\n    if v is not _ABSENT: body[{key!r}] = {convert}"
            if not attribute.isidentifier() or keyword.iskeyword(attribute):
                return f"    v = getattr(obj, {attribute!r}, _ABSENT)\n    if v is not _ABSENT: body[{key!r}] = {convert}"
            # An attribute read, not a getattr() call; a missing one leaves the key out.
            return (f"    try:\n        v = obj.{attribute}\n    except AttributeError:\n        pass\n"
                    f"    else:\n        body[{key!r}] = {convert}")
    return f"    v = {value}\n    if v is not missing: body[{key!r}] = v"


def _function(schema: Schema, mapping: bool, source: _Source) -> str:
    label = "dump_mapping" if mapping else "dump_object"
    lines = [f"def {label}(obj):", "    body = {}"]
    for name, field in schema.dump_fields.items():
        lines.append(_read(field, name, field.data_key or name, mapping, source))
    lines.append("    return body")
    return "\n".join(lines)


def _functions(schema: Schema) -> tuple[Dump, Dump]:
    """``schema.dump`` of a dict and of any other object, as two plain functions."""
    source = _Source()
    code = "\n\n".join((_function(schema, True, source), _function(schema, False, source)))
    namespace = dict(source.names)
    exec(compile(code, f"<dump of {type(schema).__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["dump_mapping"], namespace["dump_object"]


def compile_dump(schema: Schema) -> Dump:
    """``schema.dump`` (of one object or mapping) as a plain function, built once."""
    dump_mapping, dump_object = _functions(schema)

    def dump(obj: Any) -> dict[str, Any]:
        return dump_mapping(obj) if isinstance(obj, dict) else dump_object(obj)

    return dump
