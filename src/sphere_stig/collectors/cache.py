"""Facts per host, gathered once per run and shared by every test of that host.

A host's Windows facts come from one WinRM command and its TLS facts from one
sslyze scan, however many rules read them. A failure is cached too: the
tests of an unreachable host all end as errors with the same reason, without
paying the connect timeout again for each of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from sphere_stig.facts import TlsScan, WindowsFacts
from sphere_stig.inventory import Host
from sphere_stig.outcome import CollectionError
from sphere_stig.transports.http import HttpPage

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Memo(Generic[T]):
    """Per-host memo of a value or of the error that prevented it."""

    def __init__(self, produce: Callable[[Host], T]) -> None:
        self._produce = produce
        self._values: dict[str, T | CollectionError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, host: Host) -> T:
        with self._guard:
            lock = self._locks.setdefault(host.name, threading.Lock())
        with lock:
            if host.name not in self._values:
                try:
                    self._values[host.name] = self._produce(host)
                except CollectionError as exc:
                    self._values[host.name] = exc
            value = self._values[host.name]
        if isinstance(value, CollectionError):
            raise value
        return value


class WinRMPool:
    """One WinRM session per host, opened on first use, closed at the end."""

    def __init__(self) -> None:
        self._sessions: dict[str, object] = {}
        self._guard = threading.Lock()

    def session(self, host: Host):
        from sphere_stig.transports.winrm import WinRMSession

        with self._guard:
            if host.name not in self._sessions:
                settings = host.connections.winrm
                password = (
                    settings.password.resolve(
                        host.name, host.origin("connections.winrm.password").key
                    )
                    if settings.password
                    else None
                )
                self._sessions[host.name] = WinRMSession(
                    host.name, host.address, settings, password
                )
            return self._sessions[host.name]

    def close(self) -> None:
        with self._guard:
            sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            try:
                session.close()  # type: ignore[attr-defined]
            except Exception as exc:  # a close failure must not hide results
                log.warning("closing WinRM session failed: %s", exc)


Gatherer = Callable[["FactCache", Host], Any]

# Fact sources beyond WinRM, TLS and HTTP (the directory over LDAP, WMI
# security of monitored hosts, ...) register their gatherer here; a check
# names the source in its ``needs``.
GATHERERS: dict[str, Gatherer] = {}


def fact_source(name: str) -> Callable[[Gatherer], Gatherer]:
    def wrap(fn: Gatherer) -> Gatherer:
        if name in GATHERERS or name in ("windows", "tls", "http"):
            raise ValueError(f"fact source {name} registered twice")
        GATHERERS[name] = fn
        return fn

    return wrap


def trap_ports() -> tuple[int, ...]:
    """The UDP ports of the port table's SNMP trap rows, for host_facts.ps1."""
    from sphere_stig import catalog

    ports = {
        p for row in catalog.load_ports() if row.check == "snmp_trap" for p in row.ports
    }
    return tuple(sorted(ports))


class FactCache:
    """The facts of every host, keyed by source, gathered lazily."""

    def __init__(
        self,
        winrm: WinRMPool,
        scan_tls: Callable[..., TlsScan] | None = None,
        collect_windows: Callable[..., WindowsFacts] | None = None,
        **pools: Any,
    ) -> None:
        self.winrm = winrm
        # Session pools of the other transports (ldap, sql, snmp), by name.
        self.pools = pools
        self._scan_tls = scan_tls
        self._collect_windows = collect_windows
        self._windows = _Memo(self._gather_windows)
        self._tls = _Memo(self._gather_tls)
        self._http = _Memo(self._gather_http)
        self._extra: dict[str, _Memo] = {}
        self._guard = threading.Lock()

    def get(self, source: str, host: Host) -> Any:
        """The facts of ``source`` for ``host``, gathered on first use."""
        if source in ("windows", "tls", "http"):
            return getattr(self, source)(host)
        with self._guard:
            memo = self._extra.get(source)
            if memo is None:
                gather = GATHERERS[source]
                memo = self._extra[source] = _Memo(lambda h: gather(self, h))
        return memo.get(host)

    def windows(self, host: Host) -> WindowsFacts:
        return self._windows.get(host)

    def tls(self, host: Host) -> TlsScan:
        return self._tls.get(host)

    def http(self, host: Host) -> HttpPage:
        return self._http.get(host)

    def _gather_http(self, host: Host) -> HttpPage:
        from sphere_stig.transports.http import fetch

        name = host.connections.tls.server_name or host.fqdn
        path = str(host.inputs.get("console_login_path") or "/")
        port = "" if host.https_port == 443 else f":{host.https_port}"
        return fetch(
            host.name,
            f"https://{name}{port}{path}",
            name,
            host.address,
            host.connections.tls.connect_timeout,
        )

    def _gather_windows(self, host: Host) -> WindowsFacts:
        from sphere_stig.collectors.windows import collect_windows_facts

        collect = self._collect_windows or collect_windows_facts
        shutdown_port = int(host.inputs.get("shutdown_port_probe", 8005))
        return collect(
            self.winrm.session(host),
            host.name,
            host.sphere_root,
            shutdown_port=shutdown_port,
            trap_ports=trap_ports(),
        )

    def _gather_tls(self, host: Host) -> TlsScan:
        from sphere_stig.transports import tls

        scan = self._scan_tls or tls.scan
        anchors = host.inputs.get("dod_trust_anchors")
        settings = host.connections.tls
        return scan(
            host.name,
            host.address,
            host.https_port,
            settings.server_name or host.fqdn,
            Path(anchors) if anchors else None,
            timeout=settings.connect_timeout,
        )
