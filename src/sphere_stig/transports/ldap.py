"""LDAP to a domain controller: one validated TLS session and bind per host.

The suite reads the directory with a read-only audit account and a simple
bind, always inside TLS: LDAPS (636) or StartTLS on 389, as the inventory's
``connections.ldap`` says. Samba domain controllers refuse the NTLM bind of
ldap3 (they answer its Microsoft "Sicily" exchange with a protocol error),
and a simple bind inside TLS works against Samba and Windows alike.

:class:`LdapPool` opens a session on first use and hands the same bound
connection to every caller for the rest of the run. A failure is remembered
too, so that the checks of an unreachable DC do not each wait for the
connect timeout. Every failure becomes a
:class:`~sphere_stig.outcome.CollectionError` naming the endpoint
(``LDAP ldaps://127.0.0.3:636``) and a reason a reader can act on.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sphere_stig.outcome import CollectionError

if TYPE_CHECKING:
    import ldap3

    from sphere_stig.inventory import Host

log = logging.getLogger(__name__)

NAME = "ldap"

# Active Directory puts a Win32 error code after "data" in the text of a
# failed bind; these are the ones an auditor can act on.
_BIND_DATA = {
    "52e": "invalid user name or password",
    "525": "the account does not exist",
    "530": "the account may not log on at this time",
    "531": "the account may not log on from this workstation",
    "532": "the password has expired",
    "533": "the account is disabled",
    "701": "the account has expired",
    "773": "the password must be changed before the first logon",
    "775": "the account is locked out",
}


def _ldap3() -> Any:
    try:
        import ldap3
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the directory checks need ldap3: pip install 'ldap3==2.9.1'"
        ) from exc
    return ldap3


class LdapSettingsLike(Protocol):
    """How to reach a DC; the inventory's ``connections.ldap`` model fits."""

    @property
    def port(self) -> int: ...
    @property
    def use_ssl(self) -> bool: ...
    @property
    def user(self) -> str | None: ...
    @property
    def ca_bundle(self) -> Path | None: ...
    @property
    def connect_timeout(self) -> float: ...


@dataclass(frozen=True)
class LdapEndpoint:
    """Where one DC listens and how its certificate is checked."""

    address: str
    port: int = 636
    # True: TLS from the first byte (LDAPS); False: StartTLS on plain LDAP.
    use_ssl: bool = True
    # The name the certificate may carry besides the address (the fqdn).
    server_name: str | None = None
    # PEM bundle of the CAs that may sign the DC certificate; None uses the
    # system trust store.
    ca_bundle: Path | str | None = None
    # Bounds the TCP connect, the TLS handshake and each answer after it.
    timeout: float = 10.0

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'ldaps' if self.use_ssl else 'ldap'}://{host}:{self.port}"

    @property
    def source(self) -> str:
        """How collection errors name this endpoint: ``LDAP ldaps://addr:636``."""
        return f"LDAP {self.url}"

    @property
    def mode(self) -> str:
        return "LDAPS" if self.use_ssl else "StartTLS"


def open_session(
    host: str, endpoint: LdapEndpoint, user: str, password: str
) -> ldap3.Connection:
    """Connect, secure and bind; the caller owns the returned connection."""
    ldap3 = _ldap3()
    log.debug("RUN bind %s (%s) as %s", endpoint.url, endpoint.mode, user)
    ca = str(endpoint.ca_bundle) if endpoint.ca_bundle else None
    if ca is not None and not Path(ca).is_file():
        raise CollectionError(
            host,
            endpoint.source,
            f"the CA bundle {ca} does not exist; fix connections.ldap.ca_bundle",
        )
    try:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=ca,
            valid_names=[endpoint.server_name] if endpoint.server_name else None,
            sni=endpoint.server_name,
        )
        server = ldap3.Server(
            endpoint.address,
            endpoint.port,
            use_ssl=endpoint.use_ssl,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=endpoint.timeout,
        )
        conn = ldap3.Connection(
            server,
            user,
            password,
            authentication=ldap3.SIMPLE,
            # ldap3 packs this into a socket option that takes whole seconds.
            receive_timeout=max(1, math.ceil(endpoint.timeout)),
            read_only=True,
            # A DC refers subtree searches to its DNS and configuration
            # partitions by domain name; following them would leave the
            # validated session for names this runner may not resolve.
            auto_referrals=False,
            raise_exceptions=False,
        )
    except Exception as exc:
        raise mapped(host, endpoint.source, exc, endpoint.timeout) from None
    try:
        with errors(host, endpoint.source, endpoint.timeout):
            conn.open()
            if not endpoint.use_ssl:
                conn.start_tls()
            if not conn.bind():
                raise CollectionError(
                    host, endpoint.source, _bind_reason(user, conn.result)
                )
    except CollectionError:
        _close_quietly(conn)
        raise
    tls_socket = conn.socket
    log.info(
        "LDAP session to %s (%s, %s) opened as %s",
        host,
        endpoint.url,
        tls_socket.version() if hasattr(tls_socket, "version") else endpoint.mode,
        user,
    )
    return conn


