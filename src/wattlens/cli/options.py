"""Validation of the CLI's option values: one place, used by every command (issue 18, findings 1 and 7).

Every option value is checked while the command line is parsed, before any work (no model is loaded, no store
opened, nothing measured): a bad value is exit 2 and ONE line on stderr naming the option and what is allowed.

* Typed options use the ``type=`` callables below (:class:`Int`, :class:`Float`, :func:`country`,
  :func:`region`, :func:`pue`, :func:`db_location`, :class:`OutputPath`, :class:`InputPath` ...). Each carries
  ``allowed`` (said in the error) and ``bad_examples`` (values the bad-input corpus test feeds it).
* Checks across options and the environment (``--region`` inside ``--country``, ``$WATTLENS_PUE``) are done by
  :func:`check_namespace`, which ``wattlens.cli.main`` calls for every command before its function.
* :class:`Parser` is the ``ArgumentParser`` of every command: its errors are one line (argparse prints the whole
  usage block first, which buries the error), with what is allowed added to argparse's own messages.

>>> Int(1)("3")
3
>>> Int(1)("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: '0' is not allowed; allowed: an integer >= 1
"""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from wattlens.errors import WattlensError

EXIT_USAGE = 2
_LONG = "9" * 400  # a very long value


class UsageError(WattlensError):
    """Bad input on the command line or in the environment: exit 2 with this one-line message."""


def one_line(text: str) -> str:
    """``text`` on one line (driver errors span several): lines joined with ' / ', whitespace squeezed."""
    parts = [" ".join(p.split()) for p in str(text).splitlines()]
    return " / ".join(p for p in parts if p)


def _shown(text: str, limit: int = 60) -> str:
    """A user's value as quoted in an error, cut when very long (the error stays one readable line)."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _bad(text: str, allowed: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{_shown(text)} is not allowed; allowed: {allowed}")


# --- numbers ----------------------------------------------------------------------------------------------------


def _bound_words(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}" if not lo_open else f"> {lo:g} and <= {hi:g}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"<= {hi:g}"
    return ""


class Int:
    """An integer option within [lo, hi] (either open-ended)."""

    def __init__(self, lo: int | None = None, hi: int | None = None, note: str = "") -> None:
        self.lo, self.hi = lo, hi
        bounds = _bound_words(lo, hi, False)
        self.allowed = f"an integer {bounds}".strip() + (f" ({note})" if note else "")
        self.__name__ = "integer"  # argparse's fallback message names the type
        bad = ["abc", "1.5", "", _LONG, "١٢", "nan"]
        bad += [str(lo - 1)] if lo is not None else []
        bad += [str(hi + 1)] if hi is not None else []
        self.bad_examples = tuple(bad)

    def __call__(self, text: str) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", stripped):  # ASCII digits only: int() would take '١٢'
            _bad(text, self.allowed)
        value = int(stripped)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            _bad(text, self.allowed)
        return value


class Float:
    """A finite number within [lo, hi] (``lo_open``: lo itself excluded)."""

    def __init__(
        self, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, unit: str = ""
    ) -> None:
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        bounds = _bound_words(lo, hi, lo_open)
        self.allowed = " ".join(p for p in ("a finite number", bounds, unit) if p)
        self.__name__ = "number"
        bad = ["abc", "", "nan", "inf", _LONG, "１"]
        if lo is not None:
            bad.append(str(lo) if lo_open else str(lo - 1))
        if hi is not None:
            bad.append(str(hi * 2 + 1))
        self.bad_examples = tuple(bad)

    def __call__(self, text: str) -> float:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", stripped):
            _bad(text, self.allowed)  # float() would accept 'nan', 'inf', '1_0' and non-ASCII digits
        value = float(stripped)
        too_low = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        if not math.isfinite(value) or too_low or (self.hi is not None and value > self.hi):
            _bad(text, self.allowed)
        return value


# --- carbon and cost ---------------------------------------------------------------------------------------------


def _carbon_check(check: Callable[[str], Any], allowed: str) -> Callable[[str], str]:
    """A type callable that keeps the user's text but checks it with the carbon library now."""

    def parse(text: str) -> str:
        from wattlens.carbon import CarbonError

        if not text.strip():
            _bad(text, allowed)
        try:
            check(text)
        except CarbonError as exc:
            message = one_line(str(exc))
            message += "" if "allowed" in message.casefold() else f"; allowed: {allowed}"
            raise argparse.ArgumentTypeError(message) from None
        return text

    return parse


def _country(text: str) -> None:
    from wattlens.carbon import resolve_location

    resolve_location(country=text, use_env=False)


