import socket

import pytest

from tests import conftest


def test_outbound_connection_is_blocked_and_recorded():
    before = len(conftest.NETWORK_ATTEMPTS)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError, match="blocked"):
        s.connect(("93.184.216.34", 80))
    s.close()
    assert len(conftest.NETWORK_ATTEMPTS) == before + 1
    del conftest.NETWORK_ATTEMPTS[before:]  # this test wanted the attempt; don't fail it


def test_dns_lookup_is_blocked():
    before = len(conftest.NETWORK_ATTEMPTS)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 80)
    del conftest.NETWORK_ATTEMPTS[before:]
