"""Test-wide guards: no test may open a network connection (loopback is allowed for PostgreSQL)."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

pytest_plugins = ["pytester"]  # pytest's own fixture for running pytest sessions (the energy plugin's tests)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow 3 phones home unless told not to

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
NETWORK_ATTEMPTS: list[str] = []


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_local(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _is_local((host,)):
        NETWORK_ATTEMPTS.append(f"getaddrinfo:{host}")
        raise socket.gaierror(f"network lookup blocked in tests: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _fail_on_network_attempt():
    """Fail any test that tried to reach a non-loopback address, even if the code swallowed the error."""
    before = len(NETWORK_ATTEMPTS)
    yield
    attempts = NETWORK_ATTEMPTS[before:]
    assert not attempts, f"test attempted network access: {attempts}"


@pytest.fixture
def no_cotenant_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read this machine as one without /proc/stat, so no co-tenant load is measured.

    For benches of fake workloads behind a deterministic monitor: their figures cannot change with other work on
    the machine, so a busy test host must not flag them ``contended``. tests/bench/test_contention.py covers
    contention with a real CPU hog.
    """
    from wattlens.meters import cotenant

    monkeypatch.setattr(cotenant, "machine_busy_s", lambda path=cotenant.PROC_STAT: None)
