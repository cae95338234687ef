"""The HTTP(S) listeners of the double, with WinRM's authentication rules.

HTTPS accepts Basic authentication. Plain HTTP behaves like a hardened host
(AllowUnencrypted=false, Basic disabled for HTTP): every request is refused
with 401 and ``WWW-Authenticate: Negotiate`` only, so a client that sends
Basic over HTTP gets a clear refusal. The double speaks no Negotiate, NTLM,
Kerberos or CredSSP, so the lab inventories use Basic over HTTPS.

An unauthenticated Identify (header ``WSMANIDENTIFY: unauthenticated``) is
answered on both listeners, as Windows does.

A double that stands in for a monitored Windows host can also hold the ports
a remote agent reaches it on (``tcp_ports``: 135 for DCOM/WMI, 445 for SMB).
Those listeners accept a TCP connection and close it: they speak neither
RPC nor SMB, and exist so that the port-table rows have a socket to probe.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import socketserver
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.winrm_double import wsman
from lab.winrm_double.commands import CommandRunner
from lab.winrm_double.image import HostImage
from lab.winrm_double.service import ShellService

log = logging.getLogger("lab.winrm_double")

SERVER_HEADER = "Microsoft-HTTPAPI/2.0"
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class DoubleConfig:
    host: str
    image: Path
    address: str
    https_port: int | None
    http_port: int | None
    cert: Path | None
    key: Path | None
    user: str
    password: str
    pki_dir: Path | None = None
    # Accept-only TCP ports (see the module doc).
    tcp_ports: tuple[int, ...] = ()

    def __repr__(self) -> str:
        # The password never reaches a log line or a traceback.
        return (
            f"DoubleConfig(host={self.host!r}, address={self.address!r}, "
            f"https_port={self.https_port!r}, http_port={self.http_port!r}, "
            f"user={self.user!r}, tcp_ports={self.tcp_ports!r})"
        )


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Handshakes happen in the request thread, so a stalled client cannot
    # block the accept loop.
    handshake_timeout = 10.0

    def __init__(
        self, double: WinRMDouble, scheme: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        self.double = double
        self.scheme = scheme
        self.tls = tls
        super().__init__((double.config.address, port), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.handshake_timeout)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info(
                "%s %s TLS handshake failed: %s", self.scheme, client_address[0], exc
            )
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()


class _AcceptOnly(socketserver.ThreadingTCPServer):
    """Accepts connections on one port and closes them at once."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str, port: int) -> None:
        super().__init__((address, port), socketserver.BaseRequestHandler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    server: _Listener

    def version_string(self) -> str:
        return SERVER_HEADER

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Requests are logged once, with their outcome, by _log().
        pass

    def _log(self, status: int, user: str, what: str, note: str = "") -> None:
        log.info(
            "%s %s %s %s user=%s -> %d%s",
            self.server.scheme,
            self.client_address[0],
            self.command,
            what,
            user or "-",
            status,
            f" ({note})" if note else "",
        )

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, list[str]] | None = None,
    ) -> None:
        self.send_response(status)
        for name, values in (headers or {}).items():
            for value in values:
                self.send_header(name, value)
        if body:
            self.send_header("Content-Type", SOAP_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _not_allowed(self) -> None:
        if self.path.split("?", 1)[0].casefold() != "/wsman":
            self._send(404)
            self._log(404, "", self.path)
            return
        self._send(405, headers={"Allow": ["POST"]})
        self._log(405, "", self.path)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _not_allowed

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0].casefold() != "/wsman":
            self._read_body()
            self._send(404)
            self._log(404, "", self.path)
            return
        body = self._read_body()
        if body is None:
            return
        if (
            self.headers.get("WSMANIDENTIFY", "").strip().casefold()
            == "unauthenticated"
        ):
            if wsman.is_identify(body):
                self._send(200, wsman.identify_response())
                self._log(200, "", "Identify")
                return
        user, refusal = self.server.double.authenticate(
            self.server.scheme, self.headers.get("Authorization")
        )
        if user is None:
            self._send(
                401,
                headers={
                    "WWW-Authenticate": self.server.double.offered(self.server.scheme)
                },
            )
            self._log(401, "", "/wsman", refusal)
            return
        content_type = self.headers.get("Content-Type", "")
        if not content_type.casefold().startswith("application/soap+xml"):
            self._send(415)
            self._log(415, user, "/wsman", f"content type {content_type!r}")
            return
        self._soap(body, user)

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self._send(411)
            return None
        length = int(length_text)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(413)
            return None
        return self.rfile.read(length)

    def _soap(self, body: bytes, user: str) -> None:
        double = self.server.double
        relates_to, action = "", "?"
        try:
            request = wsman.parse_request(body)
            relates_to, action = request.message_id, request.name
            endpoint = f"{self.server.scheme}://{double.config.address}:{self.server.server_port}/wsman"
            outcome = double.service.handle(
                request, user, endpoint, self.client_address[0]
            )
        except wsman.MalformedRequest as exc:
            fault = wsman.invalid(
                f"The WS-Management service cannot process the request: {exc}."
            )
            self._send(500, wsman.fault_response(fault, relates_to, double.config.host))
            self._log(500, user, "malformed", str(exc))
            return
        except wsman.Fault as fault:
            self._send(500, wsman.fault_response(fault, relates_to, double.config.host))
            self._log(500, user, action, f"fault {fault.code} {fault.subcode}")
            return
        self._send(200, outcome.body)
        self._log(200, user, request.name, outcome.note)


