"""`envdesk env ...`: the environment registry and its contract rules."""
from __future__ import annotations

from typing import IO, Any

import click

from schemas.environments import EnvironmentSchema
from service.app.registry import operators
from service.cli.common import component_sizes, domain_errors, emit, uow
from service.domain.hosting import Stage
from service.app.registry.envimport import import_environments

# `env set` choices: True and False override the stage's default rule, None restores it.
RULE_OVERRIDES = {"allow": True, "require": True, "deny": False, "skip": False, "default": None}


@click.group(help="Hosted environments and their contract rules.")
def env() -> None:
    pass


@env.command("add", help="Add an environment to a customer account; prints it as one JSON line.")
@click.option("--account", "account_id", required=True)
@click.option("--name", required=True)
@click.option("--stage", type=click.Choice([stage.value for stage in Stage]), required=True)
@click.option("--size", "sizes", multiple=True, help="component=size (repeatable); default small")
@click.option("--cap", "caps", multiple=True, help="component=size: the contract's largest size")
@click.option("--allow-upscale/--deny-upscale", default=None,
              help="override the stage's default upscale rule")
@click.option("--require-verification/--no-require-verification", default=None,
              help="override whether changes must first be completed on staging")
@domain_errors
def env_add(account_id: str, name: str, stage: str, sizes: tuple[str, ...], caps: tuple[str, ...],
            allow_upscale: bool | None, require_verification: bool | None) -> None:
    created = operators.add_environment(
        account_id, name, stage, uow=uow(), sizes=component_sizes(sizes, "--size"),
        caps=component_sizes(caps, "--cap"), upscale_allowed=allow_upscale,
        requires_staging_verification=require_verification)
    emit(EnvironmentSchema().dump(created))


@env.command("set", help="Change an environment's contract rules; prints it as one JSON line.")
@click.argument("environment_id")
@click.option("--cap", "caps", multiple=True, help="component=size; replaces all caps")
@click.option("--clear-caps", is_flag=True, help="remove every cap")
@click.option("--upscale", type=click.Choice(["allow", "deny", "default"]))
@click.option("--verification", type=click.Choice(["require", "skip", "default"]))
@domain_errors
def env_set(environment_id: str, caps: tuple[str, ...], clear_caps: bool,
            upscale: str | None, verification: str | None) -> None:
    changes: dict[str, Any] = {}
    if caps or clear_caps:
        changes["caps"] = component_sizes(caps, "--cap")
    if upscale:
        changes["upscale_allowed"] = RULE_OVERRIDES[upscale]
    if verification:
        changes["requires_staging_verification"] = RULE_OVERRIDES[verification]
    emit(EnvironmentSchema().dump(
        operators.set_environment_rules(environment_id, uow=uow(), **changes)))


@env.command("import", help="Sync environments from JSON lines "
             '{"account": ID or external id, "name": ..., "stage": ..., "sizes": {component: size}}; '
             "idempotent by account and name; prints a summary line.")
@click.argument("file", type=click.File("r"))
def env_import(file: IO[str]) -> None:
    summary = import_environments(file, uow=uow())
    for error in summary.errors[:50]:
        click.echo(error, err=True)
    emit(summary.as_dict())
    if summary.errors:
        raise click.exceptions.Exit(1)
