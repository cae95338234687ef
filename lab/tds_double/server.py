"""The TCP side of the double: PRELOGIN, TLS inside TDS, LOGIN7 and batches.

One thread per connection walks the states SQL Server walks (MS-TDS 3.3.5):

* TDS 7.x: a cleartext PRELOGIN, answered in a REPLY (0x04) packet; if
  encryption is agreed, the TLS handshake travels inside PRELOGIN (0x12)
  packets in both directions, the server's last flight included, and every
  byte after it is a raw TLS record. TLS stops at 1.2 here, as on SQL Server.
* TDS 8 ("strict"): the first byte is a TLS ClientHello (0x16); TLS comes
  first (1.3 allowed, ALPN ``tds/8.0``) and PRELOGIN travels inside it.

The encryption modes follow SQL Server's "Force Encryption" setting:

========  ===========================  ===================  ===============
mode      client OFF                   client ON            client NOT_SUP
========  ===========================  ===================  ===============
forced    REQ, whole session in TLS    ON                   REQ, then close
optional  OFF, only LOGIN7 in TLS      ON                   NOT_SUP
off       NOT_SUP (no certificate)     NOT_SUP              NOT_SUP
strict    TDS 7.x refused: the connection closes unanswered (Force Strict)
========  ===========================  ===================  ===============

forced and optional also take TDS 8 connections, as SQL Server 2022 does.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import re
import secrets
import socket
import ssl
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lab.tds_double import wire
from lab.tds_double.wire import Encrypt, Option, PacketType, ProtocolError

log = logging.getLogger("lab.tds_double")

MODES = ("forced", "optional", "off", "strict")
TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
ALPN_TDS8 = "tds/8.0"
# What the double claims to be on the wire: SQL Server 2022 RTM. Clients read
# these numbers; the @@version text says what really answers.
PRODUCT = "Microsoft SQL Server"
PRODUCT_VERSION = (16, 0, 1000, 6)
SYSTEM_DATABASES = ("master", "tempdb", "model", "msdb")
# How long a client may take between the TCP connect and a finished login.
LOGIN_TIMEOUT = 30.0
TM_BEGIN, TM_COMMIT, TM_ROLLBACK = 5, 7, 8


@dataclass(frozen=True)
class DoubleConfig:
    address: str
    port: int
    mode: str
    user: str
    password: str
    instance: str
    server_name: str
    cert: Path | None = None
    key: Path | None = None
    tls_min: str = "1.2"
    databases: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The password never reaches a log line or a traceback.
        return (
            f"DoubleConfig(address={self.address!r}, port={self.port!r}, "
            f"mode={self.mode!r}, user={self.user!r}, instance={self.instance!r})"
        )

    @property
    def full_name(self) -> str:
        """How SQL Server names itself in messages: SERVER\\INSTANCE."""
        return (
            f"{self.server_name}\\{self.instance}"
            if self.instance
            else self.server_name
        )


class Transport(Protocol):
    def recv(self, size: int) -> bytes: ...
    def sendall(self, data: bytes) -> None: ...


class _TlsOverSocket:
    """TLS records over the raw socket, after a handshake done in memory."""

    def __init__(
        self,
        sock: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self.sock, self.tls = sock, tls
        self.incoming, self.outgoing = incoming, outgoing

    def recv(self, size: int) -> bytes:
        while True:
            try:
                return self.tls.read(size)
            except ssl.SSLWantReadError:
                data = self.sock.recv(16384)
                if not data:
                    return b""
                self.incoming.write(data)
            except ssl.SSLZeroReturnError:
                return b""

    def sendall(self, data: bytes) -> None:
        self.tls.write(data)
        self.sock.sendall(self.outgoing.read())


class Closed(Exception):
    """The client went away; nothing more to do on this connection."""


class _Connection:
    """One client connection, from TCP accept to close."""

    def __init__(self, double: TdsDouble, sock: socket.socket, peer: str) -> None:
        self.double = double
        self.config = double.config
        self.sock = sock
        self.peer = peer
        self.transport: Transport = sock
        self.packet_size = wire.DEFAULT_PACKET_SIZE
        self.spid = 0
        self.tds_version = wire.TDS74
        self.transaction = b""
        self.buffer = b""
        self.login_only = False
        self.database = "master"

    # -- framing -----------------------------------------------------------

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = self.transport.recv(max(16384, size))
            if not data:
                raise Closed("the client closed the connection")
            self.buffer += data
        chunk, self.buffer = self.buffer[:size], self.buffer[size:]
        return chunk

    def read_message(self, limit: int = 4 * 1024 * 1024) -> tuple[int, bytes]:
        """The type and the payload of the next message (packets up to EOM)."""
        payload = b""
        first = None
        while True:
            kind, status, length = wire.parse_header(self._read(wire.HEADER_SIZE))
            if first is None:
                first = kind
            elif kind != first:
                raise ProtocolError(
                    f"packet type {kind:#x} inside a {first:#x} message"
                )
            payload += self._read(length)
            if len(payload) > limit:
                raise ProtocolError("message too long")
            if status & wire.STATUS_EOM:
                return first, payload

    def send(self, kind: int, payload: bytes) -> None:
        for packet in wire.packets(kind, payload, self.packet_size, self.spid):
            self.transport.sendall(packet)

    # -- the connection's life -------------------------------------------------

    def serve(self) -> None:
        self.sock.settimeout(LOGIN_TIMEOUT)
        try:
            first = self.sock.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 0x16:
                if not self._strict_handshake():
                    return
            else:
                if not self._prelogin():
                    return
            if not self._login():
                return
            self.sock.settimeout(None)
            self._batches()
        except Closed:
            pass
        except ProtocolError as exc:
            log.info("%s protocol error, connection dropped: %s", self.peer, exc)
        except (ssl.SSLError, OSError) as exc:
            log.info("%s connection ended: %s", self.peer, exc)
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def _prelogin(self) -> bool:
        """TDS 7.x PRELOGIN; False when the connection must end here."""
        config = self.config
        if config.mode == "strict":
            # Force Strict Encryption: SQL Server drops TDS 7.x clients
            # without a word.
            log.info("%s TDS 7.x PRELOGIN refused (strict mode)", self.peer)
            return False
        kind, payload = self.read_message(limit=65536)
        if kind != PacketType.PRELOGIN:
            raise ProtocolError(f"first message is type {kind:#x}, not PRELOGIN")
        options = wire.parse_prelogin(payload)
        asked = options.get(Option.ENCRYPTION, bytes([Encrypt.NOT_SUP]))[:1]
        client = Encrypt(asked[0] & 0x7F) if asked and asked[0] & 0x7F <= 3 else None
        if client is None:
            raise ProtocolError(f"unknown ENCRYPTION value {asked!r}")
        answer = self._encryption_answer(client)
        self.send(PacketType.REPLY, self._prelogin_answer(options, answer))
        log.info(
            "%s PRELOGIN: client ENCRYPT_%s -> ENCRYPT_%s (mode %s)",
            self.peer,
            client.name,
            answer.name,
            config.mode,
        )
        if answer == Encrypt.REQ and client == Encrypt.NOT_SUP:
            # The client cannot encrypt and the server insists: SQL Server
            # sends its answer and closes.
            return False
        if answer == Encrypt.NOT_SUP:
            if client == Encrypt.ON:
                # The client must give up now; a LOGIN7 would be in clear.
                return self._expect_close()
            return True
        login_only = answer == Encrypt.OFF
        self._wrapped_handshake(login_only)
        return True

    def _encryption_answer(self, client: Encrypt) -> Encrypt:
        mode = self.config.mode
        if mode == "off":
            return Encrypt.NOT_SUP
        if client in (Encrypt.ON, Encrypt.REQ):
            return Encrypt.ON
        if mode == "forced":
            return Encrypt.REQ
        return Encrypt.OFF if client == Encrypt.OFF else Encrypt.NOT_SUP

    def _prelogin_answer(self, options: dict[int, bytes], answer: Encrypt) -> bytes:
        asked_instance = options.get(Option.INSTOPT, b"\x00").split(b"\x00")[0]
        name = asked_instance.decode("ascii", errors="replace")
        # The client names the instance it wants; the empty name and the
        # default instance's name are accepted by every instance.
        matches = name.casefold() in (
            "",
            "mssqlserver",
            self.config.instance.casefold(),
        )
        answer_options = [
            (Option.VERSION, wire.version_bytes(PRODUCT_VERSION)),
            (Option.ENCRYPTION, bytes([answer])),
            (Option.INSTOPT, b"\x00" if matches else b"\x01"),
            # SQL Server answers THREADID with an empty value.
            (Option.THREADID, b""),
            (Option.MARS, b"\x00"),
        ]
        if Option.FEDAUTHREQUIRED in options:
            answer_options.append((Option.FEDAUTHREQUIRED, b"\x00"))
        return wire.build_prelogin(answer_options)

    def _expect_close(self) -> bool:
        try:
            kind, _ = self.read_message(limit=65536)
        except Closed:
            return False
        raise ProtocolError(f"message type {kind:#x} after an unencrypted refusal")

    def _wrapped_handshake(self, login_only: bool) -> None:
        """TLS inside PRELOGIN packets, then raw TLS records on the socket."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.double.wrapped_context.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                finished = True
            except ssl.SSLWantReadError:
                finished = False
            except ssl.SSLError:
                # The alert that ends the handshake goes out wrapped too.
                alert = outgoing.read()
                if alert:
                    self.send(PacketType.PRELOGIN, alert)
                raise
            flight = outgoing.read()
            if flight:
                # The server's last flight (ChangeCipherSpec, Finished) is
                # still wrapped: clients read it as a PRELOGIN packet.
                self.send(PacketType.PRELOGIN, flight)
            if finished:
                break
            kind, payload = self.read_message(limit=65536)
            if kind != PacketType.PRELOGIN:
                raise ProtocolError(f"type {kind:#x} packet during the TLS handshake")
            incoming.write(payload)
        log.info(
            "%s TLS inside TDS: %s %s%s",
            self.peer,
            tls.version(),
            (tls.cipher() or ("?",))[0],
            " (login only)" if login_only else "",
        )
        self.transport = _TlsOverSocket(self.sock, tls, incoming, outgoing)
        self.login_only = login_only

    def _strict_handshake(self) -> bool:
        """TDS 8: TLS first, then PRELOGIN inside it."""
        if self.config.mode == "off":
            log.info("%s TLS ClientHello refused (no certificate, mode off)", self.peer)
            return False
        tls_sock = self.double.strict_context.wrap_socket(self.sock, server_side=True)
        self.sock = tls_sock
        self.transport = tls_sock
        alpn = tls_sock.selected_alpn_protocol()
        log.info(
            "%s TDS 8 TLS: %s %s, ALPN %s",
            self.peer,
            tls_sock.version(),
            (tls_sock.cipher() or ("?",))[0],
            alpn or "none",
        )
        kind, payload = self.read_message(limit=65536)
        if kind != PacketType.PRELOGIN:
            raise ProtocolError(f"first TDS 8 message is type {kind:#x}, not PRELOGIN")
        options = wire.parse_prelogin(payload)
        asked = options.get(Option.ENCRYPTION, b"")
        log.info(
            "%s PRELOGIN inside TLS: client ENCRYPTION %s -> ENCRYPT_ON",
            self.peer,
            asked.hex() or "absent",
        )
        # The session is encrypted whatever the client's ENCRYPTION byte says
        # (FreeTDS sends ENCRYPT_NOT_SUP here).
        self.send(PacketType.REPLY, self._prelogin_answer(options, Encrypt.ON))
        return True

    # -- login -----------------------------------------------------------------

    def _login(self) -> bool:
        kind, payload = self.read_message(limit=wire.MAX_LOGIN7)
        if kind != PacketType.LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got message type {kind:#x}")
        login = wire.parse_login7(payload)
        if self.login_only:
            # Login-only encryption: TLS ends with the LOGIN7 message and the
            # answer already travels in clear.
            self.transport = self.sock
            self.buffer = b""
        self.tds_version = min(login.tds_version, wire.TDS74)
        if login.tds_version >> 24 == 0x08 or login.tds_version < 0x70000000:
            # TDS 8 clients still log in as 7.4 (LOGINACK says 7.4).
            self.tds_version = wire.TDS74
        config = self.config
        user_ok = login.user_name.casefold() == config.user.casefold()
        password_ok = hmac.compare_digest(
            login.password.encode("utf-8"), config.password.encode("utf-8")
        )
        server = config.full_name
        if not (user_ok and password_ok):
            # Error 18456 says nothing about which half was wrong; the state
            # that would tell (8 = password) only reaches the server's log.
            log.info(
                "%s LOGIN7 user %r refused (%s)",
                self.peer,
                login.user_name,
                "wrong password" if user_ok else "unknown login",
            )
            tokens = wire.error(
                18456, 1, 14, f"Login failed for user '{login.user_name}'.", server
            ) + wire.done(wire.DONE_ERROR)
            self.send(PacketType.REPLY, tokens)
            return False
        database = login.database or "master"
        known = {d.casefold() for d in (*SYSTEM_DATABASES, *config.databases)}
        if database.casefold() not in known:
            log.info(
                "%s LOGIN7 user %r: database %r unknown",
                self.peer,
                login.user_name,
                database,
            )
            tokens = (
                wire.error(
                    4060,
                    1,
                    11,
                    f'Cannot open database "{database}" requested by the login. '
                    "The login failed.",
                    server,
                )
                + wire.error(
                    18456, 1, 14, f"Login failed for user '{login.user_name}'.", server
                )
                + wire.done(wire.DONE_ERROR)
            )
            self.send(PacketType.REPLY, tokens)
            return False
        requested = login.packet_size or wire.DEFAULT_PACKET_SIZE
        size = min(max(requested, wire.MIN_PACKET_SIZE), wire.MAX_PACKET_SIZE)
        self.spid = self.double.next_spid()
        tokens = (
            wire.envchange_text(wire.ENV_DATABASE, database, "master")
            + wire.info(5701, 2, f"Changed database context to '{database}'.", server)
            + wire.envchange_bytes(wire.ENV_COLLATION, wire.COLLATION, b"")
            + wire.envchange_text(wire.ENV_LANGUAGE, "us_english", "")
            + wire.info(5703, 1, "Changed language setting to us_english.", server)
            + wire.loginack(self.tds_version, PRODUCT, PRODUCT_VERSION[:3])
        )
        if login.features:
            # Only UTF-8 support is acknowledged (SQL Server 2019 and later);
            # the double offers no session recovery or column encryption.
            acked = {0x0A: b"\x01"} if 0x0A in login.features else {}
            tokens += wire.featureextack(acked)
        tokens += wire.envchange_text(
            wire.ENV_PACKET_SIZE, str(size), str(self.packet_size)
        )
        tokens += wire.done()
        self.send(PacketType.REPLY, tokens)
        self.packet_size = size
        self.database = database
        log.info(
            "%s LOGIN7 user %r accepted (database %s, app %r, packet size %d)",
            self.peer,
            login.user_name,
            database,
            login.app_name,
            size,
        )
        return True

    # -- after login -------------------------------------------------------------

    def _batches(self) -> None:
        while True:
            kind, payload = self.read_message()
            if kind == PacketType.SQL_BATCH:
                self.send(PacketType.REPLY, self._batch(payload))
            elif kind == PacketType.TRANSACTION_MANAGER:
                self.send(PacketType.REPLY, self._transaction(payload))
            elif kind == PacketType.RPC:
                self.send(PacketType.REPLY, wire.return_status(0) + wire.doneproc())
            elif kind == PacketType.ATTENTION:
                self.send(PacketType.REPLY, wire.done(wire.DONE_ATTN))
            else:
                raise ProtocolError(f"message type {kind:#x} after login")

    def _batch(self, payload: bytes) -> bytes:
        body = wire.skip_all_headers(payload)
        sql = body.decode("utf-16-le", errors="replace")
        statement = " ".join(sql.split()).rstrip(";").strip().casefold()
        log.info("%s SQL batch: %.120s", self.peer, " ".join(sql.split()))
        count = wire.DONE_COUNT
        if statement == "select @@version":
            return wire.nvarchar_result(self.double.version_text) + wire.done(
                count, wire.CURCMD_SELECT, 1
            )
        if statement == "select @@servername":
            return wire.nvarchar_result(self.config.full_name) + wire.done(
                count, wire.CURCMD_SELECT, 1
            )
        number = re.fullmatch(r"select\s+(-?\d{1,9})", statement)
        if number:
            return wire.int_result(int(number.group(1))) + wire.done(
                count, wire.CURCMD_SELECT, 1
            )
        use = re.fullmatch(r"use\s+\[?([^\]]+)\]?", statement)
        if use:
            old, self.database = self.database, use.group(1)
            return (
                wire.envchange_text(wire.ENV_DATABASE, self.database, old)
                + wire.info(
                    5701,
                    1,
                    f"Changed database context to '{self.database}'.",
                    self.config.full_name,
                )
                + wire.done()
            )
        # Every other statement (SET options, ...) succeeds without a result.
        return wire.done()

    def _transaction(self, payload: bytes) -> bytes:
        body = wire.skip_all_headers(payload)
        if len(body) < 2:
            raise ProtocolError("transaction manager request without a type")
        (request,) = struct.unpack_from("<H", body, 0)
        names = {TM_BEGIN: "begin", TM_COMMIT: "commit", TM_ROLLBACK: "rollback"}
        log.info("%s transaction manager: %s", self.peer, names.get(request, request))
        tokens = b""
        if request in (TM_COMMIT, TM_ROLLBACK):
            env = (
                wire.ENV_COMMIT_TRAN if request == TM_COMMIT else wire.ENV_ROLLBACK_TRAN
            )
            if self.transaction:
                tokens += wire.envchange_bytes(env, b"", self.transaction)
            self.transaction = b""
            # After the name comes fBeginXact: start the next one at once.
            name_length = body[2] if len(body) > 2 else 0
            flags_at = 3 + 2 * name_length
            begin_next = len(body) > flags_at and body[flags_at] & 0x01
        else:
            begin_next = request == TM_BEGIN
        if begin_next:
            self.transaction = secrets.token_bytes(8)
            tokens += wire.envchange_bytes(wire.ENV_BEGIN_TRAN, self.transaction, b"")
        return tokens + wire.done()


class TdsDouble:
    """A TDS test double on one address and port: not SQL Server.

    It speaks TDS 7.4 and TDS 8 the way SQL Server 2022 does up to a finished
    login, then answers a handful of batches. It has no storage and runs no
    T-SQL.
    """

    def __init__(self, config: DoubleConfig) -> None:
        if config.mode not in MODES:
            raise ValueError(
                f"mode must be one of {', '.join(MODES)}, not {config.mode!r}"
            )
        if config.tls_min not in TLS_VERSIONS:
            raise ValueError(f"TLS minimum must be one of {', '.join(TLS_VERSIONS)}")
        if config.mode != "off" and (config.cert is None or config.key is None):
            raise ValueError(f"mode {config.mode} needs --cert and --key")
        self.config = config
        self.version_text = (
            "TDS test double (sphere-stig lab), not Microsoft SQL Server; answers "
            f"TDS 7.4/8.0 as {PRODUCT} "
            f"{'.'.join(str(n) for n in PRODUCT_VERSION)} on {config.full_name}"
        )
        self._spids = itertools.count(51)
        self._spid_lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        if config.mode != "off":
            self.wrapped_context = self._context(ssl.TLSVersion.TLSv1_2)
            # TDS 8 is TLS 1.2 or 1.3 only, whatever the TDS 7.x floor is.
            self.strict_context = self._context(
                ssl.TLSVersion.TLSv1_3, floor=ssl.TLSVersion.TLSv1_2
            )
            self.strict_context.set_alpn_protocols([ALPN_TDS8])

    def _context(
        self, maximum: ssl.TLSVersion, floor: ssl.TLSVersion = ssl.TLSVersion.TLSv1
    ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.config.cert), str(self.config.key))
        minimum = max(TLS_VERSIONS[self.config.tls_min], floor)
        if minimum < ssl.TLSVersion.TLSv1_2:
            # OpenSSL 3 keeps TLS 1.0/1.1 suites behind security level 0.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            # Python flags TLS 1.0/1.1 as deprecated; offering them on
            # request is the point of --tls-min.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = minimum
        context.maximum_version = maximum
        # No TLS 1.3 session tickets: they would arrive after the handshake
        # and SQL Server's clients do not resume sessions.
        context.num_tickets = 0
        return context

    def next_spid(self) -> int:
        with self._spid_lock:
            return next(self._spids)

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("not started")
        return self._listener.getsockname()[1]

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.config.address, self.config.port))
        listener.listen(64)
        self._listener = listener
        self._thread = threading.Thread(
            target=self._accept, name="tds-double", daemon=True
        )
        self._thread.start()
        log.info(
            "TDS test double listening on %s:%d (mode %s, instance %s)",
            self.config.address,
            self.port,
            self.config.mode,
            self.config.instance,
        )

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return
            connection = _Connection(self, sock, f"{peer[0]}:{peer[1]}")
            threading.Thread(target=connection.serve, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("TDS test double on %s stopped", self.config.address)

    def __enter__(self) -> TdsDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
