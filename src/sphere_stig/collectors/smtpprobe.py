"""An SMTP conversation from the runner: greeting, EHLO, and TLS.

Two ways to protect SMTP are probed. On port 25 the server greets in clear
text and must offer STARTTLS in its EHLO answer; the probe then upgrades
the connection. On port 465 ("submissions") TLS starts with the first byte
and the greeting arrives inside it. Either way the probe insists on TLS 1.2
or later and ends with QUIT, never sending a message.

Like :func:`~sphere_stig.collectors.netprobe.probe_tcp`, the handshake does
not validate the certificate: whether it is trusted is for the certificate
checks. The probe records its subject and issuer for the reviewer.
"""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

Mode = Literal["starttls", "implicit"]
# What the probe saw, from the worst to the best:
#   refused, timeout, unreachable  no TCP connection
#   no_smtp                        connected, but no 220 greeting or EHLO answer
#   no_starttls                    SMTP in clear text only (port 25)
#   tls_failed                     STARTTLS or the implicit handshake failed
#   ok                             SMTP inside TLS 1.2 or later
State = Literal[
    "refused", "timeout", "unreachable", "no_smtp", "no_starttls", "tls_failed", "ok"
]

# Sent in EHLO: .invalid is reserved (RFC 2606), so the name never claims
# to be a real host.
EHLO_NAME = "sphere-stig-probe.invalid"
# A hostile or broken server must not make the probe read forever.
MAX_LINE = 1024
MAX_LINES = 64


class _SmtpFailure(Exception):
    """The server did not speak SMTP the way the probe needs."""


@dataclass(frozen=True)
class SmtpProbe:
    address: str
    port: int
    mode: Mode
    state: State
    detail: str = ""
    banner: str = ""
    extensions: tuple[str, ...] = ()
    tls_version: str | None = None
    cipher: str | None = None
    cert_subject: str | None = None
    cert_issuer: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def starttls_offered(self) -> bool:
        return "STARTTLS" in self.extensions


def _printable(text: str, limit: int = 120) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _read_reply(stream) -> tuple[int, list[str]]:
    """One SMTP reply: its code and the text of every line."""
    lines: list[str] = []
    for _ in range(MAX_LINES):
        raw = stream.readline(MAX_LINE)
        if not raw:
            raise _SmtpFailure(
                "connection closed" + (" after " + lines[-1] if lines else "")
            )
        line = raw.decode("ascii", errors="replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise _SmtpFailure(f"not an SMTP reply: {_printable(line)!r}")
        lines.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), lines
    raise _SmtpFailure(f"reply longer than {MAX_LINES} lines")


def _command(sock, stream, line: str, expect: int) -> list[str]:
    log.debug("RUN smtp %s", line)
    sock.sendall(line.encode("ascii") + b"\r\n")
    code, text = _read_reply(stream)
    if code != expect:
        raise _SmtpFailure(f"{line} answered {code} {_printable(' '.join(text))!r}")
    return text


def _greeting(stream) -> str:
    code, text = _read_reply(stream)
    if code != 220:
        raise _SmtpFailure(f"greeting {code} {_printable(' '.join(text))!r}, not 220")
    return _printable(text[0] if text else "")


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _names(der: bytes | None) -> tuple[str | None, str | None]:
    if not der:
        return None, None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()


def _tls_facts(tls: ssl.SSLSocket) -> dict:
    subject, issuer = _names(tls.getpeercert(binary_form=True))
    cipher = tls.cipher()
    return {
        "tls_version": tls.version(),
        "cipher": cipher[0] if cipher else None,
        "cert_subject": subject,
        "cert_issuer": issuer,
    }


def probe_smtp(
    address: str, port: int, timeout: float, tls_name: str | None, mode: Mode
) -> SmtpProbe:
    """Talk SMTP on ``port`` as far as QUIT; never raises for network trouble."""
    log.debug("RUN smtp probe %s:%d mode=%s", address, port, mode)
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return SmtpProbe(address, port, mode, "refused", "connection refused")
    except TimeoutError:
        return SmtpProbe(
            address, port, mode, "timeout", f"no answer within {timeout:g} s"
        )
    except OSError as exc:
        return SmtpProbe(address, port, mode, "unreachable", exc.strerror or str(exc))
    with sock:
        if mode == "implicit":
            return _inside_tls(sock, address, port, tls_name, timeout, "implicit", {})
        return _starttls(sock, address, port, tls_name, timeout)


def _starttls(sock, address, port, tls_name, timeout) -> SmtpProbe:
    found: dict = {}
    try:
        with sock.makefile("rb") as stream:
            found["banner"] = _greeting(stream)
            ehlo = _command(sock, stream, f"EHLO {EHLO_NAME}", 250)
            found["extensions"] = tuple(line.split(" ")[0].upper() for line in ehlo[1:])
            if "STARTTLS" not in found["extensions"]:
                _quit(sock, stream)
                return SmtpProbe(
                    address,
                    port,
                    "starttls",
                    "no_starttls",
                    "SMTP answers in clear text and does not offer STARTTLS",
                    **found,
                )
            _command(sock, stream, "STARTTLS", 220)
    except _SmtpFailure as exc:
        return SmtpProbe(address, port, "starttls", "no_smtp", str(exc), **found)
    except TimeoutError:
        return SmtpProbe(
            address,
            port,
            "starttls",
            "no_smtp",
            f"no SMTP reply within {timeout:g} s",
            **found,
        )
    except OSError as exc:
        return SmtpProbe(
            address, port, "starttls", "no_smtp", f"connection lost: {exc}", **found
        )
    return _inside_tls(sock, address, port, tls_name, timeout, "starttls", found)


def _inside_tls(
    sock, address, port, tls_name, timeout, mode: Mode, found: dict
) -> SmtpProbe:
    try:
        tls = _tls_context().wrap_socket(sock, server_hostname=tls_name)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        return SmtpProbe(
            address,
            port,
            mode,
            "tls_failed",
            f"TLS handshake failed with TLS 1.2 or later required: {reason}",
            **found,
        )
    with tls:
        found.update(_tls_facts(tls))
        try:
            with tls.makefile("rb") as stream:
                if mode == "implicit":
                    found["banner"] = _greeting(stream)
                ehlo = _command(tls, stream, f"EHLO {EHLO_NAME}", 250)
                if mode == "implicit":
                    found["extensions"] = tuple(
                        line.split(" ")[0].upper() for line in ehlo[1:]
                    )
                _quit(tls, stream)
        except _SmtpFailure as exc:
            return SmtpProbe(
                address, port, mode, "no_smtp", f"inside TLS: {exc}", **found
            )
        except TimeoutError:
            return SmtpProbe(
                address,
                port,
                mode,
                "no_smtp",
                f"no SMTP reply inside TLS within {timeout:g} s",
                **found,
            )
        except OSError as exc:
            return SmtpProbe(
                address, port, mode, "no_smtp", f"connection lost: {exc}", **found
            )
    how = "STARTTLS completed" if mode == "starttls" else "TLS from the first byte"
    return SmtpProbe(address, port, mode, "ok", f"SMTP {how}", **found)


def _quit(sock, stream) -> None:
    # A server that hangs up on QUIT has still answered everything asked.
    try:
        _command(sock, stream, "QUIT", 221)
    except (_SmtpFailure, OSError):
        pass
