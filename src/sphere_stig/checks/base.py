"""The check registry and the inputs every check receives.

A check is a pure function ``(facts, inputs) -> Verdict``. It is registered
under the name the rule catalog uses in its ``check`` field, together with
the fact sources it needs, so that the pytest glue gathers only those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sphere_stig.facts import TlsScan, WindowsFacts
from sphere_stig.outcome import Verdict
from sphere_stig.transports.http import HttpPage

FACT_SOURCES = frozenset({"windows", "tls", "http", "directory", "wmi"})


@dataclass(frozen=True)
class Facts:
    """The facts gathered for one host; only the ``needs`` of a check are set."""

    host: str
    windows: WindowsFacts | None = None
    tls: TlsScan | None = None
    # The console's logon page (``console_login_path`` input).
    http: HttpPage | None = None
    # Active Directory facts read over LDAP (collectors.directory).
    directory: Any = None
    # WMI group and namespace security of a monitored Windows host.
    wmi: Any = None


@dataclass(frozen=True)
class Inputs:
    """Site and host parameters from the inventory, merged (host wins)."""

    sphere_root: str = r"C:\Program Files\ISEC7 SPHERE"
    https_port: int = 443
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """An organisation-defined value, or None when the site has not set it."""
        return self.values.get(name)


CheckFn = Callable[[Facts, Inputs], Verdict]


@dataclass(frozen=True)
class Check:
    name: str
    needs: tuple[str, ...]
    fn: CheckFn


REGISTRY: dict[str, Check] = {}


def register(name: str, needs: tuple[str, ...] = ()) -> Callable[[CheckFn], CheckFn]:
    unknown = set(needs) - FACT_SOURCES
    if unknown:
        raise ValueError(f"check {name}: unknown fact sources {sorted(unknown)}")

    def wrap(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise ValueError(f"check {name} registered twice")
        REGISTRY[name] = Check(name, tuple(needs), fn)
        return fn

    return wrap
