"""`envdesk policy check FILE`, run in-process on real files: what it prints is the policy."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from service.adapters.policy_file import parse_text
from service.cli import cli
from service.domain.approval_policy import Approval
from service.domain.approval_policy_parse import parse_policy
from service.domain.hosting import CHANGE_KINDS, Stage, TicketType


def check(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["policy", "check", str(path)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def subset(values: list[str]) -> st.SearchStrategy:
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True)


names = st.text(st.characters(codec="utf-8", exclude_categories=("C", "Z")), min_size=1, max_size=20)
numbers = st.integers(0, 10_000) | st.floats(0, 10_000, allow_nan=False, allow_infinity=False)
matches = st.fixed_dictionaries({}, optional={
    "type": subset([t.value for t in TicketType]),
    "stage": subset([s.value for s in Stage]),
    "change_kind": subset(list(CHANGE_KINDS)),
    "temporary": st.booleans(),
    "max_days": numbers,
    "account": st.lists(names, min_size=1, max_size=3, unique=True),
})
rules = st.fixed_dictionaries(
    {},
    optional={"approval": st.sampled_from([a.value for a in Approval]),
              "match": matches, "min_notice_hours": numbers,
              "verify_on": st.sampled_from([["stage"], ["dev", "stage"], ["stage", "dev"]])},
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rules, max_size=6), st.data())
def test_a_policy_round_trips_through_policy_check(drawn: list[dict], data: st.DataObject) -> None:
    named = [dict(rule, name=f"rule {index}") if data.draw(st.booleans()) else rule
             for index, rule in enumerate(drawn)]
    original = parse_policy({"rules": named})
    with tempfile.TemporaryDirectory() as folder:
        first = Path(folder) / "policy.yaml"
        first.write_text(yaml.safe_dump({"rules": named}, allow_unicode=True), encoding="utf-8")
        code, printed, _ = check(first)
        assert code == 0
        assert parse_text(printed) == original
        again = Path(folder) / "printed.yaml"
        again.write_text(printed, encoding="utf-8")
        assert check(again)[:2] == (0, printed)


def test_policy_check_prints_the_rules_in_order(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n"
                    "  - name: standard stage load tests\n"
                    "    match: {type: upscale, stage: stage, temporary: true, max_days: 7}\n"
                    "    approval: auto\n"
                    "  - name: four eyes for prod\n"
                    "    match: {stage: prod}\n"
                    "    approval: dual\n"
                    "    verify_on: [dev, stage]\n")
    code, printed, summary = check(path)
    assert code == 0
    shown = yaml.safe_load(printed)["rules"]
    assert [rule["name"] for rule in shown] == ["standard stage load tests", "four eyes for prod"]
    assert shown[0]["approval"] == "auto"
    assert shown[1]["verify_on"] == ["dev", "stage"]
    assert "2 rules" in summary


def test_policy_check_shows_a_rule_without_approval_asking_for_one_support_approval(
        tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - name: a day's notice\n    min_notice_hours: 24\n")
    code, printed, _ = check(path)
    assert code == 0
    assert yaml.safe_load(printed)["rules"] == [
        {"name": "a day's notice", "match": {}, "approval": "single", "min_notice_hours": 24}]


def test_policy_check_refuses_an_invalid_file_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - name: a\n    approval: auto\n  - name: b\n    approval: twice\n")
    code, printed, error = check(path)
    assert code == 1
    assert printed == ""
    assert f"{path}: line 5:" in error
    assert "auto, single or dual" in error


def test_policy_check_refuses_a_missing_file(tmp_path: Path) -> None:
    code, _, error = check(tmp_path / "nowhere.yaml")
    assert code == 1
    assert "cannot read" in error


def test_the_api_refuses_to_start_on_an_invalid_policy(tmp_path: Path) -> None:
    from service.api import create_app
    from service.adapters.config import Settings
    from service.domain.approval_policy import PolicyError

    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - match: {stage: qa}\n    approval: auto\n")
    settings_ = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", broker_url="memory://",
                         approval_policy=str(path))
    try:
        create_app(settings_)
    except PolicyError as exc:
        assert "line 2" in str(exc) and "'qa'" in str(exc)
    else:
        raise AssertionError("the API started with an invalid approval policy")
