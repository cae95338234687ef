"""From a catalog entry and a host to a verdict: the step between data and checks.

This module decides which facts a rule needs, whether the organisation has
given the inputs it depends on, and which check judges it; before a run, it
says which connections and inputs a host's tests use. It raises
``CollectionError`` and ``CheckError`` unchanged; the pytest glue turns them
into error results.
"""

from __future__ import annotations

from typing import Any

from sphere_stig import catalog
from sphere_stig.checks import REGISTRY, Facts, Inputs
from sphere_stig.collectors.cache import FactCache
from sphere_stig.inventory import Host
from sphere_stig.outcome import Evidence, Verdict, not_reviewed
from sphere_stig.ports import PORT_NEEDS

NOT_IMPLEMENTED = "check not implemented yet"
# The connection block through which a fact source reaches a host: its
# credentials and CA bundle are what a check needing that source uses.
SOURCE_CONNECTIONS = {"windows": "winrm", "wmi": "winrm", "directory": "ldap"}


def inputs_for(host: Host) -> Inputs:
    """The host's organisation values over the catalog defaults."""
    values: dict[str, Any] = {
        name: spec.default
        for name, spec in catalog.load_inputs().items()
        if spec.default is not None
    }
    values.update(host.inputs)
    return Inputs(
        sphere_root=host.sphere_root, https_port=host.https_port, values=values
    )


def missing_inputs(rule: catalog.Rule, inputs: Inputs) -> list[str]:
    return [name for name in rule.inputs if inputs.get(name) in (None, "", [], {})]


def evaluate_rule(rule: catalog.Rule, host: Host, cache: FactCache) -> Verdict:
    check = REGISTRY.get(rule.check)
    if rule.manual and check is not None:
        # A manual rule with a check: the reviewer supplies an input (taken
        # from outside the host), the suite compares. Without the input it
        # stays the reviewer's.
        inputs = inputs_for(host)
        missing = missing_inputs(rule, inputs)
        if not missing:
            facts = Facts(
                host=host.name, **{s: cache.get(s, host) for s in check.needs}
            )
            return check.fn(facts, inputs)
        return not_reviewed(
            f"Manual check: {rule.procedure.strip()} (or set the input "
            f"{', '.join(missing)} in the inventory to let the suite compare)",
            Evidence(
                item="reviewer answer",
                observed="none recorded",
                expected=(rule.record or "the reviewer's result").strip(),
                source="manual procedure",
            ),
        )
    if rule.manual:
        return not_reviewed(
            f"Manual check: {rule.procedure.strip()}",
            Evidence(
                item="reviewer answer",
                observed="none recorded",
                expected=(rule.record or "the reviewer's result").strip(),
                source="manual procedure",
            ),
        )
    if check is None:
        return not_reviewed(
            f"{NOT_IMPLEMENTED} ({rule.check}); verify by hand: {rule.procedure.strip()}"
        )
    inputs = inputs_for(host)
    missing = missing_inputs(rule, inputs)
    if missing:
        return not_reviewed(
            "organisation input not set: "
            + ", ".join(missing)
            + "; add it under site.inputs (or the host's inputs) in the inventory",
            *(
                Evidence(
                    item=f"input {name}",
                    observed="not set",
                    expected=catalog.load_inputs()[name].description.strip(),
                    source=f"inventory {host.name}",
                )
                for name in missing
            ),
        )
    facts = Facts(
        host=host.name, **{source: cache.get(source, host) for source in check.needs}
    )
    return check.fn(facts, inputs)


def evaluate_requirement(
    req: catalog.Requirement, host: Host, cache: FactCache
) -> Verdict:
    """A requirement of the STIG overview (authentication, certificates, agents)."""
    covered = f" (covered by {', '.join(req.covered_by)})" if req.covered_by else ""
    statement = " ".join(req.statement.split())
    if req.check == catalog.MANUAL:
        notes = f" {' '.join(req.notes.split())}" if req.notes else ""
        return not_reviewed(f"Manual requirement{covered}: {statement}{notes}")
    check = REGISTRY.get(req.check)
    if check is None:
        return not_reviewed(f"{NOT_IMPLEMENTED} ({req.check}): {statement}")
    inputs = inputs_for(host)
    missing = [name for name in req.inputs if inputs.get(name) in (None, "", [], {})]
    if missing:
        when = (
            f" It applies when: {' '.join(req.applies_when.split())}"
            if req.applies_when
            else ""
        )
        return not_reviewed(
            f"organisation input not set: {', '.join(missing)}; add it under site.inputs "
            f"(or the host's inputs) in the inventory.{when}"
        )
    facts = Facts(
        host=host.name, **{source: cache.get(source, host) for source in check.needs}
    )
    return check.fn(facts, inputs)


def _rules_and_requirements() -> list[catalog.Rule | catalog.Requirement]:
    return [*catalog.load_rules(), *catalog.load_requirements()]


def _port_connections(row: catalog.PortRow) -> set[str]:
    """The connection blocks whose credentials a port row's check uses."""
    used = {
        SOURCE_CONNECTIONS[source]
        for source in PORT_NEEDS.get(row.check, ())
        if source in SOURCE_CONNECTIONS
    }
    if row.check == "tds_port":
        # The probe logs in when the host has a password.
        used.add("sql")
    if row.check == "udp_service" and "SNMP" in row.protocols.upper():
        used.add("snmp")
    return used


def connections_used(host: Host) -> set[str]:
    """The connection blocks (winrm, ldap, ...) the tests of ``host`` reach it by.

    Read from the catalog entries that apply to the host's roles, so a run
    on a domain controller does not need the WinRM password of the Sphere
    servers.
    """
    sources = {
        source
        for entry in _rules_and_requirements()
        if entry.check in REGISTRY and host.has_role(*entry.roles)
        for source in REGISTRY[entry.check].needs
    }
    used = {SOURCE_CONNECTIONS[s] for s in sources if s in SOURCE_CONNECTIONS}
    for row in catalog.load_ports():
        if host.has_role(*row.target_roles):
            used |= _port_connections(row)
    return used


def inputs_used(host: Host) -> set[str]:
    """The organisation inputs read by the entries that apply to ``host``."""
    used = {
        name
        for entry in _rules_and_requirements()
        if host.has_role(*entry.roles)
        for name in entry.inputs
    }
    for row in catalog.load_ports():
        if host.has_role(*row.target_roles):
            used.update(row.inputs)
    return used