def _region(text: str) -> None:
    from wattlens.carbon import resolve_location

    resolve_location(region=text, use_env=False)


def _pue(text: str) -> None:
    if text.strip().casefold() == "provider":
        return
    from wattlens.carbon.intensity import validate_pue

    validate_pue(text)


def _currency(text: str) -> None:
    from wattlens.carbon.footprint import _clean_currency

    _clean_currency(text)


country = _carbon_check(_country, "an ISO 3166 code (FR, FRA), a country name (France) or WORLD")
country.allowed = "an ISO 3166 code (FR, FRA), a country name (France) or WORLD"  # type: ignore[attr-defined]
country.bad_examples = ("XX", "", "Atlantis", _LONG, "Fr\u00e4nkreich\u2603")  # type: ignore[attr-defined]
region = _carbon_check(_region, "provider:region, e.g. aws:us-east-1")
region.allowed = "provider:region, e.g. aws:us-east-1"  # type: ignore[attr-defined]
region.bad_examples = ("foo", "", "aws:nowhere-1", "mars:1", _LONG, "aws:\u00fc")  # type: ignore[attr-defined]
pue = _carbon_check(_pue, "a number from 1.0 to 3.0, or 'provider' with --region")
pue.allowed = "a number from 1.0 to 3.0, or 'provider' with --region"  # type: ignore[attr-defined]
pue.bad_examples = ("abc", "0.5", "-1", "nan", "inf", "", "4", _LONG)  # type: ignore[attr-defined]
currency = _carbon_check(_currency, "a short code such as EUR or USD")
currency.allowed = "a short code such as EUR or USD"  # type: ignore[attr-defined]
currency.bad_examples = ("EURO-DOLLARS", _LONG)  # type: ignore[attr-defined]
intensity = Float(0, 2000, unit="gCO2e/kWh")
price = Float(0, None, unit="per kWh")


# --- stores and paths --------------------------------------------------------------------------------------------


def _db_location(text: str) -> str:
    from wattlens.store import StoreError
    from wattlens.store.db import normalise_url

    try:
        url = normalise_url(text)
    except StoreError as exc:
        raise argparse.ArgumentTypeError(one_line(str(exc))) from None
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[-1]
        if database and database != ":memory:" and Path(database).is_dir():
            _bad(text, "a database file, not a directory")
        return text
    _check_server_url(text, url)
    return text


_HOST_RE = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]+\]")
_SERVER_ALLOWED = "postgresql://user[:password]@host[:port]/database with a port from 1 to 65535"


