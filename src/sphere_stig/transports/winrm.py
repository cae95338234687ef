"""PowerShell over WinRM (WS-Management), with one remote shell per host.

The session opens a single WinRM shell on first use and runs every script of
the run in it, then deletes it on :meth:`WinRMSession.close`. Opening a shell
costs a round trip and a process on the host; hosts also cap the number of
shells per user (``MaxShellsPerUser``), so one per command would not scale.

Every failure becomes a :class:`~sphere_stig.outcome.CollectionError` whose
reason a reader can act on ("connection refused", "TLS certificate not
trusted: ..."), never a pywinrm or requests traceback.
"""

from __future__ import annotations

import base64
import errno
import importlib
import logging
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from sphere_stig.outcome import CollectionError

log = logging.getLogger(__name__)

NAME = "winrm"

Scheme = Literal["https", "http"]
Auth = Literal["ntlm", "kerberos", "credssp", "basic"]

DEFAULT_PORTS: dict[str, int] = {"https": 5986, "http": 5985}

# WS-Management fault codes the session reacts to.
FAULT_SHELL_NOT_FOUND = 2150858843
# CreateProcess refuses longer command lines (the shell is skipped, so the
# 8191-character limit of cmd.exe does not apply).
MAX_COMMAND_LINE = 32767
# How long the host may hold one Receive open before it answers "no output
# yet" (WS-Management OperationTimeout); pywinrm then asks again.
RECEIVE_WAIT = 20

# Code page 65001 makes the host write UTF-8 instead of the OEM code page,
# which would turn every character outside it into "?".
_UTF8_CODEPAGE = 65001
_AUTH_SCHEMES: dict[str, tuple[str, ...]] = {
    "basic": ("basic",),
    "ntlm": ("negotiate", "ntlm"),
    "kerberos": ("negotiate", "kerberos"),
    "credssp": ("credssp",),
}
_AUTH_EXTRAS = {"kerberos": "pywinrm[kerberos]", "credssp": "pywinrm[credssp]"}
# The modules pywinrm imports for these authentications (winrm/transport.py
# and its vendored requests_kerberos); for Kerberos either one will do.
_AUTH_MODULES = {
    "kerberos": ("kerberos", "winkerberos"),
    "credssp": ("requests_credssp",),
}


def _winrm() -> Any:
    try:
        import winrm
        import winrm.exceptions
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the Windows checks need pywinrm: pip install 'pywinrm==0.5.0'"
        ) from exc
    return winrm


def missing_auth_package(auth: str) -> str | None:
    """The pip requirement that ``auth`` needs and that is not installed.

    None when the authentication needs nothing more than pywinrm, or when
    what it needs can be imported. Asked before a run, so that a missing
    package stops it once instead of failing every WinRM test.
    """
    modules = _AUTH_MODULES.get(auth, ())
    if not modules or any(_importable(name) for name in modules):
        return None
    return _AUTH_EXTRAS[auth]


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class WinRMSettingsLike(Protocol):
    """How to reach a host's WinRM listener.

    The inventory's ``connections.winrm`` model has these attributes, and so
    does :class:`WinRMOptions` for callers without an inventory.
    """

    @property
    def scheme(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def auth(self) -> str: ...
    @property
    def user(self) -> str | None: ...
    @property
    def ca_bundle(self) -> Path | str | None: ...
    @property
    def validate_certificate(self) -> bool: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def operation_timeout(self) -> float: ...


@dataclass(frozen=True)
class WinRMOptions:
    """WinRM settings without an inventory (tests, the lab)."""

    scheme: Scheme = "https"
    port: int | None = None
    auth: Auth = "ntlm"
    user: str | None = None
    # PEM bundle of the CAs that may sign the listener certificate; None uses
    # the default trust store of requests (certifi).
    ca_bundle: Path | str | None = None
    # Only a deliberate lab setup turns this off; it is logged as a warning.
    validate_certificate: bool = True
    connect_timeout: float = 10.0
    # The longest one script may run before the session gives up on it.
    operation_timeout: float = 60.0


@dataclass(frozen=True)
class WinRMEndpoint:
    """Where and how to reach the WinRM listener of one host."""

    address: str
    scheme: Scheme = "https"
    port: int | None = None
    auth: Auth = "ntlm"
    # PEM bundle of the CAs that may sign the listener certificate; None uses
    # the default trust store of requests (certifi).
    ca_bundle: Path | str | None = None
    # Only a deliberate lab setup turns this off; it is logged as a warning.
    validate_certificate: bool = True
    connect_timeout: float = 10.0
    # The longest one script may run before the session gives up on it.
    operation_timeout: float = 60.0

    @classmethod
    def from_settings(cls, address: str, settings: WinRMSettingsLike) -> WinRMEndpoint:
        scheme = settings.scheme.lower()
        auth = settings.auth.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"WinRM scheme must be https or http, not {scheme!r}")
        if auth not in _AUTH_SCHEMES:
            raise ValueError(f"unknown WinRM auth {settings.auth!r}")
        return cls(
            address,
            scheme,  # type: ignore[arg-type]
            settings.port,
            auth,  # type: ignore[arg-type]
            settings.ca_bundle,
            settings.validate_certificate,
            settings.connect_timeout,
            settings.operation_timeout,
        )

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.scheme]

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.effective_port}/wsman"

    @property
    def source(self) -> str:
        """How collection errors name this endpoint: ``WinRM https://addr:port``."""
        return f"WinRM {self.url.removesuffix('/wsman')}"


