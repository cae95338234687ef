"""SQL Server over TDS: what the server says before login, its TLS, one login.

The TLS of a SQL Server is not reachable by ordinary TLS tools: in TDS 7.x
the handshake travels inside TDS PRELOGIN packets, and only TDS 8 ("strict")
starts with TLS. So this module speaks the few TDS messages it needs itself
(PRELOGIN, and LOGIN7 for TDS 8) and drives the standard library's TLS
through memory buffers. That way the TLS version, the cipher and the
certificate are observed exactly as the server offers them, and validated
against the inventory's ``ca_bundle`` alone.

A login through python-tds, a real client, then shows that the Sphere
Monitor's kind of client gets in with the inventory's settings. pytds has no
TDS 8, so with ``encryption: strict`` the login is this module's own LOGIN7
inside the TDS 8 session.

Connection failures become :class:`~sphere_stig.outcome.CollectionError`
with the source ``TDS <address>:<port>``; what the server answers, including
a refused login or a certificate that does not validate, is data in
:class:`TdsProbe`. The password is never logged.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import struct
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sphere_stig.facts import CertificateInfo
from sphere_stig.outcome import CollectionError

log = logging.getLogger(__name__)

NAME = "sql"
BROWSER_PORT = 1434
ALPN_TDS8 = "tds/8.0"

# TDS packet types and PRELOGIN options (MS-TDS 2.2.3.1.1, 2.2.6.5).
_HEADER = struct.Struct(">BBHHBB")
_REPLY, _LOGIN7, _PRELOGIN = 0x04, 0x10, 0x12
_EOM = 0x01
_PACKET_SIZE = 4096
_OPT_VERSION, _OPT_ENCRYPTION, _OPT_INSTOPT, _OPT_THREADID = 0, 1, 2, 3
_OPT_TERMINATOR = 0xFF
_TDS74 = 0x74000004
# B_FENCRYPTION values, by name as MS-TDS spells them.
ENCRYPTION_NAMES = {
    0: "ENCRYPT_OFF",
    1: "ENCRYPT_ON",
    2: "ENCRYPT_NOT_SUP",
    3: "ENCRYPT_REQ",
}
_OFF, _ON, _NOT_SUP, _REQ = 0, 1, 2, 3
# A server's single TDS message may not exceed this here (PRELOGIN answers
# and login replies are a few hundred bytes).
_MAX_MESSAGE = 1024 * 1024


class HostLike(Protocol):
    """What the probe needs of an inventory host."""

    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def fqdn(self) -> str: ...


class SqlSettingsLike(Protocol):
    """The inventory's ``connections.sql`` (see :class:`~sphere_stig.inventory.SqlSettings`)."""

    @property
    def port(self) -> int: ...
    @property
    def instance(self) -> str | None: ...
    @property
    def database(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def encryption(self) -> str: ...
    @property
    def ca_bundle(self) -> Path | None: ...
    @property
    def connect_timeout(self) -> float: ...


@dataclass(frozen=True)
class TdsProbe:
    """What one SQL Server endpoint showed the probe, before and at login."""

    host: str
    address: str
    port: int
    # "TDS 7.4" (TLS inside PRELOGIN) or "TDS 8.0" (TLS first), as probed.
    protocol: str
    # The server's PRELOGIN VERSION, e.g. "16.0.1000.6".
    server_version: str | None
    # The server's answer to a client that asks for encryption (ENCRYPT_ON),
    # or for TDS 8 the answer inside TLS.
    encryption_answer: str
    # The server's answer to a client that offers no encryption
    # (ENCRYPT_OFF): ENCRYPT_REQ means "Force Encryption" is on. None when
    # the server dropped the TDS 7.x connection unanswered (strict only).
    encryption_policy: str | None
    tls_version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    tls_error: str | None = None
    # The highest TLS version below 1.2 the server accepted, or None.
    legacy_tls: str | None = None
    # How the probe for TLS below 1.2 went, in words.
    legacy_tls_note: str = "not tested"
    certificate: CertificateInfo | None = None
    # True/False when validated against ca_bundle for the host's name; None
    # when there was no ca_bundle (or no certificate) to validate with.
    certificate_valid: bool | None = None
    validation_error: str | None = None
    ca_bundle: str | None = None
    server_name: str = ""
    # None: no login attempted (login_detail says why).
    login_ok: bool | None = None
    login_detail: str = "not attempted"

    @property
    def source(self) -> str:
        return f"TDS {self.address}:{self.port}"

    @property
    def encryption_forced(self) -> bool | None:
        """True when the server refuses unencrypted sessions."""
        if self.encryption_policy is None:
            return True if self.protocol == "TDS 8.0" else None
        return self.encryption_policy == "ENCRYPT_REQ"


@dataclass(frozen=True)
class BrowserAnswer:
    """What the SQL Server Browser (UDP 1434) said about a machine's instances."""

    host: str
    address: str
    port: int
    # The request that got this answer: CLNT_UCAST_INST or CLNT_UCAST_EX.
    request: str
    # Instance name (upper case) -> its keys (ServerName, Version, tcp, ...).
    instances: dict[str, dict[str, str]]
    # The instance the probe asked for, and whether the Browser knew it.
    asked: str | None = None
    asked_found: bool | None = None

    @property
    def source(self) -> str:
        return f"SQL Browser udp {self.address}:{self.port}"


# -- TDS framing -----------------------------------------------------------------


class _Closed(Exception):
    """The server closed the connection."""


class _NotTds(Exception):
    """The bytes that arrived are not a TDS message."""


class _Tds:
    """TDS messages over a socket, or over TLS records once they start."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.tls: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._buffer = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self) -> bytes:
        if self.tls is None:
            return self.sock.recv(16384)
        while True:
            try:
                return self.tls.read(16384)
            except ssl.SSLWantReadError:
                data = self.sock.recv(16384)
                if not data:
                    return b""
                self._in.write(data)
            except ssl.SSLZeroReturnError:
                return b""

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            data = self._recv()
            if not data:
                raise _Closed()
            self._buffer += data
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk

    def send(self, kind: int, payload: bytes) -> None:
        room = _PACKET_SIZE - _HEADER.size
        chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
        data = b""
        for number, chunk in enumerate(chunks, start=1):
            status = _EOM if number == len(chunks) else 0
            size = _HEADER.size + len(chunk)
            data += _HEADER.pack(kind, status, size, 0, number % 256, 0) + chunk
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.write(data)
            self.sock.sendall(self._out.read())

    def read_message(self) -> tuple[int, bytes]:
        payload = b""
        first: int | None = None
        while True:
            header = self._read(_HEADER.size)
            kind, status, length, _spid, _number, _window = _HEADER.unpack(header)
            if first is None:
                first = kind
                if kind not in (_REPLY, _PRELOGIN):
                    raise _NotTds(f"first byte {header[:1].hex()} is no TDS reply")
            if length < _HEADER.size or kind != first:
                raise _NotTds(f"malformed TDS packet header {header.hex()}")
            payload += self._read(length - _HEADER.size)
            if len(payload) > _MAX_MESSAGE:
                raise _NotTds("TDS message longer than 1 MiB")
            if status & _EOM:
                return first, payload

    def handshake_in_prelogin(
        self, context: ssl.SSLContext, server_name: str
    ) -> ssl.SSLObject:
        """TLS with every handshake record inside PRELOGIN packets (TDS 7.x)."""
        tls = context.wrap_bio(self._in, self._out, server_hostname=server_name)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            flight = self._out.read()
            if flight:
                self.send(_PRELOGIN, flight)
            kind, payload = self.read_message()
            if kind not in (_PRELOGIN, _REPLY):
                raise _NotTds(f"packet type {kind:#x} during the TLS handshake")
            self._in.write(payload)
        # From here on every byte is a TLS record, no longer wrapped.
        self.tls = tls
        return tls


def _prelogin_request(encryption: int, instance: str | None) -> bytes:
    options = [
        (_OPT_VERSION, struct.pack(">BBHH", 0, 0, 0, 0)),
        (_OPT_ENCRYPTION, bytes([encryption])),
        (_OPT_INSTOPT, (instance or "").encode("ascii", "replace") + b"\x00"),
        (_OPT_THREADID, struct.pack(">I", threading.get_ident() & 0xFFFFFFFF)),
    ]
    table, data = b"", b""
    offset = 5 * len(options) + 1
    for token, value in options:
        table += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return table + bytes([_OPT_TERMINATOR]) + data


def _parse_prelogin(payload: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    at = 0
    while at < len(payload) and payload[at] != _OPT_TERMINATOR:
        if at + 5 > len(payload):
            raise _NotTds("PRELOGIN answer cut short")
        offset, length = struct.unpack_from(">HH", payload, at + 1)
        if offset + length > len(payload):
            raise _NotTds("PRELOGIN answer points past its end")
        options[payload[at]] = payload[offset : offset + length]
        at += 5
    if at >= len(payload):
        raise _NotTds("PRELOGIN answer has no terminator")
    if _OPT_ENCRYPTION not in options or len(options[_OPT_ENCRYPTION]) != 1:
        raise _NotTds("PRELOGIN answer without ENCRYPTION")
    return options


def _version_text(options: dict[int, bytes]) -> str | None:
    raw = options.get(_OPT_VERSION, b"")
    if len(raw) < 6:
        return None
    major, minor, build, sub_build = struct.unpack(">BBHH", raw[:6])
    return f"{major}.{minor}.{build}.{sub_build}"


def _encryption_name(options: dict[int, bytes]) -> str:
    value = options[_OPT_ENCRYPTION][0]
    return ENCRYPTION_NAMES.get(value & 0x7F, f"unknown value {value:#04x}")


# -- LOGIN7, for TDS 8 only --------------------------------------------------------


def _obfuscate(password: str) -> bytes:
    out = bytearray()
    for byte in password.encode("utf-16-le"):
        swapped = ((byte & 0x0F) << 4) | (byte >> 4)
        out.append(swapped ^ 0xA5)
    return bytes(out)


def _login7(user: str, password: str, server: str, database: str) -> bytes:
    """A LOGIN7 message for SQL Server authentication (MS-TDS 2.2.6.4)."""
    variable = [
        socket.gethostname()[:128].encode("utf-16-le"),  # HostName
        user.encode("utf-16-le"),  # UserName
        _obfuscate(password),  # Password
        "sphere-stig".encode("utf-16-le"),  # AppName
        server.encode("utf-16-le"),  # ServerName
        b"",  # Extension (none)
        "sphere-stig TDS probe".encode("utf-16-le"),  # CltIntName
        b"",  # Language: the login's default
        database.encode("utf-16-le"),  # Database
    ]
    fixed_size = 94
    table = b""
    data = b""
    for value in variable:
        table += struct.pack("<HH", fixed_size + len(data), len(value) // 2)
        data += value
    end = fixed_size + len(data)
    # ClientID, then SSPI, AtchDBFile and ChangePassword (all empty) and
    # cbSSPILong.
    table += b"\x00" * 6 + struct.pack("<HHHHHHI", end, 0, end, 0, end, 0, 0)
    fixed = struct.pack(
        "<IIIIIIBBBBiI",
        fixed_size + len(data),
        _TDS74,
        _PACKET_SIZE,
        0x07000000,  # ClientProgVer
        0,  # ClientPID
        0,  # ConnectionID
        0xE0,  # OptionFlags1: fUseDB, fDatabase, fSetLang
        0x03,  # OptionFlags2: fLanguage, fODBC
        0x00,  # TypeFlags
        0x00,  # OptionFlags3
        0,  # ClientTimeZone
        0x0409,  # ClientLCID
    )
    return fixed + table + data


def _login_outcome(payload: bytes) -> tuple[bool, str]:
    """Whether a login reply holds LOGINACK, and the server's message if not."""
    at = 0
    error = ""
    while at < len(payload):
        token = payload[at]
        if token == 0xFD:  # DONE
            at += 13
            continue
        if token == 0xAE:  # FEATUREEXTACK: features until 0xFF
            at += 1
            while at < len(payload) and payload[at] != 0xFF:
                (size,) = struct.unpack_from("<I", payload, at + 1)
                at += 5 + size
            at += 1
            continue
        if at + 3 > len(payload):
            break
        (size,) = struct.unpack_from("<H", payload, at + 1)
        body = payload[at + 3 : at + 3 + size]
        if token == 0xAD:  # LOGINACK
            return True, ""
        if token == 0xAA and not error:  # ERROR: number, state, class, text
            (length,) = struct.unpack_from("<H", body, 6)
            error = body[8 : 8 + 2 * length].decode("utf-16-le", "replace")
        at += 3 + size
    return False, error or "no LOGINACK in the server's reply"


# -- connecting ------------------------------------------------------------------


def _connect(host: HostLike, port: int, timeout: float) -> socket.socket:
    source = f"TDS {host.address}:{port}"
    log.debug("RUN tcp connect %s", source)
    try:
        return socket.create_connection((host.address, port), timeout=timeout)
    except ConnectionRefusedError:
        raise CollectionError(host.name, source, "connection refused") from None
    except TimeoutError:
        raise CollectionError(
            host.name, source, f"no answer within {timeout:g} s"
        ) from None
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            reason = "host unreachable"
        else:
            reason = f"connection failed: {exc.strerror or exc}"
        raise CollectionError(host.name, source, reason) from None


def _tds7_prelogin(
    host: HostLike, settings: SqlSettingsLike, encryption: int
) -> tuple[_Tds, dict[int, bytes]]:
    """A TDS 7.x connection with its PRELOGIN answered."""
    conn = _Tds(_connect(host, settings.port, settings.connect_timeout))
    log.debug(
        "RUN TDS PRELOGIN %s:%d %s",
        host.address,
        settings.port,
        ENCRYPTION_NAMES[encryption],
    )
    conn.send(_PRELOGIN, _prelogin_request(encryption, settings.instance))
    kind, payload = conn.read_message()
    if kind != _REPLY:
        raise _NotTds(f"PRELOGIN answered with packet type {kind:#x}, not REPLY (0x04)")
    return conn, _parse_prelogin(payload)


def _client_context(
    ca_bundle: Path | None,
    *,
    verify: bool,
    legacy: bool = False,
    tds8: bool = False,
    host: str = "",
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify and ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            from sphere_stig.inventory import InventoryError

            # A usage error, not the server's fault: the run must not report
            # the port as failing because the CA file is missing.
            why = getattr(exc, "strerror", None) or str(exc)
            raise InventoryError(
                f"{host}: connections.sql.ca_bundle {ca_bundle} cannot be "
                f"used ({why}); fix the path or the PEM file"
            ) from None
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if legacy:
        # Offer only what the server should refuse; the client's own floor
        # is lowered so that the server is what gets tested.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    elif not tds8:
        # SQL Server does not offer TLS 1.3 inside TDS 7.x packets.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if tds8:
        context.set_alpn_protocols([ALPN_TDS8])
    return context


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    return str(exc)


def _cipher_name(cipher: tuple[str, str, int] | None) -> str | None:
    return cipher[0] if cipher else None


def _describe(der: bytes | None) -> CertificateInfo | None:
    if not der:
        return None
    from cryptography import x509

    from sphere_stig.transports.tls import describe_certificate

    return describe_certificate(x509.load_der_x509_certificate(der))


@dataclass
class _Tls:
    """One TLS observation: what was negotiated, or why it failed."""

    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    der: bytes | None = None
    error: BaseException | None = None
    conn: _Tds | None = None
    answer: dict[int, bytes] | None = None


def _observe_tds7(
    host: HostLike, settings: SqlSettingsLike, context: ssl.SSLContext
) -> tuple[dict[int, bytes], _Tls]:
    conn, options = _tds7_prelogin(host, settings, _ON)
    seen = _Tls(answer=options)
    if options[_OPT_ENCRYPTION][0] & 0x7F not in (_ON, _REQ):
        conn.close()
        return options, seen
    try:
        tls = conn.handshake_in_prelogin(context, host.fqdn)
    except (ssl.SSLError, _Closed) as exc:
        seen.error = (
            exc
            if isinstance(exc, ssl.SSLError)
            else ConnectionAbortedError(
                "the server closed the connection during the TLS handshake"
            )
        )
        conn.close()
        return options, seen
    seen.version, seen.cipher = tls.version(), _cipher_name(tls.cipher())
    seen.der = tls.getpeercert(binary_form=True)
    conn.close()
    return options, seen


def _observe_tds8(
    host: HostLike,
    settings: SqlSettingsLike,
    context: ssl.SSLContext,
    keep: bool = False,
) -> _Tls:
    sock = _connect(host, settings.port, settings.connect_timeout)
    log.debug("RUN TDS 8 TLS %s:%d (ALPN %s)", host.address, settings.port, ALPN_TDS8)
    try:
        tls_sock = context.wrap_socket(sock, server_hostname=host.fqdn)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        if isinstance(exc, ssl.SSLError):
            return _Tls(error=exc)
        reason = exc.strerror or str(exc)
        return _Tls(error=ConnectionAbortedError(f"TLS handshake failed: {reason}"))
    seen = _Tls(
        version=tls_sock.version(),
        cipher=_cipher_name(tls_sock.cipher()),
        alpn=tls_sock.selected_alpn_protocol(),
        der=tls_sock.getpeercert(binary_form=True),
    )
    conn = _Tds(tls_sock)
    try:
        conn.send(_PRELOGIN, _prelogin_request(_NOT_SUP, settings.instance))
        kind, payload = conn.read_message()
        if kind != _REPLY:
            raise _NotTds(f"PRELOGIN answered with packet type {kind:#x}")
        seen.answer = _parse_prelogin(payload)
    except (_Closed, OSError) as exc:
        conn.close()
        seen.error = ConnectionAbortedError(
            f"no PRELOGIN answer inside TLS ({exc or 'closed'})"
        )
        return seen
    if keep:
        seen.conn = conn
    else:
        conn.close()
    return seen


def _legacy(
    host: HostLike, settings: SqlSettingsLike, tds8: bool
) -> tuple[str | None, str]:
    """The TLS version below 1.2 that the server accepts, and a note."""
    try:
        context = _client_context(None, verify=False, legacy=True, tds8=tds8)
    except (ssl.SSLError, ValueError) as exc:
        return (
            None,
            f"not tested: this client's OpenSSL cannot offer TLS below 1.2 ({exc})",
        )
    try:
        if tds8:
            seen = _observe_tds8(host, settings, context)
        else:
            _options, seen = _observe_tds7(host, settings, context)
    except (CollectionError, _NotTds, _Closed, OSError) as exc:
        return None, f"not tested: {exc}"
    if seen.version:
        return seen.version, f"{seen.version} accepted"
    return None, "TLSv1 and TLSv1.1 refused"


# -- the probe ------------------------------------------------------------------


def probe_tds(
    host: HostLike, settings: SqlSettingsLike, password: str | None
) -> TdsProbe:
    """Probe the SQL Server of ``host`` as the inventory's settings describe it.

    Opens a handful of short connections: one PRELOGIN offering no
    encryption (does the server force it?), one TLS handshake validated
    against ``ca_bundle`` (repeated without validation when it fails, to see
    the certificate), one offering only TLS 1.0/1.1, and one login.
    """
    source = f"TDS {host.address}:{settings.port}"
    try:
        return _probe(host, settings, password)
    except _NotTds as exc:
        raise CollectionError(
            host.name, source, f"the port answers, but not as TDS: {exc}"
        ) from None
    except _Closed:
        raise CollectionError(
            host.name,
            source,
            "the server closed the connection before answering PRELOGIN",
        ) from None
    except TimeoutError:
        raise CollectionError(
            host.name,
            source,
            f"the server accepted the connection but did not answer within {settings.connect_timeout:g} s",
        ) from None
    except ConnectionResetError:
        raise CollectionError(
            host.name, source, "connection reset by the server"
        ) from None


def _probe(host: HostLike, settings: SqlSettingsLike, password: str | None) -> TdsProbe:
    tds8 = settings.encryption == "strict"
    ca_bundle = Path(settings.ca_bundle) if settings.ca_bundle else None

    # 1. Force Encryption: what does a client get that asks for none?
    policy: str | None
    version: str | None = None
    try:
        conn, options = _tds7_prelogin(host, settings, _OFF)
        conn.close()
        policy, version = _encryption_name(options), _version_text(options)
    except (_Closed, ConnectionResetError):
        # SQL Server with "Force Strict Encryption" drops TDS 7.x clients
        # unanswered; only TDS 8 can show its TLS then.
        policy = None
        if not tds8:
            log.info("%s drops TDS 7.x PRELOGIN; probing TDS 8", host.name)
            tds8 = True

    # 2. The TLS handshake, validated against the inventory's CA bundle.
    verify = ca_bundle is not None
    context = _client_context(ca_bundle, verify=verify, tds8=tds8, host=host.name)
    if tds8:
        seen = _observe_tds8(host, settings, context, keep=verify)
        answer_options = seen.answer
    else:
        answer_options, seen = _observe_tds7(host, settings, context)
    valid: bool | None = None
    validation_error = None
    if verify and seen.version:
        valid = True
    elif verify and isinstance(seen.error, ssl.SSLCertVerificationError):
        valid, validation_error = False, seen.error.verify_message
        # Look again without validation, to see what the server presents.
        context = _client_context(None, verify=False, tds8=tds8)
        if tds8:
            seen = _observe_tds8(host, settings, context)
            answer_options = seen.answer
        else:
            answer_options, seen = _observe_tds7(host, settings, context)
    tls_error = _tls_reason(seen.error) if seen.error and not seen.version else None
    if answer_options is None:
        encryption_answer = "no PRELOGIN answer"
    else:
        encryption_answer = _encryption_name(answer_options)
        version = version or _version_text(answer_options)
    if not tds8 and encryption_answer == "ENCRYPT_NOT_SUP":
        tls_error = "the server does not support encryption (ENCRYPT_NOT_SUP)"

    # 3. TLS below 1.2, which the server should refuse. Also worth asking
    # when the modern handshake failed: the server may offer only old TLS.
    legacy, legacy_note = None, "not tested: the server offers no encryption"
    if seen.version or seen.error is not None:
        legacy, legacy_note = _legacy(host, settings, tds8)

    # 4. A login, as the Sphere Monitor would log in.
    login_ok, login_detail = _login(host, settings, password, seen, valid, tds8)
    if seen.conn is not None:
        seen.conn.close()

    probe = TdsProbe(
        host=host.name,
        address=host.address,
        port=settings.port,
        protocol="TDS 8.0" if tds8 else "TDS 7.4",
        server_version=version,
        encryption_answer=encryption_answer,
        encryption_policy=policy,
        tls_version=seen.version,
        cipher=seen.cipher,
        alpn=seen.alpn,
        tls_error=tls_error,
        legacy_tls=legacy,
        legacy_tls_note=legacy_note,
        certificate=_describe(seen.der),
        certificate_valid=valid,
        validation_error=validation_error,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        server_name=host.fqdn,
        login_ok=login_ok,
        login_detail=login_detail,
    )
    log.info(
        "TDS probe of %s (%s): %s, policy %s, %s, certificate valid %s, login %s",
        host.name,
        probe.source,
        encryption_answer,
        policy,
        seen.version or tls_error,
        valid,
        "ok" if login_ok else login_detail,
    )
    return probe


def _login(
    host: HostLike,
    settings: SqlSettingsLike,
    password: str | None,
    seen: _Tls,
    valid: bool | None,
    tds8: bool,
) -> tuple[bool | None, str]:
    if not settings.user or password is None:
        return None, "not attempted: no user or password in connections.sql"
    encrypt = settings.encryption != "off"
    if encrypt and settings.ca_bundle is None:
        return None, (
            "not attempted: without connections.sql.ca_bundle the server "
            "certificate cannot be validated, and the password would go to "
            "whoever answers"
        )
    if encrypt and valid is False:
        return None, "not attempted: the server certificate did not validate"
    if tds8 and settings.encryption != "strict":
        return False, (
            "the server drops TDS 7.x connections (strict encryption only), so a "
            f"client set to encryption {settings.encryption} cannot log in; "
            "connections.sql.encryption strict would"
        )
    if tds8:
        if seen.conn is None:
            return None, "not attempted: no TDS 8 session"
        return _tds8_login(host, settings, password, seen.conn)
    return _pytds_login(host, settings, password)


def _tds8_login(
    host: HostLike, settings: SqlSettingsLike, password: str, conn: _Tds
) -> tuple[bool, str]:
    log.debug("RUN TDS 8 LOGIN7 %s as %s", host.address, settings.user)
    assert settings.user is not None
    try:
        conn.send(
            _LOGIN7,
            _login7(settings.user, password, host.fqdn, settings.database or ""),
        )
        kind, payload = conn.read_message()
    except (_Closed, _NotTds, OSError) as exc:
        return False, f"own TDS 8 client: login failed: {exc or 'connection closed'}"
    ok, error = _login_outcome(payload)
    if ok:
        return True, f"own TDS 8 client: logged in as {settings.user}"
    return False, f"own TDS 8 client: {error}"


def _pytds() -> Any:
    try:
        import pytds
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the SQL login needs python-tds: pip install 'python-tds==1.17.1'"
        ) from exc
    return pytds


def _pytds_login(
    host: HostLike, settings: SqlSettingsLike, password: str
) -> tuple[bool, str]:
    """Log in with python-tds by host name, over a socket to the address.

    pytds matches the certificate against DNS names only, so it is given the
    host's name and a socket already connected to its address.
    """
    pytds = _pytds()
    encrypt = settings.encryption != "off"
    log.debug(
        "RUN pytds login %s (%s:%d) as %s, encryption %s",
        host.fqdn,
        host.address,
        settings.port,
        settings.user,
        settings.encryption,
    )
    try:
        sock = socket.create_connection(
            (host.address, settings.port), settings.connect_timeout
        )
    except OSError as exc:
        return False, f"pytds: connection failed: {exc.strerror or exc}"
    try:
        with pytds.connect(
            dsn=host.fqdn,
            port=settings.port,
            database=settings.database or "",
            user=settings.user,
            password=password,
            cafile=str(settings.ca_bundle) if encrypt else None,
            sock=sock,
            validate_host=True,
            login_timeout=settings.connect_timeout,
            disable_connect_retry=True,
            autocommit=True,
            appname="sphere-stig",
        ) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
    except Exception as exc:  # pytds raises its own, OpenSSL's and socket errors
        sock.close()
        return False, f"pytds: {_pytds_reason(exc)}"
    return True, f"pytds: logged in as {settings.user}; SELECT 1 returned {row[0]}"


def _pytds_reason(exc: BaseException) -> str:
    text = getattr(exc, "text", None) or (exc.args[0] if exc.args else str(exc))
    if isinstance(text, list):  # OpenSSL.SSL.Error: [(lib, func, reason)]
        text = "TLS: " + "; ".join(str(item[-1]) for item in text if item)
    return str(text).strip() or type(exc).__name__


# -- SQL Server Browser -----------------------------------------------------------


def parse_browser_answer(data: bytes) -> dict[str, dict[str, str]]:
    """SVR_RESP (0x05, 16-bit little-endian size, ``key;value;...;;`` records)."""
    if len(data) < 3 or data[0] != 0x05:
        raise ValueError("not an SVR_RESP")
    (size,) = struct.unpack_from("<H", data, 1)
    text = data[3 : 3 + size].decode("ascii", errors="replace")
    instances: dict[str, dict[str, str]] = {}
    for record in text.split(";;"):
        tokens = record.split(";")
        if len(tokens) < 2:
            continue
        values = dict(zip(tokens[0::2], tokens[1::2], strict=False))
        if "InstanceName" in values:
            instances[values["InstanceName"].upper()] = values
    return instances


def query_browser(
    host: HostLike, instance: str | None, port: int = BROWSER_PORT, timeout: float = 2.0
) -> BrowserAnswer:
    """Ask the SQL Server Browser about ``instance`` (or every instance).

    The Browser does not answer CLNT_UCAST_INST for an instance it does not
    know, so silence there is followed by CLNT_UCAST_EX to tell "no such
    instance" from "no Browser".
    """
    source = f"SQL Browser udp {host.address}:{port}"
    requests: list[tuple[str, bytes]] = []
    if instance:
        requests.append(
            ("CLNT_UCAST_INST", b"\x04" + instance.encode("ascii", "replace") + b"\x00")
        )
    requests.append(("CLNT_UCAST_EX", b"\x03"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Connected, so that an ICMP port unreachable comes back as an error.
        sock.connect((host.address, port))
        for name, request in requests:
            data = _ask(sock, request, timeout, host.name, source, name)
            if data is None:
                continue
            try:
                instances = parse_browser_answer(data)
            except ValueError:
                raise CollectionError(
                    host.name,
                    source,
                    f"the answer to {name} is not SVR_RESP: {data[:16].hex()}",
                ) from None
            asked = instance.upper() if instance else None
            return BrowserAnswer(
                host=host.name,
                address=host.address,
                port=port,
                request=name,
                instances=instances,
                asked=asked,
                asked_found=(asked in instances) if asked else None,
            )
    raise CollectionError(
        host.name,
        source,
        f"no answer within {timeout:g} s (asked {len(requests) * 2} times)",
    )


def _ask(
    sock: socket.socket,
    request: bytes,
    timeout: float,
    host: str,
    source: str,
    name: str,
) -> bytes | None:
    # UDP may lose a datagram: two attempts, each with half the budget.
    for _attempt in (1, 2):
        log.debug("RUN %s %s", source, name)
        sock.settimeout(timeout / 2)
        try:
            sock.send(request)
            return sock.recv(65535)
        except TimeoutError:
            continue
        except ConnectionRefusedError:
            raise CollectionError(
                host, source, "port unreachable (ICMP): no SQL Server Browser listens"
            ) from None
    return None


# -- one probe per host per run ---------------------------------------------------


class SqlPool:
    """One TDS probe and one Browser answer per host, shared by all its tests.

    Failures are remembered too, so that an unreachable server costs its
    connect timeout once per run, not once per port row.
    """

    def __init__(
        self,
        probe: Callable[..., TdsProbe] | None = None,
        browse: Callable[..., BrowserAnswer] | None = None,
    ) -> None:
        self._probe_fn = probe or probe_tds
        self._browse_fn = browse or query_browser
        self._values: dict[tuple[str, ...], object] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def _memo(self, key: tuple[str, ...], produce: Callable[[], object]) -> object:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                try:
                    self._values[key] = produce()
                except CollectionError as exc:
                    self._values[key] = exc
            value = self._values[key]
        if isinstance(value, CollectionError):
            raise value
        return value

    def probe(self, host: Any) -> TdsProbe:
        """The TDS probe of ``host`` (an inventory host), made once."""
        settings = host.connections.sql
        key = ("tds", host.name, host.address, str(settings.port))

        def produce() -> TdsProbe:
            return self._probe_fn(host, settings, _password(host))

        return self._memo(key, produce)  # type: ignore[return-value]

    def browser(self, host: Any, port: int = BROWSER_PORT) -> BrowserAnswer:
        settings = host.connections.sql
        key = ("browser", host.name, host.address, str(port))
        timeout = min(settings.connect_timeout, 4.0)

        def produce() -> BrowserAnswer:
            return self._browse_fn(host, settings.instance, port, timeout)

        return self._memo(key, produce)  # type: ignore[return-value]

    def close(self) -> None:
        """Forget every result; the probes hold no open connections."""
        with self._guard:
            self._values.clear()
            self._locks.clear()


def _password(host: Any) -> str | None:
    from sphere_stig.inventory import InventoryError

    settings = host.connections.sql
    if settings.password is None:
        return None
    try:
        return settings.password.resolve(host.name, "connections.sql.password")
    except InventoryError as exc:
        # The port checks do not need the login; say why it was skipped.
        log.warning("%s", exc)
        return None


_SHARED = SqlPool()


def shared_pool() -> SqlPool:
    """The run's pool: the ``sql`` session fixture and the port checks share it."""
    return _SHARED
