"""lab/win_hosts.py: the monitored Windows server win01 (needs ``lab/up``).

These tests probe the running lab and fail, rather than skip, when win01 is
not up: a lab without it would let the AGENT requirements and the Windows
port rows quietly disappear from a run.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys

import pytest

from lab.hosts import IMAGES_DIR, RUN_DIR
from lab.win_hosts import HTTPS_PORT, WIN_HOSTS, double
from sphere_stig import catalog
from sphere_stig.collectors.cache import WinRMPool
from sphere_stig.collectors.wmi import collect_wmi_facts
from sphere_stig.inventory import load
from tests.integration.labrun import REPO

(WIN01,) = WIN_HOSTS
LAYOUT = double(WIN01, RUN_DIR)
ADDRESS = WIN01.lab.address


@pytest.fixture(scope="module", autouse=True)
def require_win01():
    try:
        socket.create_connection((ADDRESS, HTTPS_PORT), timeout=2).close()
    except OSError as exc:
        pytest.fail(
            f"win01 is not running ({ADDRESS}:{HTTPS_PORT}: {exc}): start the lab "
            "with lab/up",
            pytrace=False,
        )


def test_the_double_is_recorded_for_lab_down():
    pid = LAYOUT.running_pid()

    assert pid is not None, f"{LAYOUT.pid_file} does not name the running double"
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        command = handle.read().replace(b"\0", b" ").decode()
    # lab/down only stops processes whose command line names lab/.run/.
    assert "lab/.run/" in command
    assert f"--image {IMAGES_DIR / 'win01'} " in command
    assert "--tcp-listen 135,445" in command


def test_winrm_certificate_is_issued_by_the_lab_ca_for_win01():
    context = ssl.create_default_context(cafile=str(RUN_DIR / "pki" / "ca.pem"))

    for name in ("win01.lab.example", ADDRESS):
        with socket.create_connection((ADDRESS, HTTPS_PORT), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=name) as tls:
                subject = dict(x[0] for x in tls.getpeercert()["subject"])
        assert subject["commonName"] == "win01.lab.example"


@pytest.mark.parametrize("port", [135, 445])
def test_the_agent_ports_accept_tcp(port):
    with socket.create_connection((ADDRESS, port), timeout=2) as connection:
        connection.settimeout(2)
        assert connection.recv(1) == b""


def test_the_inventory_reaches_win01_and_reads_its_drift():
    # Given the lab inventory's win01 and its WinRM defaults
    inventory = load("lab", REPO / "inventories", catalog.ROLES)
    win01 = inventory.host("win01")
    pool = WinRMPool()
    try:
        # When the WMI collector runs over that session
        facts = collect_wmi_facts(
            pool.session(win01), "win01", win01.inputs["wmi_agent_account"]
        )
    finally:
        pool.close()

    # Then the image's groups and namespaces come back
    account = facts.account
    assert account is not None and account.sid is not None
    dcom = facts.groups["Distributed COM Users"].members
    perfmon = facts.groups["Performance Monitor Users"].members
    assert account.sid in {m.sid for m in dcom}
    assert account.sid not in {m.sid for m in perfmon}
    assert facts.cimv2 is not None and account.sid in facts.cimv2.sddl
    assert "root/cimv2/Security/MicrosoftTpm" in {n.path for n in facts.namespaces}


def test_up_again_leaves_the_running_double_alone():
    before = LAYOUT.running_pid()

    result = subprocess.run(
        [sys.executable, "-m", "lab.win_hosts", "up", "--run-dir", str(RUN_DIR)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"winrm win01: already running (pid {before})" in result.stdout
