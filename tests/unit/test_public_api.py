"""Libraries are used through their public API only: our code reads no ``_private`` attribute of
an object it does not own, and overrides no ``_private`` method of a library's class, so an
upgrade that changes a library's insides cannot break it silently."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from types import FunctionType

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "schemas", "workers")
# Public despite the underscore: namedtuple's and SQLAlchemy Row's API, marshmallow's documented
# hooks for a custom field.
PUBLIC = {"_asdict", "_fields", "_replace", "_make", "_mapping", "_serialize", "_deserialize"}
# Read by the persistence path, which is being rewritten on Core and ORM statements.
PENDING: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC


def _foreign_private_reads(path: Path) -> list[tuple[str, int, str]]:
    """``x._name`` where x is not self or cls, and ``getattr(x, "_name"...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append((node.attr, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)):
            found.append((node.args[1].value, node.lineno))
    relative = str(path.relative_to(ROOT))
    return [(relative, line, name) for name, line in found if (relative, name) not in PENDING]


def test_no_private_attribute_of_another_object_is_read():
    found = [hit for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if "migrations" not in path.parts for hit in _foreign_private_reads(path)]
    assert found == []


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PACKAGES


def _library(cls: type) -> bool:
    top = cls.__module__.split(".")[0]
    return not _ours(cls) and top not in sys.stdlib_module_names and top != "builtins"


def _modules() -> list[object]:
    modules = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules.append(root)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if ".migrations" not in info.name and "__main__" not in info.name:
                modules.append(importlib.import_module(info.name))
    return modules


def test_no_private_method_of_a_library_class_is_overridden():
    overridden = set()
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not _ours(cls):
                continue
            for name, value in cls.__dict__.items():
                if not isinstance(value, (FunctionType, staticmethod, classmethod, property)):
                    continue
                if _private(name) and any(_library(base) and name in base.__dict__ for base in cls.__mro__[1:]):
                    overridden.add(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert sorted(overridden) == []
