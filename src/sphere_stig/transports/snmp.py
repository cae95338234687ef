"""SNMP over UDP with pysnmp 7.1 (v3arch, asyncio), behind a synchronous API.

The suite only ever speaks SNMPv3 with authentication and privacy (authPriv)
to the hosts it checks: v1 and v2c send their community in clear text. The
one exception is :func:`community_get`, which asks whether an agent *also*
answers a community, so that a report can warn about it.

Each host gets its own SNMP engine, created on first use, so the engine ID
discovered from one agent and the keys localized for it are never mixed up
with another host's. All engines run on one private event loop owned by the
:class:`SnmpPool`; callers stay synchronous.

Every failure becomes a :class:`~sphere_stig.outcome.CollectionError` whose
reason says what to fix: no answer at all, a wrong authentication key, a
user the agent does not know, or a user the agent knows but lets read
nothing. Keys are never logged and never part of a message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sphere_stig.inventory import Host, InventoryError, SnmpSettings
from sphere_stig.outcome import CollectionError

log = logging.getLogger(__name__)

NAME = "snmp"

# MIB-II system group: every agent must implement it (RFC 3418).
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"

# How every timeout reason starts (see is_silence).
NO_ANSWER = "no answer"

# pyasn1 error-status value of an SNMPv2 authorizationError (RFC 3416).
AUTHORIZATION_ERROR = 16

CommunityVersion = Literal["v1", "v2c"]

# What a GET returns: text (OCTET STRING, IpAddress, OID), a number, or
# None when the agent has no such object.
SnmpValue = str | int | None

T = TypeVar("T")


def _pysnmp() -> Any:
    try:
        from pysnmp.hlapi.v3arch import asyncio as hlapi
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the SNMP checks need pysnmp: pip install 'pysnmp==7.1.29'"
        ) from exc
    return hlapi


def auth_protocol(name: str) -> Any:
    """The pysnmp identifier of an inventory ``auth_protocol`` name."""
    auth = _pysnmp().auth
    protocols = {
        "SHA": auth.USM_AUTH_HMAC96_SHA,
        "SHA-256": auth.USM_AUTH_HMAC192_SHA256,
        "SHA-384": auth.USM_AUTH_HMAC256_SHA384,
        "SHA-512": auth.USM_AUTH_HMAC384_SHA512,
    }
    try:
        return protocols[name]
    except KeyError:
        raise ValueError(f"unknown SNMPv3 authentication protocol {name!r}") from None


def priv_protocol(name: str) -> Any:
    """The pysnmp identifier of an inventory ``priv_protocol`` name.

    AES-192 and AES-256 need more key than SHA-1 (and, for AES-256, SHA-256)
    produces, and there are two ways to extend it. Net-SNMP's "AES-192" and
    "AES-256" use the Blumenthal draft, which pysnmp calls
    ``AesBlumenthal``; pysnmp's plain ``AesCfb192``/``AesCfb256`` follow
    Reeder (Cisco's "AES-192-C"). With the other one the agent cannot decrypt
    the request and stays silent, so a wrong choice looks like a timeout.
    TODO(cisco-aes): offer Reeder as AES-192-C / AES-256-C in the inventory
    when a site polls Cisco agents with SHA-1 or SHA-256 and AES-192/256.
    """
    auth = _pysnmp().auth
    protocols = {
        "AES": auth.USM_PRIV_CFB128_AES,
        "AES-192": auth.USM_PRIV_CFB192_AES_BLUMENTHAL,
        "AES-256": auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
    }
    try:
        return protocols[name]
    except KeyError:
        raise ValueError(f"unknown SNMPv3 privacy protocol {name!r}") from None


@dataclass(frozen=True)
class SnmpTarget:
    """Where one agent listens, and how long to wait for it."""

    host: str  # the inventory name, for messages
    address: str
    port: int = 161
    timeout: float = 2.0

    @property
    def source(self) -> str:
        return f"SNMP udp://{self.address}:{self.port}"


@dataclass(frozen=True)
class UsmCredentials:
    """An SNMPv3 user with its keys; ``repr`` never shows the keys."""

    user: str
    auth_protocol: str
    auth_key: str = field(repr=False)
    priv_protocol: str
    priv_key: str = field(repr=False)

    def describe(self) -> str:
        return f"user {self.user} authPriv {self.auth_protocol}/{self.priv_protocol}"


def configured(settings: SnmpSettings) -> bool:
    """True when the inventory gives a user and both keys (authPriv)."""
    return bool(settings.user and settings.auth_key and settings.priv_key)


def credentials_for(host: Host) -> UsmCredentials:
    """Resolve the host's SNMPv3 user and keys (registered for redaction)."""
    settings = host.connections.snmp
    target = target_for(host)
    if not configured(settings):
        raise CollectionError(
            host.name,
            target.source,
            "no SNMPv3 credentials: set connections.snmp.user, auth_key and "
            "priv_key in the inventory",
        )
    assert settings.user and settings.auth_key and settings.priv_key
    try:
        auth_key = settings.auth_key.resolve(
            host.name, host.origin("connections.snmp.auth_key").key
        )
        priv_key = settings.priv_key.resolve(
            host.name, host.origin("connections.snmp.priv_key").key
        )
    except InventoryError as exc:
        raise CollectionError(host.name, target.source, str(exc)) from None
    return UsmCredentials(
        settings.user,
        settings.auth_protocol,
        auth_key,
        settings.priv_protocol,
        priv_key,
    )


def target_for(host: Host, port: int | None = None) -> SnmpTarget:
    settings = host.connections.snmp
    return SnmpTarget(host.name, host.address, port or settings.port, settings.timeout)


def plain_value(value: Any) -> SnmpValue:
    """A response value as text or a number, without MIB lookups.

    OCTET STRINGs that are printable become text, others hexadecimal
    (``0x...``), the way net-snmp shows them.
    """
    from pyasn1.type import univ
    from pysnmp.proto import rfc1902, rfc1905

    if isinstance(
        value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView
    ):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.OctetString):
        raw = value.asOctets()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + raw.hex()
        return text if text.isprintable() or not text else "0x" + raw.hex()
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(arc) for arc in value.asTuple())
    if isinstance(value, univ.Integer):
        return int(value)
    return value.prettyPrint()


