"""The error every integration raises for bad configuration (never for a meter failure)."""

from __future__ import annotations

from wattlens.errors import WattlensError


class IntegrationError(WattlensError, ValueError):
    """An integration was configured wrongly; the message names the bad value and what is allowed."""


class MissingExtraError(IntegrationError, ImportError):
    """The library an integration needs is not installed; the message names the extra that brings it."""


def missing_extra(library: str, extra: str, exc: BaseException) -> MissingExtraError:
    """The error for an integration whose library is not installed: says which extra brings it."""
    return MissingExtraError(f"{library} is not installed ({exc}); install it with: pip install 'wattlens[{extra}]'")


__all__ = ["IntegrationError", "MissingExtraError", "missing_extra"]
