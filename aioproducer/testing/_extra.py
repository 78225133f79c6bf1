"""The error for a harness path whose optional dependency is missing: it names the extra."""

from __future__ import annotations

from aioproducer.testing.jars import HarnessError

__all__ = ["missing_extra"]


def missing_extra(exc: ImportError, purpose: str) -> HarnessError:
    """``purpose`` needs what ``exc`` failed to import: say which extra installs it."""
    return HarnessError(
        f"{purpose} needs the module {exc.name!r}, which is not installed here: "
        "pip install 'aioproducer[testing]'"
    )