def _close_quietly(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception as exc:  # the socket may be gone already
        log.debug("closing a failed LDAP connection: %s", exc)


def source_of(conn: ldap3.Connection) -> str:
    """The ``LDAP ldaps://addr:port`` name of an open connection."""
    server = conn.server
    return f"LDAP {'ldaps' if server.ssl else 'ldap'}://{server.host}:{server.port}"


@contextmanager
def errors(host: str, source: str, timeout: float | None = None) -> Iterator[None]:
    """Turn ldap3's exceptions inside the block into CollectionErrors."""
    try:
        yield
    except CollectionError:
        raise
    except Exception as exc:
        raise mapped(host, source, exc, timeout) from None


def mapped(
    host: str, source: str, exc: BaseException, timeout: float | None = None
) -> CollectionError:
    why = reason(exc, timeout)
    log.debug("%s: %s (%s: %s)", host, why, type(exc).__name__, exc)
    return CollectionError(host, source, why)


def reason(exc: BaseException, timeout: float | None = None) -> str:
    """A human reason for an ldap3 or socket error."""
    from ldap3.core import exceptions as x

    text = str(exc)
    lowered = text.lower()
    verify = re.search(r"certificate verify failed: ([^(]+)", text)
    if verify:
        return f"TLS certificate not trusted: {verify.group(1).strip()}"
    if isinstance(exc, x.LDAPCertificateError) or "doesn't match any name" in text:
        return "TLS certificate names neither the address nor the host's fqdn"
    if "timed out" in lowered or isinstance(exc, TimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return f"no answer{within}"
    if "ssl wrapping error" in text and "reset" in lowered:
        return (
            "the server dropped the connection during the TLS handshake "
            "(plain LDAP on this port?)"
        )
    if "ssl wrapping error" in text or isinstance(exc, ssl.SSLError):
        detail = re.sub(r"^.*ssl wrapping error: ", "", text).strip("()'\",")
        return f"TLS handshake failed: {detail}"
    if isinstance(exc, x.LDAPStartTLSError):
        return f"StartTLS failed: {text.removeprefix('startTLS failed - ')}"
    if "refused" in lowered:
        return "connection refused"
    if "unreachable" in lowered or "no route" in lowered:
        return "host unreachable"
    if isinstance(exc, x.LDAPSessionTerminatedByServerError):
        return "the server closed the session"
    if isinstance(exc, x.LDAPSocketReceiveError | x.LDAPSocketSendError):
        return f"the connection broke: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bind_reason(user: str, result: dict[str, Any]) -> str:
    description = result.get("description", "")
    message = result.get("message", "") or ""
    if description == "invalidCredentials":
        data = re.search(r"data ([0-9a-f]{3})", message)
        why = _BIND_DATA.get(data.group(1)) if data else None
        return f"bind as {user} refused: {why or 'invalid credentials'}"
    if description == "strongerAuthRequired":
        return (
            f"bind as {user} refused: the server requires transport encryption "
            "for a simple bind"
        )
    return f"bind as {user} refused: {description} {message}".strip()


class LdapPool:
    """One bound LDAP session per host for the whole run."""

    def __init__(self) -> None:
        self._sessions: dict[str, ldap3.Connection | CollectionError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def session(self, host: Host) -> ldap3.Connection:
        """The host's session, opened on first use; raises CollectionError."""
        with self._guard:
            lock = self._locks.setdefault(host.name, threading.Lock())
        with lock:
            if host.name not in self._sessions:
                try:
                    self._sessions[host.name] = self._open(host)
                except CollectionError as exc:
                    self._sessions[host.name] = exc
            session = self._sessions[host.name]
        if isinstance(session, CollectionError):
            raise session
        return session

    def close(self) -> None:
        """Unbind every open session; safe to call more than once."""
        with self._guard:
            sessions, self._sessions = self._sessions, {}
        for name, session in sessions.items():
            if isinstance(session, CollectionError):
                continue
            try:
                session.unbind()
            except Exception as exc:  # a close failure must not hide results
                log.debug("unbinding the LDAP session to %s failed: %s", name, exc)
            else:
                log.info("LDAP session to %s closed", name)

    @staticmethod
    def endpoint(host: Host) -> LdapEndpoint:
        settings = host.connections.ldap
        return LdapEndpoint(
            host.address,
            settings.port,
            settings.use_ssl,
            host.fqdn,
            settings.ca_bundle,
            settings.connect_timeout,
        )

    def _open(self, host: Host) -> ldap3.Connection:
        settings = host.connections.ldap
        endpoint = self.endpoint(host)
        if not settings.user or settings.password is None:
            raise CollectionError(
                host.name,
                endpoint.source,
                "no account to read the directory with: set connections.ldap.user "
                "and connections.ldap.password (a read-only account) in the inventory",
            )
        password = settings.password.resolve(
            host.name, host.origin("connections.ldap.password").key
        )
        return open_session(host.name, endpoint, settings.user, password)
