"""Reading an approval policy from plain data, strictly: every unknown key, wrong type or value
is refused with the line it sits on (``lines`` maps a key's path to its line in the file)."""
from __future__ import annotations

import math
from typing import Any, Mapping

from service.domain.approval_policy import (
    CHOICE_KEYS, MATCH_KEYS, RULE_KEYS, VERIFY_ON_CHOICES, Approval, ApprovalPolicy, Match,
    Path, PolicyError, Rule,
)
from service.domain.hosting import Stage


class _Reader:
    def __init__(self, lines: Mapping[Path, int] | None) -> None:
        self.lines = lines or {}

    def fail(self, path: Path, message: str) -> PolicyError:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return PolicyError(message, line=self.lines[path[:end]])
        return PolicyError(message)

    def mapping(self, value: Any, path: Path, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping")
        for key in value:
            if key not in allowed:
                raise self.fail(path + (key,) if isinstance(key, str) else path,
                                f"unknown key {key!r} in {what}; expected one of {', '.join(allowed)}")
        return value


def parse_policy(data: Any, lines: Mapping[Path, int] | None = None) -> ApprovalPolicy:
    """An ApprovalPolicy from ``{"rules": [...]}``; raises PolicyError naming the line at fault."""
    reader = _Reader(lines)
    top = reader.mapping(data, (), "the policy", ("rules",))
    rules = top.get("rules")
    if not isinstance(rules, list):
        raise reader.fail(("rules",), "'rules' must be a list of rules")
    parsed = tuple(_rule(reader, item, index) for index, item in enumerate(rules))
    names = [rule.name for rule in parsed]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise reader.fail(("rules", index, "name"), f"rule name {name!r} is used twice")
    return ApprovalPolicy(rules=parsed)


def _rule(reader: _Reader, item: Any, index: int) -> Rule:
    path: Path = ("rules", index)
    raw = reader.mapping(item, path, f"rule {index + 1}", RULE_KEYS)
    name = raw.get("name", str(index + 1))
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise reader.fail(path + ("name",), "'name' must be a non-empty string of at most 100 characters")
    return Rule(
        name=name.strip(),
        match=_match(reader, raw.get("match", {}), path + ("match",)),
        approval=_approval(reader, raw.get("approval", Approval.SINGLE.value), path + ("approval",)),
        min_notice_hours=_number(reader, raw.get("min_notice_hours"), path + ("min_notice_hours",),
                                 "min_notice_hours"),
        verify_on=_verify_on(reader, raw.get("verify_on"), path + ("verify_on",)),
    )


def _approval(reader: _Reader, value: Any, path: Path) -> Approval:
    if value not in {a.value for a in Approval}:
        raise reader.fail(path, f"'approval' must be auto, single or dual, not {value!r}")
    return Approval(value)


def _match(reader: _Reader, value: Any, path: Path) -> Match:
    raw = reader.mapping(value, path, "'match'", MATCH_KEYS)
    found: dict[str, Any] = {key: _choices(reader, raw[key], path + (key,), key)
                             for key in CHOICE_KEYS if key in raw}
    for key in ("temporary", "within_allowance"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise reader.fail(path + (key,), f"'{key}' must be true or false")
            found[key] = raw[key]
    if "max_days" in raw:
        found["max_days"] = _number(reader, raw["max_days"], path + ("max_days",), "max_days")
    if "account" in raw:
        found["account"] = _strings(reader, raw["account"], path + ("account",), "account")
    return Match(**found)


def _strings(reader: _Reader, value: Any, path: Path, key: str) -> frozenset[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise reader.fail(path, f"'{key}' must be a string or a non-empty list of strings")
    return frozenset(item.strip() for item in items)


def _choices(reader: _Reader, value: Any, path: Path, key: str) -> frozenset[str]:
    items = _strings(reader, value, path, key)
    allowed = CHOICE_KEYS[key]
    for item in sorted(items):
        if item not in allowed:
            raise reader.fail(path, f"'{key}' {item!r} is not one of {', '.join(allowed)}")
    return items


def _number(reader: _Reader, value: Any, path: Path, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise reader.fail(path, f"'{key}' must be a number of at least 0, not {value!r}")
    return value


def _verify_on(reader: _Reader, value: Any, path: Path) -> tuple[Stage, ...] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    choice = tuple(sorted(items, key=str)) if all(isinstance(i, str) for i in items) else ()
    for option in VERIFY_ON_CHOICES:
        if choice == tuple(sorted(stage.value for stage in option)):
            return option
    raise reader.fail(path, f"'verify_on' must be [stage] or [dev, stage], not {value!r}")
