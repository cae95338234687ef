"""The SNMP trap row (LST-17), judged from the host's UDP endpoints."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sphere_stig import catalog
from sphere_stig.collectors.cache import trap_ports
from sphere_stig.facts import Listener
from sphere_stig.outcome import CheckError, CollectionError, Status
from sphere_stig.ports import PORT_NEEDS, evaluate_port
from tests.checks.check_facts import windows_facts
from tests.portchecks.hosts import one_host

ROW = next(r for r in catalog.load_ports() if r.id == "LST-17")


class Facts:
    """The one method of FactCache the check calls."""

    def __init__(self, windows=None, error=None):
        self._windows = windows
        self._error = error
        self.asked = []

    def windows(self, host):
        self.asked.append(host.name)
        if self._error:
            raise self._error
        return self._windows


@pytest.fixture
def host(tmp_path):
    return one_host(tmp_path, "sphere9", "127.0.0.49", "sphere_server")


def facts_with(*udp: Listener, warnings=()):
    return Facts(replace(windows_facts(None), udp_listeners=udp, warnings=warnings))


def test_the_catalog_trap_row_is_the_one_the_collector_asks_about():
    assert ROW.check == "snmp_trap" and ROW.transport == "udp"
    assert trap_ports() == (1620,)
    assert PORT_NEEDS["snmp_trap"] == ("windows",)


def test_a_socket_on_the_trap_port_passes_naming_the_process(host):
    facts = facts_with(Listener("0.0.0.0", 1620, "tomcat9"))

    verdict = evaluate_port(ROW, host, facts)

    assert verdict.status is Status.PASS
    assert facts.asked == ["sphere9"]
    port, path = verdict.evidence
    assert port.ok is True
    assert port.observed == "bound by tomcat9 on 0.0.0.0"
    assert port.expected == "a socket bound to UDP 1620 (the Monitor's trap receiver)"
    assert port.source.startswith("sphere9: UDP endpoints (Get-NetUDPEndpoint")
    # The firewall between the sender and the Monitor is not claimed.
    assert path.ok is None
    assert "not examined" in path.observed


def test_nothing_on_the_trap_port_fails_even_if_other_ports_are_bound(host):
    facts = facts_with(Listener("0.0.0.0", 162, "snmptrap"))

    verdict = evaluate_port(ROW, host, facts)

    assert verdict.status is Status.FAIL
    assert verdict.summary == "nothing on sphere9 receives SNMP (Trap) on 1620 (UDP)"
    assert verdict.evidence[0].observed == "nothing bound to UDP 1620"
    assert verdict.evidence[0].ok is False


def test_endpoints_that_could_not_be_listed_are_an_error_not_a_finding(host):
    facts = facts_with(warnings=("udp_listeners: Access is denied",))

    with pytest.raises(CheckError, match="Access is denied") as caught:
        evaluate_port(ROW, host, facts)

    assert "could not be listed" in str(caught.value)


def test_an_unreachable_host_raises_its_collection_error(host):
    error = CollectionError("sphere9", "WinRM", "connection refused")

    with pytest.raises(CollectionError, match="connection refused"):
        evaluate_port(ROW, host, Facts(error=error))


def test_the_row_is_not_judged_without_the_run_facts(host):
    with pytest.raises(TypeError, match="FactCache"):
        evaluate_port(ROW, host)
