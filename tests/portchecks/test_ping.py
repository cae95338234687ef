"""The ping rows: one ICMP echo from the runner, evidence stable across runs."""

from __future__ import annotations

import subprocess

import pytest

from sphere_stig import catalog
from sphere_stig.outcome import Status
from sphere_stig.portchecks import ping
from tests.portchecks.hosts import one_host

ROW = next(r for r in catalog.load_ports() if r.check == "icmp_tcp_any")
REPLY = """PING 127.0.0.9 (127.0.0.9) 56(84) bytes of data.
64 bytes from 127.0.0.9: icmp_seq=1 ttl=64 time={rtt} ms

--- 127.0.0.9 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = {rtt}/{rtt}/{rtt}/0.000 ms
"""
SILENCE = """PING 127.0.0.9 (127.0.0.9) 56(84) bytes of data.

--- 127.0.0.9 ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms
"""


@pytest.fixture
def host(tmp_path):
    return one_host(tmp_path, "mon9", "127.0.0.9", "windows_server")


def answer(monkeypatch, stdout, returncode):
    def run(args, **kwargs):
        return subprocess.CompletedProcess(args, returncode, stdout, "")

    monkeypatch.setattr(ping.shutil, "which", lambda name: "/usr/bin/ping")
    monkeypatch.setattr(ping.subprocess, "run", run)


def test_a_reply_passes_with_the_packet_counts_but_no_round_trip_time(
    monkeypatch, host
):
    seen = []
    for rtt in ("0.262", "0.071"):
        answer(monkeypatch, REPLY.format(rtt=rtt), 0)
        seen.append(ping.icmp_tcp_any(ROW, host))

    assert [v.status for v in seen] == [Status.PASS, Status.PASS]
    observed = {v.evidence[0].observed for v in seen}
    assert observed == {"reply (1 packets transmitted, 1 received, 0% packet loss)"}


def test_no_reply_fails_and_names_the_tcp_alternative(monkeypatch, host):
    answer(monkeypatch, SILENCE, 1)

    verdict = ping.icmp_tcp_any(ROW, host)

    assert verdict.status is Status.FAIL
    assert "legend 6" in verdict.summary
    assert verdict.evidence[0].observed == (
        "no reply (1 packets transmitted, 0 received, 100% packet loss)"
    )


def test_no_ping_command_leaves_the_row_to_the_reviewer(monkeypatch, host):
    monkeypatch.setattr(ping.shutil, "which", lambda name: None)

    verdict = ping.icmp_tcp_any(ROW, host)

    assert verdict.status is Status.NOT_REVIEWED
    assert "apt-get install iputils-ping" in verdict.summary
