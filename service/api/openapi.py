"""The OpenAPI document, generated from the same schemas the code uses (committed as openapi.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.adapters.config import Settings


def generate_spec() -> dict[str, Any]:
    """Build the app on throwaway settings (nothing connects at build time) and return its spec."""
    from service.api import create_app

    app = create_app(Settings(database_url="sqlite://", broker_url="memory://"))
    api = app.extensions["flask-smorest"]["blp_name_to_api"]["tickets"]
    with app.app_context():
        spec = api.spec.to_dict()
    return {"openapi": spec.pop("openapi"), "info": spec.pop("info"), **spec}


class _Dumper(yaml.SafeDumper):
    """Writes a value used twice in full both times (no YAML anchors and aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_spec(spec: dict[str, Any] | None = None) -> str:
    return yaml.dump(spec if spec is not None else generate_spec(), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)


def write_spec(path: str | Path) -> None:
    Path(path).write_text(dump_spec(), encoding="utf-8")