@dataclass(frozen=True)
class PsResult:
    """What one PowerShell script left on the host's output streams."""

    stdout: str
    # Error records from stderr as plain text; progress records removed.
    stderr_text: str
    status: int
    # Warning records, and notes about stderr that could not be decoded.
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.stderr_text


class WinRMSession:
    """PowerShell on one Windows host through one reused WinRM shell."""

    def __init__(
        self,
        host: str,
        address: str,
        settings: WinRMSettingsLike,
        password: str | None,
    ) -> None:
        self.host = host
        self.endpoint = WinRMEndpoint.from_settings(address, settings)
        self.user = settings.user or ""
        self._password = password
        self._protocol: Any = None
        self._shell_id: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"WinRMSession(host={self.host!r}, url={self.endpoint.url!r}, "
            f"auth={self.endpoint.auth!r}, user={self.user!r})"
        )

    def __enter__(self) -> WinRMSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public surface --------------------------------------------------

    def run_ps(self, script: str) -> PsResult:
        """Run ``script`` with Windows PowerShell and wait for it to finish."""
        first_line = next((ln for ln in script.splitlines() if ln.strip()), "")
        log.debug("RUN %s", first_line.strip())
        arguments = _powershell_arguments(script)
        if len("powershell.exe ") + len(" ".join(arguments)) > MAX_COMMAND_LINE:
            raise self._error(
                f"the script is too long for one command line ({len(script)} "
                f"characters encode past the {MAX_COMMAND_LINE}-character limit)"
            )
        with self._lock:
            stdout, stderr, status = self._run_in_shell(arguments)
        stderr_text, warnings = decode_clixml(_text(stderr))
        return PsResult(_text(stdout), stderr_text, status, warnings)

    def close(self) -> None:
        """Delete the remote shell; safe to call more than once."""
        with self._lock:
            protocol, shell_id = self._protocol, self._shell_id
            self._protocol = self._shell_id = None
        if protocol is None:
            return
        if shell_id is not None:
            try:
                protocol.close_shell(shell_id)
            except Exception as exc:
                # The host drops idle shells by itself; a failed delete leaks
                # nothing on our side and must not turn results into errors.
                log.debug(
                    "deleting shell %s on %s failed: %s", shell_id, self.host, exc
                )
            log.info("WinRM session to %s (%s) closed", self.host, self.endpoint.url)
        else:
            protocol.transport.close_session()

    # -- shell handling ----------------------------------------------------

    def _run_in_shell(self, arguments: list[str]) -> tuple[bytes, bytes, int]:
        winrm = _winrm()
        for attempt in (1, 2):
            shell_id = self._shell()
            try:
                return self._run_command(shell_id, arguments)
            except winrm.exceptions.WSManFaultError as exc:
                # The host forgets shells after its idle timeout; a run that
                # waited on other hosts for long may find its shell gone.
                if exc.wsman_fault_code != FAULT_SHELL_NOT_FOUND or attempt == 2:
                    raise self._mapped(exc) from None
                log.info(
                    "shell %s on %s has expired; opening a new one", shell_id, self.host
                )
                self._shell_id = None
            except CollectionError:
                raise
            except Exception as exc:
                raise self._mapped(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _shell(self) -> str:
        if self._shell_id is None:
            protocol = self._connect()
            try:
                self._shell_id = protocol.open_shell(
                    codepage=_UTF8_CODEPAGE, noprofile=True
                )
            except Exception as exc:
                raise self._mapped(exc) from None
            log.info(
                "WinRM session to %s (%s, %s auth) opened, shell %s",
                self.host,
                self.endpoint.url,
                self.endpoint.auth,
                self._shell_id,
            )
        return self._shell_id

    def _connect(self) -> Any:
        if self._protocol is not None:
            return self._protocol
        winrm = _winrm()
        endpoint = self.endpoint
        receive_wait = max(1, min(RECEIVE_WAIT, math.ceil(endpoint.operation_timeout)))
        read_timeout = receive_wait + max(5, math.ceil(endpoint.connect_timeout))
        if endpoint.scheme == "https" and not endpoint.validate_certificate:
            log.warning(
                "%s: certificate validation of %s is off by configuration",
                self.host,
                endpoint.url,
            )
        try:
            protocol = winrm.Protocol(
                endpoint.url,
                transport=endpoint.auth,
                username=self.user,
                password=self._password,
                server_cert_validation=(
                    "validate" if endpoint.validate_certificate else "ignore"
                ),
                ca_trust_path=str(endpoint.ca_bundle) if endpoint.ca_bundle else None,
                read_timeout_sec=read_timeout,
                operation_timeout_sec=receive_wait,
                # Environment proxies are ignored: a compliance scan talks to
                # the host it names, not to whatever HTTPS_PROXY points at.
                proxy=None,
            )
        except Exception as exc:
            raise self._mapped(exc) from None
        # pywinrm passes one number to requests, which then uses it for the
        # connect as well; a (connect, read) pair lets an unreachable host
        # fail after the connect timeout instead of after the read timeout.
        protocol.transport.read_timeout_sec = (endpoint.connect_timeout, read_timeout)
        self._protocol = protocol
        return protocol

    def _run_command(
        self, shell_id: str, arguments: list[str]
    ) -> tuple[bytes, bytes, int]:
        winrm = _winrm()
        protocol = self._protocol
        command_id = protocol.run_command(
            shell_id, "powershell.exe", arguments, skip_cmd_shell=True
        )
        deadline = time.monotonic() + self.endpoint.operation_timeout
        out: list[bytes] = []
        err: list[bytes] = []
        done, status = False, -1
        try:
            while not done:
                if time.monotonic() > deadline:
                    raise self._error(
                        "the script did not finish within "
                        f"{self.endpoint.operation_timeout:g} s"
                    )
                try:
                    stdout, stderr, status, done = protocol.get_command_output_raw(
                        shell_id, command_id
                    )
                except winrm.exceptions.WinRMOperationTimeoutError:
                    # No output yet: the host answered its Receive wait.
                    continue
                out.append(stdout)
                err.append(stderr)
        finally:
            self._terminate(shell_id, command_id)
        return b"".join(out), b"".join(err), status

    def _terminate(self, shell_id: str, command_id: str) -> None:
        try:
            self._protocol.cleanup_command(shell_id, command_id)
        except Exception as exc:
            log.debug(
                "terminating command %s on %s failed: %s", command_id, self.host, exc
            )

    # -- error mapping -----------------------------------------------------

    def _error(self, reason: str) -> CollectionError:
        return CollectionError(self.host, self.endpoint.source, reason)

    def _mapped(self, exc: BaseException) -> CollectionError:
        if isinstance(exc, CollectionError):
            return exc
        reason = _reason(exc, self.endpoint)
        if reason is None:
            reason = self._auth_reason()
        log.debug("%s: %s (%s: %s)", self.host, reason, type(exc).__name__, exc)
        return self._error(reason)

    def _auth_reason(self) -> str:
        """Explain an HTTP 401 by what the listener offers instead."""
        endpoint = self.endpoint
        offered = _offered_schemes(endpoint)
        wanted = _AUTH_SCHEMES[endpoint.auth]
        label = "Basic" if endpoint.auth == "basic" else endpoint.auth.upper()
        if offered and not {o.lower() for o in offered} & set(wanted):
            offers = ", ".join(sorted(offered, key=str.lower))
            if endpoint.scheme == "http":
                return (
                    f"server refused unencrypted {label} authentication over HTTP "
                    f"(it offers {offers}): a hardened host sets AllowUnencrypted="
                    f"false; use scheme https (port {DEFAULT_PORTS['https']})"
                )
            return (
                f"server does not accept {label} authentication (it offers "
                f"{offers}); choose one of those or enable {label} on the host"
            )
        return (
            "authentication refused (HTTP 401) — check the user and password reference"
        )


def _powershell_arguments(script: str) -> list[str]:
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return ["-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]


def _text(data: bytes) -> str:
    # With code page 65001 Windows PowerShell starts each stream with a
    # UTF-8 byte order mark.
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


# -- CLIXML ----------------------------------------------------------------

_CLIXML_HEADER = "#< CLIXML"
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape_clixml(text: str) -> str:
    return _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def decode_clixml(stderr: str) -> tuple[str, tuple[str, ...]]:
    """Split PowerShell's serialized stderr into error text and warnings.

    PowerShell writes its error stream as CLIXML when output is redirected.
    ``<S S="Error">`` records are errors; ``<S S="warning">`` are warnings;
    progress records (``<Obj S="progress">``, for example "Preparing modules
    for first use.") and verbose/debug records are not problems and are
    dropped. Text that is not CLIXML is returned unchanged as error text.
    """
    text = stderr.lstrip("\ufeff")
    if not text.startswith(_CLIXML_HEADER):
        return text.strip(), ()
    errors: list[str] = []
    warnings: list[str] = []
    # A long stream may hold several documents, each after its own header.
    for chunk in text.split(_CLIXML_HEADER):
        body = chunk.strip()
        if not body:
            continue
        try:
            # The host's output is not trusted: no DTDs, no entities.
            root = defused_fromstring(body)
        except (ParseError, DefusedXmlException) as exc:
            warnings.append(f"stderr is not valid CLIXML ({exc}); kept as text")
            errors.append(body)
            continue
        for record in root:
            stream = record.get("S", "").lower()
            if _local(record.tag) != "S":
                continue
            line = _unescape_clixml(record.text or "")
            if stream == "error":
                errors.append(line)
            elif stream == "warning":
                warnings.append(line.strip())
    return "".join(errors).strip(), tuple(w for w in warnings if w)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# -- exception mapping --------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests and urllib3 nest deeply)."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(a for a in item.args if isinstance(a, BaseException))
    return seen


def _tls_reason(exc: BaseException) -> str:
    text = " ".join(str(c) for c in _causes(exc))
    match = re.search(r"certificate verify failed: ([^(\]'\"]+)", text)
    if match:
        return f"TLS certificate not trusted: {match.group(1).strip()}"
    match = re.search(r"[Hh]ostname mismatch, ([^(\]'\"]+)", text)
    if match:
        return (
            f"TLS certificate not trusted: host name mismatch, {match.group(1).strip()}"
        )
    match = re.search(r"\[SSL: ([A-Z_]+)\] ([^(\]'\"]+)", text)
    detail = match.group(2).strip() if match else "see the debug log"
    hint = " (is this an HTTP listener?)" if "WRONG_VERSION_NUMBER" in text else ""
    return f"TLS handshake failed: {detail}{hint}"


def _reason(exc: BaseException, endpoint: WinRMEndpoint) -> str | None:
    """A human reason for ``exc``; None means HTTP 401 (explained separately)."""
    import requests

    winrm = _winrm()
    errors = winrm.exceptions
    causes = _causes(exc)

    if isinstance(exc, errors.InvalidCredentialsError):
        if "requires a username" in str(exc) or "requires a password" in str(exc):
            return "no user or password configured for WinRM"
        return None
    if isinstance(exc, errors.WSManFaultError):
        code = exc.wsman_fault_code or exc.fault_subcode or exc.code
        return f"WS-Management fault {code}: {(exc.reason or '').strip()}"
    if isinstance(exc, errors.WinRMTransportError):
        return f"the WinRM listener answered HTTP {exc.code}"
    if isinstance(exc, errors.WinRMError):
        text = str(exc)
        if "not installed" in text and endpoint.auth in _AUTH_EXTRAS:
            return (
                f"{endpoint.auth} authentication needs an extra package: "
                f"pip install '{_AUTH_EXTRAS[endpoint.auth]}'"
            )
        return text
    if isinstance(exc, PermissionError) and "NTLM challenge" in str(exc):
        # requests_ntlm's word for a 401 answer to its first NTLM message.
        return None
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_reason(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return (
            f"no answer within {endpoint.connect_timeout:g} s: the host is down or "
            "the traffic is filtered; check that it is up and that the runner may "
            "reach its WinRM port"
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "the listener accepted the connection but did not answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _connection_reason(causes)
    if isinstance(exc, OSError):
        return _connection_reason(causes)
    return f"{type(exc).__name__}: {exc}"


def _connection_reason(causes: list[BaseException]) -> str:
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the host (check scheme and port)"
        if isinstance(cause, OSError) and cause.errno in (
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        ):
            return "host unreachable"
    text = " ".join(str(c) for c in causes)
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return (
            "the host closed the connection without answering (check scheme and port)"
        )
    return f"connection failed: {causes[-1] if causes else 'unknown error'}"


def _offered_schemes(endpoint: WinRMEndpoint) -> tuple[str, ...]:
    """Authentication schemes the listener names in an unauthenticated 401."""
    import requests

    verify: bool | str = endpoint.validate_certificate
    if endpoint.validate_certificate and endpoint.ca_bundle:
        verify = str(endpoint.ca_bundle)
    try:
        with requests.Session() as http:
            http.trust_env = False
            response = http.post(
                endpoint.url,
                data=b"",
                headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                verify=verify,
                timeout=(endpoint.connect_timeout, endpoint.connect_timeout),
            )
    except requests.RequestException:
        return ()
    header = response.headers.get("WWW-Authenticate", "")
    # requests joins repeated headers with ", "; a scheme is a token at the
    # start of an element, parameters (realm="WSMAN") follow after a space.
    return tuple(
        m.group(1)
        for m in re.finditer(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9._-]*)(?=\s|,|$)", header)
    )
