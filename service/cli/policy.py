"""`envdesk policy check FILE`: validate an approval policy and print its rules."""
from __future__ import annotations

import click

from service.adapters.policy_file import dump, load_policy
from service.domain.approval_policy import PolicyError


@click.group(help="The approval policy (APPROVAL_POLICY).")
def policy() -> None:
    pass


@policy.command("check", help="Validate an approval policy file and print its rules, in the "
                "order they are tried, as YAML; exit 1 naming the line at fault if it is invalid.")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    try:
        rules = load_policy(file)
    except PolicyError as exc:
        click.echo(f"invalid approval policy: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(dump(rules), nl=False)
    count = len(rules.rules)
    click.echo(f"{file}: {count} rule{'' if count == 1 else 's'}; a request that no rule "
               "matches needs one support approval", err=True)
