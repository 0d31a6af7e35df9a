"""`envdesk openapi`: print or write the OpenAPI document that is committed as openapi.yaml."""
from __future__ import annotations

import click


@click.command("openapi", help="Print the OpenAPI document as YAML (or write it with --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="write to this file instead of stdout (e.g. openapi.yaml)")
def openapi(output: str | None) -> None:
    from service.api.openapi import dump_spec, write_spec

    if output:
        write_spec(output)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(dump_spec(), nl=False)
