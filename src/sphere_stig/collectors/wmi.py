"""WMI access of a monitored Windows host, gathered by one PowerShell script.

A remote Sphere agent reads a monitored host over WMI with a service account
(input ``wmi_agent_account``). ``scripts/wmi_facts.ps1`` reports what that
account needs there: the members of the local groups Distributed COM Users
and Performance Monitor Users, and the security descriptors (SDDL) of
root/cimv2 and of the namespaces below it. This module sends the script
once per host over the host's WinRM session and returns :class:`WmiFacts`;
the SDDL stays text for the checks (parsers.sddl).

Document, schema 1::

    {"schema": 1, "computer_name": "WIN01",
     "account": {"name": "LAB\\\\svc", "sid": "S-1-5-21-...", "error": null},
     "local_groups": {"Distributed COM Users":
         {"sid": "S-1-5-32-562", "members": [{"name": "LAB\\\\svc",
          "sid": "S-1-5-21-..."}], "error": null}, "...": {}},
     "namespaces": [{"path": "root/cimv2", "sddl": "O:BAG:BAD:...",
                     "error": null}, ...],
     "sid_names": {"S-1-5-21-...": "LAB\\\\svc"},
     "warnings": []}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sphere_stig.collectors.cache import FactCache, fact_source
from sphere_stig.collectors.powershell import (
    Malformed,
    PsRunner,
    compose_script,
    need,
    ps_single_quoted,
    run_collector,
    strings,
)
from sphere_stig.inventory import Host

log = logging.getLogger(__name__)

SCHEMA = 1
SCRIPT = "wmi_facts.ps1"
HEADER = "# sphere-stig collector: wmi_facts schema 1"
SOURCE = "wmi_facts.ps1"

DCOM_USERS = "Distributed COM Users"
PERFORMANCE_MONITOR_USERS = "Performance Monitor Users"
# The groups by their well-known SIDs (names differ by Windows language).
GROUP_SIDS = {DCOM_USERS: "S-1-5-32-562", PERFORMANCE_MONITOR_USERS: "S-1-5-32-558"}
CIMV2 = "root/cimv2"


@dataclass(frozen=True)
class Principal:
    """An account as the host reports it; the SID is None when unresolved."""

    name: str
    sid: str | None = None


@dataclass(frozen=True)
class LocalGroup:
    sid: str
    members: tuple[Principal, ...]
    # Why the members could not be listed; the members are then unknown.
    error: str | None = None


@dataclass(frozen=True)
class NamespaceSecurity:
    path: str  # "root/cimv2", "root/cimv2/Security", ...
    sddl: str | None
    error: str | None = None


@dataclass(frozen=True)
class WmiFacts:
    host: str
    computer_name: str
    # The inventory's wmi_agent_account as the host resolved it; sid is
    # None when it could not be translated (``account_error`` says why).
    account: Principal | None
    account_error: str | None
    groups: dict[str, LocalGroup]
    # root/cimv2 first, then the namespaces below it, breadth first.
    namespaces: tuple[NamespaceSecurity, ...]
    # SIDs that appear in the descriptors, with the name each resolved to.
    sid_names: dict[str, str | None] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def cimv2(self) -> NamespaceSecurity | None:
        return next((n for n in self.namespaces if _is_cimv2(n.path)), None)

    @property
    def subnamespaces(self) -> tuple[NamespaceSecurity, ...]:
        return tuple(n for n in self.namespaces if not _is_cimv2(n.path))


def _is_cimv2(path: str) -> bool:
    return path.replace("\\", "/").casefold() == CIMV2


def build_script(account: str) -> str:
    """The script as sent: header, ``$AgentAccount``, the body without comments."""
    return compose_script(
        HEADER, [f"$AgentAccount = {ps_single_quoted(account)}"], SCRIPT
    )


def collect_wmi_facts(session: PsRunner, host_name: str, account: str) -> WmiFacts:
    """Run wmi_facts.ps1 once on the host and return its typed facts."""
    return run_collector(session, build_script(account), host_name, SOURCE, _facts)


@fact_source("wmi")
def gather_wmi(cache: FactCache, host: Host) -> WmiFacts:
    account = str(host.inputs.get("wmi_agent_account") or "")
    return collect_wmi_facts(cache.winrm.session(host), host.name, account)


# -- reading the output -------------------------------------------------------


def _facts(doc: dict[str, Any], host: str) -> WmiFacts:
    schema = need(doc, "schema", int, "")
    if schema != SCHEMA:
        raise Malformed(f"schema {schema}, this suite reads schema {SCHEMA}")
    account = need(doc, "account", dict, "")
    name = need(account, "name", str, "account.")
    groups = need(doc, "local_groups", dict, "")
    names = need(doc, "sid_names", dict, "")
    return WmiFacts(
        host=host,
        computer_name=need(doc, "computer_name", str, ""),
        account=Principal(name, need(account, "sid", (str, type(None)), "account."))
        if name
        else None,
        account_error=need(account, "error", (str, type(None)), "account."),
        groups={
            label: _group(need(groups, label, dict, "local_groups."), label)
            for label in GROUP_SIDS
        },
        namespaces=tuple(
            _namespace(item, index)
            for index, item in enumerate(_list(doc, "namespaces", ""))
        ),
        sid_names={
            str(sid): need(names, sid, (str, type(None)), "sid_names.") for sid in names
        },
        warnings=strings(doc.get("warnings") or [], "warnings"),
    )


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    # Windows PowerShell can unwrap a one-element list into its element.
    value = need(data, key, (list, dict, type(None)), where)
    if value is None:
        return []
    return [value] if isinstance(value, dict) else value


def _group(entry: dict[str, Any], label: str) -> LocalGroup:
    where = f"local_groups.{label}."
    members = []
    for index, item in enumerate(_list(entry, "members", where)):
        if not isinstance(item, dict):
            raise Malformed(f"'{where}members[{index}]' should be an object")
        at = f"{where}members[{index}]."
        members.append(
            Principal(
                need(item, "name", str, at), need(item, "sid", (str, type(None)), at)
            )
        )
    return LocalGroup(
        sid=need(entry, "sid", str, where),
        members=tuple(members),
        error=need(entry, "error", (str, type(None)), where),
    )


def _namespace(item: Any, index: int) -> NamespaceSecurity:
    where = f"namespaces[{index}]."
    if not isinstance(item, dict):
        raise Malformed(f"'{where[:-1]}' should be an object")
    sddl = need(item, "sddl", (str, type(None)), where)
    error = need(item, "error", (str, type(None)), where)
    if sddl is None and error is None:
        raise Malformed(f"'{where[:-1]}' carries neither sddl nor error")
    return NamespaceSecurity(need(item, "path", str, where), sddl, error)
