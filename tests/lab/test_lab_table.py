"""The closing table of lab/up reads the sockets from the kernel."""

from __future__ import annotations

import socket

from lab.catalina import _sockets

ADDRESS = "127.0.0.48"


def test_sockets_lists_what_listens_on_the_address_and_nothing_else():
    with (
        socket.socket() as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket() as elsewhere,
    ):
        tcp.bind((ADDRESS, 0))
        tcp.listen(1)
        udp.bind((ADDRESS, 0))
        elsewhere.bind(("127.0.0.49", 0))
        elsewhere.listen(1)

        expected = [f"{tcp.getsockname()[1]}/tcp", f"{udp.getsockname()[1]}/udp"]

        listed = _sockets(ADDRESS)

    assert listed == expected
    assert _sockets("not an address") == []
