"""Reachability probes from the machine that runs the suite.

These say whether a host answers on a port, not whether the Sphere server
itself can reach it: the evidence of every port result names the runner as
the source of the probe.

Several port rows probe the same port (HTTPS 443 of a Sphere server serves
four rows). A run probes each (address, port, TLS or not) once and every
row reads that one observation, so a host that does not answer costs one
connect timeout per port, not one per row. The plugin forgets the probes
when a session starts.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PortProbe:
    address: str
    port: int
    state: str  # "open", "refused", "timeout", "unreachable"
    detail: str = ""

    @property
    def open(self) -> bool:
        return self.state == "open"


_PROBES: dict[tuple[str, int, float, str | None], PortProbe] = {}
_PROBES_LOCK = threading.Lock()


def forget_probes() -> None:
    """Start afresh: the next probe of every port connects again."""
    with _PROBES_LOCK:
        _PROBES.clear()


def probe_tcp(
    address: str, port: int, timeout: float, tls_name: str | None = None
) -> PortProbe:
    """TCP connect, and a TLS handshake on top when ``tls_name`` is given.

    The handshake does not validate the certificate: trust is judged by the
    certificate checks, this probe only proves that TLS is spoken. The
    answer is kept for the session (see the module's notes).
    """
    key = (address, port, timeout, tls_name)
    with _PROBES_LOCK:
        seen = _PROBES.get(key)
    if seen is None:
        seen = _probe(address, port, timeout, tls_name)
        with _PROBES_LOCK:
            _PROBES[key] = seen
    return seen


def _probe(address: str, port: int, timeout: float, tls_name: str | None) -> PortProbe:
    log.debug("RUN tcp connect %s:%d tls=%s", address, port, bool(tls_name))
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return PortProbe(address, port, "refused", "connection refused")
    except TimeoutError:
        return PortProbe(address, port, "timeout", f"no answer within {timeout:g} s")
    except OSError as exc:
        return PortProbe(address, port, "unreachable", exc.strerror or str(exc))
    with sock:
        if tls_name is None:
            return PortProbe(address, port, "open", "TCP connection accepted")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with context.wrap_socket(sock, server_hostname=tls_name) as tls:
                cert = tls.getpeercert(binary_form=True) or b""
                cipher = tls.cipher()
                return PortProbe(
                    address,
                    port,
                    "open",
                    f"TLS handshake completed ({tls.version()}, "
                    f"{cipher[0] if cipher else 'no cipher'}, "
                    f"certificate of {len(cert)} bytes)",
                )
        except (ssl.SSLError, OSError) as exc:
            return PortProbe(
                address, port, "refused", f"TCP open but TLS failed: {exc}"
            )
