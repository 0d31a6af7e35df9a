"""What every command shares: settings, a unit of work, JSON output, errors as usage messages."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

import click
from sqlalchemy.orm import Session, sessionmaker

from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.domain.errors import DomainError
from service.domain.hosting import COMPONENTS, SIZES


def settings() -> Settings:
    return Settings.from_env()


@functools.cache
def _sessions(database_url: str, pooler: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(database_url, pooler=pooler))


def uow() -> UnitOfWork:
    conf = settings()
    return UnitOfWork(_sessions(conf.database_url, conf.database_pooler))


def emit(obj: dict[str, Any]) -> None:
    """Print one object as one JSON line on stdout."""
    click.echo(json.dumps(obj, default=str, sort_keys=True))


def domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A refused rule or a bad value ends the command with its message, not a traceback."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DomainError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    return wrapper


def component_sizes(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``("yves=large", ...)`` → ``{"yves": "large"}``; anything else is a usage error of ``option``."""
    sizes = {}
    for value in values:
        component, sep, size = value.partition("=")
        if not sep or component not in COMPONENTS or size not in SIZES:
            raise click.BadParameter(
                f"{value!r}: expected component=size with component in {', '.join(COMPONENTS)} "
                f"and size in {', '.join(SIZES)}", param_hint=option)
        sizes[component] = size
    return sizes