def _check_server_url(text: str, url: str) -> None:
    """A server URL's syntax (host, port, database), checked without connecting: an unreachable server is
    found when the command opens the store, a malformed URL now."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
        port = parsed.port
    except Exception:  # the port or another part the URL parser refuses
        _bad(_masked(text), _SERVER_ALLOWED)
    if not parsed.database or (parsed.host and not _HOST_RE.fullmatch(parsed.host)):
        _bad(_masked(text), _SERVER_ALLOWED)
    if port is not None and not 1 <= port <= 65535:
        _bad(_masked(text), _SERVER_ALLOWED)


def _masked(text: str) -> str:
    from wattlens.redact import mask_url

    return mask_url(text)


db_location = _db_location
db_location.allowed = "a .sqlite/.db path, sqlite:///file or postgresql://user@host/db"  # type: ignore[attr-defined]
db_location.bad_examples = (  # type: ignore[attr-defined]
    "mysql://u@h/db",
    "http://x/y",
    "",
    "results.txt",
    "postgresql://u:secret@127.0.0.1:notaport/db",
    "postgresql://u:secret@127.0.0.1:99999/db",
    "postgresql://u:secret@bad host/db",
    "postgresql://u:secret@127.0.0.1:5432",
    "ftp://u:pw@h/d",
    "oracle://h/db",
)

_SPECIAL_DIRS = ("/proc", "/sys", "/dev")


class OutputPath:
    """A file the command will write: its folder must exist and be writable; not a directory, device or /proc."""

    def __init__(self, what: str = "file", *, create_folders: bool = True) -> None:
        self.create_folders = create_folders  # the command creates missing folders (HTML reports) or not (CSV)
        where = "a folder that exists or can be created" if create_folders else "an existing folder"
        self.allowed = f"a writable {what} path in {where} (not a directory, device or /proc)"
        self.__name__ = "path"
        self.bad_examples = ("", "/", "/proc/self/status", "/dev/null", "/dev/null/x.out", _LONG + ".out")

    def __call__(self, text: str) -> str:
        if text == "-":
            return text
        try:
            problem = "empty" if not text.strip() else "too long" if len(text) > 4096 else self._problem(Path(text))
        except OSError as exc:  # a name too long for the filesystem, a loop of links
            problem = exc.strerror or "unusable"
        if problem:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not allowed ({problem}); allowed: {self.allowed}")
        return text

    def _problem(self, path: Path) -> str | None:
        """Why ``path`` cannot be written, or None."""
        resolved = path.resolve()
        if any(str(resolved) == d or str(resolved).startswith(d + "/") for d in _SPECIAL_DIRS):
            return f"{resolved.parts[1] if len(resolved.parts) > 1 else resolved} is a system folder"
        if len(path.name.encode()) > 255:
            return "file name too long"
        if path.is_dir():
            return "is a directory"
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            return "not a regular file"
        if path.exists() and not os.access(path, os.W_OK):
            return "not writable"
        parent = resolved.parent
        if not parent.is_dir() and self.create_folders:
            parent = next(p for p in resolved.parents if p.exists())  # the folder the missing ones would go in
            if not parent.is_dir():
                return f"{str(parent)!r} is not a folder"
        if not parent.is_dir():
            return f"folder {str(parent)!r} does not exist"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"folder {str(parent)!r} is not writable"
        return None


class InputPath:
    """A file the command reads: it must exist and be a regular file."""

    def __init__(self, what: str = "file", keywords: tuple[str, ...] = ()) -> None:
        self.keywords = keywords  # names that are not paths (``--suite quick``)
        named = f" or one of {', '.join(keywords)}" if keywords else ""
        self.allowed = f"an existing readable {what}{named}"
        self.__name__ = "path"
        self.bad_examples = ("", "/", "/nonexistent/x.toml", "/dev/null", _LONG, "\u2603.toml")

    def __call__(self, text: str) -> str:
        if text in self.keywords:
            return text
        path = Path(text)
        try:
            ok = bool(text.strip()) and path.is_file() and os.access(path, os.R_OK)
        except OSError:
            ok = False
        if not ok:
            _bad(text, self.allowed)
        return text


# --- checks across options ---------------------------------------------------------------------------------------


def check_namespace(args: argparse.Namespace) -> None:
    """The carbon settings as a whole (options with the environment), checked before the command runs.

    Raises :class:`UsageError` naming what is wrong; a command without carbon options passes untouched.
    """
    if not any(hasattr(args, k) for k in ("country", "region", "price_per_kwh")):
        return
    from wattlens.carbon import CarbonError, resolve_location
    from wattlens.carbon.footprint import resolve_price, resolve_pue

    where = "--country/--region/--intensity (or $WATTLENS_COUNTRY/$WATTLENS_REGION)"
    try:
        location = resolve_location(
            country=getattr(args, "country", None),
            region=getattr(args, "region", None),
            intensity_g_per_kwh=getattr(args, "intensity", None),
        )
        where = "--pue (or $WATTLENS_PUE)"
        raw_pue = getattr(args, "pue", None)
        if raw_pue is None or _is_carbon_pue(raw_pue):
            resolve_pue(_pue_value(raw_pue), location)
        where = "--price-per-kwh/--currency (or $WATTLENS_PRICE_PER_KWH/$WATTLENS_CURRENCY)"
        resolve_price(getattr(args, "price_per_kwh", None), getattr(args, "currency", None))
    except CarbonError as exc:
        raise UsageError(f"{where}: {one_line(str(exc))}") from None


def _is_carbon_pue(raw: object) -> bool:
    """analyze's --pue is a LOW-HIGH range of its own, checked by analyze; the carbon PUE is a number/provider."""
    return not (isinstance(raw, str) and "-" in raw.strip()[1:])


def _pue_value(raw: object) -> object:
    if isinstance(raw, str):
        text = raw.strip()
        return "provider" if text.casefold() == "provider" else text
    return raw


# --- the parser --------------------------------------------------------------------------------------------------

_HINTS = (
    ("invalid int value", "allowed: an integer"),
    ("invalid float value", "allowed: a number"),
    ("expected one argument", "allowed: one value after the option"),
    ("unrecognized arguments", "allowed: the options listed by --help"),
    ("the following arguments are required", "allowed: see --help for what to give"),
    ("not allowed with argument", "allowed: one of the two"),
    ("ambiguous option", "allowed: the full option name"),
)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr, with what is allowed, then exit 2."""

    def error(self, message: str) -> NoReturn:
        text = one_line(message)
        for needle, hint in _HINTS:
            if needle in text and "allowed" not in text:
                text = f"{text}; {hint}"
                break
        sys.stderr.write(f"{self.prog}: error: {text} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)
