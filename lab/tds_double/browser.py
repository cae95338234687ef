"""A SQL Server Browser stand-in on UDP (MC-SQLR), for the double's instance.

Requests and answers, as the SQL Server Browser service gives them:

* ``0x02`` CLNT_BCAST_EX and ``0x03`` CLNT_UCAST_EX (one byte): every
  instance of the machine in one SVR_RESP.
* ``0x04`` CLNT_UCAST_INST + instance name + NUL: that instance only, and
  no answer at all when the machine has no such instance (case does not
  matter).
* ``0x0F`` CLNT_UCAST_DAC: no answer; remote admin connections are off, as
  they are by default.

SVR_RESP is ``0x05``, a little-endian 16-bit size and ASCII text:
``ServerName;SQL1;InstanceName;SPHERE;IsClustered;No;Version;16.0.1000.6;tcp;1433;;``.
Anything malformed is dropped without an answer.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from dataclasses import dataclass

log = logging.getLogger("lab.tds_double.browser")

CLNT_BCAST_EX = 0x02
CLNT_UCAST_EX = 0x03
CLNT_UCAST_INST = 0x04
CLNT_UCAST_DAC = 0x0F
SVR_RESP = 0x05
# An instance name is at most 16 characters; the request allows 32 bytes.
MAX_INSTANCE_BYTES = 32


@dataclass(frozen=True)
class Instance:
    server_name: str
    name: str
    version: str
    tcp_port: int

    def record(self) -> str:
        return (
            f"ServerName;{self.server_name.upper()};InstanceName;{self.name};"
            f"IsClustered;No;Version;{self.version};tcp;{self.tcp_port};;"
        )


def answer(request: bytes, instances: list[Instance]) -> bytes | None:
    """The SVR_RESP for ``request``, or None when the Browser stays silent."""
    if not request:
        return None
    kind = request[0]
    if kind in (CLNT_BCAST_EX, CLNT_UCAST_EX) and len(request) == 1:
        chosen = instances
    elif kind == CLNT_UCAST_INST:
        name = request[1:].split(b"\x00", 1)[0]
        if not name or len(name) > MAX_INSTANCE_BYTES:
            return None
        wanted = name.decode("ascii", errors="replace").casefold()
        chosen = [i for i in instances if i.name.casefold() == wanted]
    else:
        return None
    if not chosen:
        return None
    text = "".join(i.record() for i in chosen).encode("ascii")
    return struct.pack("<BH", SVR_RESP, len(text)) + text


class BrowserResponder:
    """UDP listener answering Browser requests for a fixed list of instances."""

    def __init__(self, address: str, port: int, instances: list[Instance]) -> None:
        self.address = address
        self.instances = instances
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, port))
        # A short timeout lets the serving thread notice stop().
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(
            target=self._serve, name="sql-browser", daemon=True
        )
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> None:
        self._thread.start()
        log.info(
            "SQL Server Browser stand-in on udp %s:%d for %s",
            self.address,
            self.port,
            ", ".join(i.name for i in self.instances),
        )

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                request, peer = self._sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = answer(request, self.instances)
            log.info(
                "browser %s:%d request %s -> %s",
                peer[0],
                peer[1],
                request[:1].hex() or "empty",
                f"{len(reply)} bytes" if reply else "no answer",
            )
            if reply:
                try:
                    self._sock.sendto(reply, peer)
                except OSError as exc:
                    log.info("browser reply to %s failed: %s", peer[0], exc)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()
