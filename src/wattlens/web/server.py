"""Running the page: bind the address (a clear error when it is taken), warm the cache, serve with uvicorn.

``127.0.0.1`` by default: the results stay on this machine unless ``--host`` says otherwise, and then the caller
prints the warning (:func:`exposure_warning`). The socket is bound here, before uvicorn starts, so that a port in use
is one sentence, not a traceback. The latest bench run's leaderboard is computed before the first request is
accepted (``warm``), so that the first page is fast even over 10,000 cells.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wattlens._logging import get_logger
from wattlens.errors import WattlensError
from wattlens.redact import blank, passwords_in
from wattlens.web.cache import ResultsCache

logger = get_logger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServeError(WattlensError, OSError):
    """The page cannot be served (address taken, bad host, store unreadable); the message says what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The warning for a host other than loopback (None for loopback)."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in ("0.0.0.0", "::") else host
    return (
        f"serving on {where}, port {port}: anyone who can reach this machine there can read every result in the "
        "store (read-only, no authentication). Use --host 127.0.0.1 to keep it on this machine."
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or :class:`ServeError` saying why not (in use, not an address here)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop may reuse the port
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use (another `wattlens serve`?); choose another with --port N"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise ServeError(f"cannot listen on {host}: not an address of this machine ({exc.strerror})") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"not allowed to listen on port {port} (ports below 1024 need root); use --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def warm(cache: ResultsCache) -> float:
    """Compute what the first page needs (the latest bench run's leaderboard); returns the seconds it took."""
    from wattlens.web import views

    started = time.perf_counter()
    try:
        views.leaderboard_view(cache, {})
        views.runs_view(cache, {})
    except Exception as exc:  # the page says what is wrong when it is asked; the server starts anyway
        logger.warning("could not prepare the first page: %s", exc)
    return time.perf_counter() - started


def redactor(raw_url: str | None) -> Callable[[str], str]:
    """A function that blanks the database password (if the URL has one) in any text."""
    passwords = passwords_in([raw_url or ""], environ=True)
    return lambda text: blank(text, passwords)


@dataclass
class Server:
    """uvicorn serving the app on an already bound socket; ``start()`` in a thread (tests) or ``run()`` (the CLI)."""

    app: Any
    sock: socket.socket

    def __post_init__(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.url = url_of(self.sock)

    def run(self) -> None:
        """Serve until Ctrl-C / SIGTERM (uvicorn's own handlers stop it gracefully)."""
        self._server.run(sockets=[self.sock])

    def start(self) -> Server:
        """Serve from a background thread (no signal handlers there); ``stop()`` ends it."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_server(
    store: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, raw_url: str | None = None, warm_up: bool = True
) -> Server:
    """Bind, build the app over ``store`` (opened read-only) and warm its cache; the caller runs or starts it."""
    from wattlens.web.app import create_app

    sock = bind(host, port)
    try:
        cache = ResultsCache(store)
        app = create_app(store, redact=redactor(raw_url), cache=cache)
        if warm_up:
            logger.info("first page prepared in %.2f s", warm(cache))
        return Server(app, sock)
    except BaseException:
        sock.close()
        raise
