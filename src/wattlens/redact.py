"""Passwords in database URLs never reach an output: one place that finds and blanks them.

A PostgreSQL URL may carry a password (``postgresql+psycopg://user:pw@host/db``). wattlens prints URLs in
errors, resume hints and page headers; every such text goes through :func:`blank` (or the CLI's redacting
stdout/stderr), so the password shows as ``***``. Stdlib only: every layer may use it.

>>> mask_url("postgresql+psycopg://me:s3cret@127.0.0.1:5432/db")
'postgresql+psycopg://me:***@127.0.0.1:5432/db'
>>> blank("no run 'x' in postgresql://me:s3cret@h/db", passwords_in(["--db", "postgresql://me:s3cret@h/db"]))
"no run 'x' in postgresql://me:***@h/db"
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# environment variables whose value may be a database URL (the user's own configuration)
URL_ENV_VARS = ("WATTLENS_DB", "WATTLENS_TEST_PG_URL", "DATABASE_URL")


def password_of(url: str) -> str | None:
    """The password in ``url`` (``None`` when it has none or is not a URL)."""
    if "://" not in url:
        return None
    try:
        return urlsplit(url.split("=", 1)[-1] if url.startswith("--") else url).password or None
    except ValueError:
        return None


def passwords_in(texts: Iterable[str], *, environ: bool = False) -> frozenset[str]:
    """Every password in these texts (command-line words, URLs), in the forms it may be printed in.

    With ``environ=True`` the URL-valued environment variables are searched too.
    """
    candidates = list(texts) + ([os.environ.get(name, "") for name in URL_ENV_VARS] if environ else [])
    found: set[str] = set()
    for text in candidates:
        password = password_of(text)
        if password:
            found |= {password, unquote(password), quote(unquote(password), safe="")}
    return frozenset(p for p in found if p)


SHORT_SECRET = 6  # a password this short is blanked only where it stands alone, not inside other words


def blank(text: str, passwords: Iterable[str]) -> str:
    """``text`` with each password replaced by ``***`` (longest first, so no fragment survives).

    A short password (under :data:`SHORT_SECRET` characters) is blanked where it stands as a token of its own
    (``:pw@`` in a URL, a word) but not inside longer words: blanking the ``p`` of ``accepting`` would garble
    every line and, worse, show the password by where the stars fall.

    >>> blank("accepting postgresql://me:p@h/db, password p", {"p"})
    'accepting postgresql://me:***@h/db, password ***'
    """
    for secret in sorted(passwords, key=len, reverse=True):
        if len(secret) >= SHORT_SECRET:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def mask_url(url: str) -> str:
    """The URL with its password (if any) shown as ``***``; anything that is not a URL is returned unchanged."""
    return blank(url, passwords_in([url]))


class RedactingStream(io.TextIOBase):
    """A text stream that writes through to ``target`` with the passwords blanked (the CLI's stdout/stderr)."""

    def __init__(self, target: TextIO, passwords: frozenset[str]) -> None:
        super().__init__()
        self._target = target
        self._passwords = passwords

    def write(self, text: str) -> int:
        self._target.write(blank(text, self._passwords))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")