class WinRMDouble:
    """A WS-Management test double for one lab host (runs no PowerShell)."""

    def __init__(self, config: DoubleConfig) -> None:
        self.config = config
        self.image = HostImage(config.image, config.pki_dir, config.address)
        self.service = ShellService(CommandRunner(self.image, config.host), config.host)
        self._listeners: list[_Listener] = []
        self._tcp: list[_AcceptOnly] = []
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"WinRMDouble({self.config!r})"

    # -- authentication ---------------------------------------------------

    def offered(self, scheme: str) -> list[str]:
        if scheme == "https":
            return ["Negotiate", 'Basic realm="WSMAN"']
        return ["Negotiate"]

    def authenticate(self, scheme: str, header: str | None) -> tuple[str | None, str]:
        """The authenticated user, or None and why the request was refused."""
        if not header:
            return None, "no credentials"
        kind, _, token = header.partition(" ")
        if kind.casefold() != "basic":
            return None, f"{kind} authentication is not supported by the double"
        if scheme != "https":
            return None, "Basic over unencrypted HTTP refused (AllowUnencrypted=false)"
        try:
            user, _, password = (
                base64.b64decode(token.strip(), validate=True)
                .decode("utf-8")
                .partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None, "malformed Basic credentials"
        user_ok = user.casefold() == self.config.user.casefold()
        password_ok = hmac.compare_digest(
            password.encode("utf-8"), self.config.password.encode("utf-8")
        )
        if not (user_ok and password_ok):
            return None, f"wrong user or password for {user!r}"
        return user, ""

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Bind the listeners and serve them on background threads."""
        config = self.config
        if config.https_port is not None:
            if config.cert is None or config.key is None:
                raise ValueError("the HTTPS listener needs --cert and --key")
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.minimum_version = ssl.TLSVersion.TLSv1_2
            tls.load_cert_chain(str(config.cert), str(config.key))
            self._listeners.append(_Listener(self, "https", config.https_port, tls))
        if config.http_port is not None:
            self._listeners.append(_Listener(self, "http", config.http_port, None))
        for port in config.tcp_ports:
            self._tcp.append(_AcceptOnly(config.address, port))
        for server in self._tcp:
            thread = threading.Thread(
                target=server.serve_forever, name="winrm-double-tcp", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            log.info(
                "%s: accept-only TCP listener on %s:%d",
                config.host,
                config.address,
                server.server_address[1],
            )
        for listener in self._listeners:
            thread = threading.Thread(
                target=listener.serve_forever,
                name=f"winrm-double-{listener.scheme}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            log.info(
                "WS-Management test double for %s listening on %s://%s:%d/wsman",
                config.host,
                listener.scheme,
                config.address,
                listener.server_port,
            )

    def port(self, scheme: str) -> int:
        for listener in self._listeners:
            if listener.scheme == scheme:
                return listener.server_port
        raise KeyError(f"no {scheme} listener")

    def stop(self) -> None:
        for listener in [*self._listeners, *self._tcp]:
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._tcp.clear()
        self._threads.clear()
        log.info("WS-Management test double for %s stopped", self.config.host)

    def __enter__(self) -> WinRMDouble:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