def error_reason(
    indication: Any,
    status: int,
    target: SnmpTarget,
    user: str | None,
    oids: Iterable[str] = (),
) -> str:
    """Why a request failed, phrased for someone who has to fix it.

    ``indication`` is pysnmp's errorIndication (an exception instance or
    None) and ``status`` the error-status of the response PDU.
    """
    kind = type(indication).__name__ if indication is not None else ""
    who = f"user {user}" if user else "the community"
    if kind == "RequestTimedOut":
        return (
            f"{NO_ANSWER} within {target.timeout:g} s: the agent is down, UDP "
            f"{target.port} is filtered, SNMPv3 is off, or the privacy key or "
            "protocol is wrong (an agent drops what it cannot decrypt)"
        )
    if kind == "WrongDigest":
        return (
            f"wrong digest: the agent knows {who} but the authentication key or "
            "protocol does not match"
        )
    if kind == "UnknownUserName":
        return f"unknown user: the agent has no SNMPv3 {who}"
    if kind == "EncryptionError":
        return (
            "SNMPv3 privacy is not available in this Python environment "
            "(pysnmp and cryptography versions: see pyproject.toml)"
        )
    if kind:
        return f"SNMP engine error: {indication}"
    if status == AUTHORIZATION_ERROR:
        return (
            f"authorization error: the agent authenticated {who} but lets it read "
            f"none of {', '.join(oids)} (no access entry or view for authPriv)"
        )
    return f"the agent answered error-status {status} for {', '.join(oids)}"


def is_silence(error: BaseException) -> bool:
    """True for a request that got no answer at all (as opposed to a refusal)."""
    return isinstance(error, CollectionError) and error.reason.startswith(NO_ANSWER)


class _Engine:
    """One pysnmp engine and its transport target, for one agent."""

    def __init__(self, engine: Any, transport: Any) -> None:
        self.engine = engine
        self.transport = transport

    def close(self) -> None:
        self.engine.close_dispatcher()


async def _open(target: SnmpTarget) -> _Engine:
    hlapi = _pysnmp()
    engine = hlapi.SnmpEngine()
    try:
        transport = await hlapi.UdpTransportTarget.create(
            (target.address, target.port), timeout=target.timeout, retries=0
        )
    except Exception as exc:  # pysnmp wraps resolver and socket errors
        engine.close_dispatcher()
        raise CollectionError(
            target.host, target.source, f"cannot open: {exc}"
        ) from None
    return _Engine(engine, transport)


