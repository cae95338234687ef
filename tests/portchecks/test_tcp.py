"""Runner-side TCP probes: silence is not a finding, and a port is probed once."""

from __future__ import annotations

import socket

import pytest

from sphere_stig import catalog
from sphere_stig.collectors import netprobe
from sphere_stig.collectors.netprobe import PortProbe, forget_probes, probe_tcp
from sphere_stig.outcome import CollectionError, Status
from sphere_stig.ports import judge_ports
from tests.portchecks.hosts import one_host

HTTPS = next(r for r in catalog.load_ports() if r.id == "LST-01")
ADDRESS = "127.0.0.47"


@pytest.fixture
def host(tmp_path):
    return one_host(tmp_path, "sphere7", ADDRESS, "sphere_server")


def probe(port, state, detail=""):
    return PortProbe(ADDRESS, port, state, detail)


def test_a_host_that_answers_nothing_is_an_error_not_an_open_finding(host):
    silent = [probe(443, "timeout", "no answer within 10 s")]

    with pytest.raises(CollectionError) as caught:
        judge_ports(HTTPS, host, silent, "completing a TLS handshake")

    message = str(caught.value)
    assert message.startswith(f"sphere7: probe from the suite runner to {ADDRESS}:")
    assert "no answer on 443 (443: no answer within 10 s)" in message
    assert "the host is down or the traffic is filtered" in message


def test_a_refusal_proves_the_host_is_up_and_the_port_closed(host):
    probes = [probe(443, "refused", "connection refused")]

    verdict = judge_ports(HTTPS, host, probes, "completing a TLS handshake")

    assert verdict.status is Status.FAIL
    assert verdict.evidence[0].observed == "refused: connection refused"


@pytest.fixture
def fresh_probes():
    forget_probes()
    yield
    forget_probes()


def test_each_port_is_probed_once_per_session(fresh_probes, monkeypatch):
    calls = []
    real = netprobe._probe

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(netprobe, "_probe", counting)
    with socket.socket() as server:
        server.bind((ADDRESS, 0))
        server.listen(4)
        port = server.getsockname()[1]
        first = probe_tcp(ADDRESS, port, 2)
    # The listener is gone, but the session already has its observation.
    again = probe_tcp(ADDRESS, port, 2)
    with_tls = probe_tcp(ADDRESS, port, 2, "sphere7.lab.example")

    assert first.open and again is first
    assert with_tls.state == "refused"
    assert len(calls) == 2

    forget_probes()
    assert probe_tcp(ADDRESS, port, 2).state == "refused"
    assert len(calls) == 3
