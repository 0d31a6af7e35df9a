"""The approval policy file (``APPROVAL_POLICY``): YAML read once at start-up, with line numbers."""
from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any, Callable

import yaml

from service.domain.approval_policy import ApprovalPolicy, Path, PolicyError, to_data
from service.domain.approval_policy_parse import parse_policy


def load_policy(path: str | FilePath | None) -> ApprovalPolicy:
    """The policy in ``path``; no path: the empty policy (one support approval for everything).
    Raises PolicyError naming the file and the line at fault."""
    if not path:
        return ApprovalPolicy()
    return load_file(path, "the approval policy", PolicyError, parse_text)


def load_file(path: str | FilePath, what: str, error: type[Exception], parse: Callable[[str], Any]) -> Any:
    """``parse`` of the text in ``path``; any ``error`` it raises, or a file that cannot be read,
    is raised again as ``error`` naming the file (and ``parse``'s line at fault)."""
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None
    try:
        return parse(text)
    except error as exc:
        raise error(f"{path}: {exc}") from None


def parse_text(text: str) -> ApprovalPolicy:
    return parse_policy(*read_yaml(text, PolicyError))


def read_yaml(text: str, error: Callable[..., Exception]) -> tuple[Any, dict[Path, int]]:
    """The data in ``text`` and the line of each key's path; a YAML error or a key given twice
    raises ``error(message, line=...)``. Shared by the configuration files read like this one
    (the price list: service.adapters.price_file)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise error(f"not valid YAML: {exc.problem or exc.context}",
                    line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}") from None
    lines: dict[Path, int] = {}
    if node is not None:
        _walk(node, (), lines, error)
    return data, lines


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], error: Callable[..., Exception]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                raise error(f"key {key.value!r} appears twice", line=key.start_mark.line + 1)
            seen.add(key.value)
            lines[path + (key.value,)] = key.start_mark.line + 1
            _walk(value, path + (key.value,), lines, error)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, error)


def dump(policy: ApprovalPolicy) -> str:
    """The policy as YAML that ``parse_text`` reads back to an equal policy."""
    return yaml.safe_dump(to_data(policy), sort_keys=False, default_flow_style=None)