async def _get(
    opened: _Engine,
    auth: Any,
    target: SnmpTarget,
    user: str | None,
    oids: tuple[str, ...],
) -> dict[str, SnmpValue]:
    hlapi = _pysnmp()
    request = [hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for oid in oids]
    indication, status, _index, var_binds = await hlapi.get_cmd(
        opened.engine,
        auth,
        opened.transport,
        hlapi.ContextData(),
        *request,
        lookupMib=False,
    )
    if indication is not None or int(status) != 0:
        reason = error_reason(indication, int(status), target, user, oids)
        log.debug("%s: %s: %s", target.host, target.source, reason)
        raise CollectionError(target.host, target.source, reason)
    return {
        oid: plain_value(value)
        for oid, (_name, value) in zip(oids, var_binds, strict=True)
    }


class SnmpSession:
    """SNMPv3 authPriv GETs to one agent; the engine opens on first use."""

    def __init__(self, target: SnmpTarget, credentials: UsmCredentials) -> None:
        self.target = target
        self.credentials = credentials
        self._opened: _Engine | None = None

    def _auth(self) -> Any:
        hlapi = _pysnmp()
        c = self.credentials
        return hlapi.UsmUserData(
            c.user,
            c.auth_key,
            c.priv_key,
            authProtocol=auth_protocol(c.auth_protocol),
            privProtocol=priv_protocol(c.priv_protocol),
        )

    async def get(self, *oids: str) -> dict[str, SnmpValue]:
        """GET ``oids`` in one request: OID -> value (None: no such object)."""
        if self._opened is None:
            self._opened = await _open(self.target)
            log.info(
                "SNMP session to %s (%s) as %s",
                self.target.host,
                self.target.source,
                self.credentials.describe(),
            )
        log.debug("RUN snmp get %s %s", self.target.source, " ".join(oids))
        return await _get(
            self._opened, self._auth(), self.target, self.credentials.user, oids
        )

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None
            log.info(
                "SNMP session to %s (%s) closed", self.target.host, self.target.source
            )


async def community_get(
    target: SnmpTarget, community: str, version: CommunityVersion, *oids: str
) -> dict[str, SnmpValue] | None:
    """GET over SNMPv1 or v2c; None when the agent stays silent.

    Silence is the expected answer from a v3-only agent, so a timeout here
    is a result, not an error. Other failures still raise.
    """
    hlapi = _pysnmp()
    oids = oids or (SYS_DESCR,)
    opened = await _open(target)
    try:
        log.debug("RUN snmp %s get %s %s", version, target.source, " ".join(oids))
        auth = hlapi.CommunityData(community, mpModel=0 if version == "v1" else 1)
        return await _get(opened, auth, target, None, oids)
    except CollectionError as exc:
        if is_silence(exc):
            return None
        raise
    finally:
        opened.close()


class SnmpPool:
    """One SNMP session per host for the run, and the loop they all run on.

    Not re-entrant: call it from synchronous code (a check, a fixture), not
    from inside a running event loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessions: dict[str, SnmpSession] = {}
        self._guard = threading.RLock()

    def __enter__(self) -> SnmpPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def session(self, host: Host) -> SnmpSession:
        with self._guard:
            if host.name not in self._sessions:
                self._sessions[host.name] = SnmpSession(
                    target_for(host), credentials_for(host)
                )
            return self._sessions[host.name]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine on the pool's loop and return its result."""
        with self._guard:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coroutine)

    def gather(self, *coroutines: Coroutine[Any, Any, Any]) -> list[Any]:
        """Run coroutines side by side; a failure is returned, not raised.

        Requests that may time out (a v3 GET and two community probes) then
        cost one timeout together instead of one each.
        """
        return self.run(_gather(coroutines))

    def get_many(self, host: Host, *oids: str) -> dict[str, SnmpValue]:
        return self.run(self.session(host).get(*oids))

    def get(self, host: Host, oid: str) -> SnmpValue:
        """One OID's value on ``host``; None when the agent has no such object."""
        return self.get_many(host, oid)[oid]

    def close(self) -> None:
        with self._guard:
            sessions, self._sessions = self._sessions, {}
            loop, self._loop = self._loop, None
        for session in sessions.values():
            try:
                session.close()
            except Exception as exc:  # a close failure must not hide results
                log.warning(
                    "closing SNMP session to %s failed: %s", session.target.host, exc
                )
        if loop is not None:
            # Let the dispatchers' cancelled timers finish before the loop goes.
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()


async def _gather(coroutines: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    return list(await asyncio.gather(*coroutines, return_exceptions=True))
