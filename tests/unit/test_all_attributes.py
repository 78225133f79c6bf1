"""Every public module's ``__all__`` names exactly what it defines for export."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import aioproducer


def _public_modules() -> list[str]:
    names = ["aioproducer"]
    for info in pkgutil.walk_packages(aioproducer.__path__, "aioproducer."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _defined_here(module: ModuleType) -> set[str]:
    """Public classes and functions whose home is ``module``."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module.__name__
    }


@pytest.mark.parametrize("name", _public_modules())
def test_all_lists_public_definitions(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    unlisted = _defined_here(module) - set(exported)
    assert not unlisted, f"{name} defines public names missing from __all__: {sorted(unlisted)}"
