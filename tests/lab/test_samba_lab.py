"""The lab's Samba DC (lab/samba.py) as the directory checks meet it.

These need the running lab and fail, rather than skip, when dc1 is down:
the directory checks have no other real server to be tested against. Start
it with lab/up (or `python -m lab.samba up --run-dir lab/.run`).
"""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import ldap3
import pytest
from cryptography import x509

from lab import pki as lab_pki
from lab import samba
from lab.catalina import running_pid
from lab.hosts import HOSTS, RUN_DIR
from sphere_stig import catalog, inventory
from sphere_stig.collectors.cache import FactCache, WinRMPool
from sphere_stig.collectors.directory import read_directory
from sphere_stig.evaluate import evaluate_requirement
from sphere_stig.outcome import Status
from sphere_stig.ports import evaluate_port
from sphere_stig.transports.ldap import LdapPool

REPO = Path(__file__).resolve().parents[2]
LAYOUT = samba.Layout(RUN_DIR)
DC = samba.DC


def _ldaps_answers() -> bool:
    try:
        with socket.create_connection((DC.address, 636), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def running_dc():
    if running_pid(LAYOUT.pid_file, LAYOUT.marker) is None or not _ldaps_answers():
        pytest.fail(
            f"the lab DC {DC.name} is not running on {DC.address} (no live pid in "
            f"{LAYOUT.pid_file} or no LDAPS answer): start the lab with lab/up",
            pytrace=False,
        )


live = pytest.mark.usefixtures("running_dc")


@pytest.fixture(scope="module")
def lab_inventory():
    return inventory.load("lab", REPO / "inventories", catalog.load_roles())


@pytest.fixture(scope="module")
def audit_session(lab_inventory):
    pool = LdapPool()
    yield pool.session(lab_inventory.host("dc1"))
    pool.close()


# -- the service ----------------------------------------------------------------


@live
def test_lab_down_can_recognise_the_recorded_process():
    pid = running_pid(LAYOUT.pid_file, LAYOUT.marker)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")

    # lab/down stops only processes whose command line points into lab/.run/.
    assert b"lab/.run/" in cmdline
    assert b"-M single" in cmdline


@live
def test_samba_listens_on_its_own_address_only():
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 636), timeout=1).close()


@live
def test_ldaps_presents_the_lab_ca_certificate_for_dc1():
    context = ssl.create_default_context(cafile=str(LAYOUT.ca_pem))
    with socket.create_connection((DC.address, 636), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=DC.fqdn) as tls:
            leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert DC.fqdn in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [DC.address]


@live
def test_a_simple_bind_in_clear_text_is_refused():
    password = LAYOUT.audit_password.read_text().strip()
    server = ldap3.Server(DC.address, 389, get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(server, "svc-stig-scan@lab.example", password)

    assert not conn.bind()
    assert conn.result["description"] == "strongerAuthRequired"


@live
def test_the_secrets_are_private():
    for secret in (LAYOUT.admin_password, LAYOUT.audit_password, LAYOUT.agent_password):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(LAYOUT.tls_key.stat().st_mode) == 0o600


@live
def test_up_again_changes_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "lab.samba", "up", "--run-dir", str(RUN_DIR)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "already running" in result.stdout
    assert "created" not in result.stdout and "granted" not in result.stdout


# -- the directory the checks read ------------------------------------------------


@live
def test_the_audit_account_reads_what_agent_04_to_06_need(audit_session):
    facts = read_directory(
        audit_session,
        "dc1",
        base_dn=None,
        account="LAB\\svc-sphere-eas",
        ous=(samba.HQ_USERS, samba.FIELD_USERS),
    )

    assert facts.base_dn == samba.BASE_DN
    assert facts.netbios_domain == "LAB"
    assert facts.group_dn == f"CN={samba.AGENT_GROUP},{samba.GROUP_OU}"
    assert facts.group_sid.startswith("S-1-5-21-")
    assert [m.name for m in facts.members] == ["svc-sphere-eas"]
    assert facts.account_dn == f"CN=svc-sphere-eas,CN=Users,{samba.BASE_DN}"
    hq, field = facts.ous
    assert [(a.allow, a.mask, a.flags) for a in hq.aces] == [(True, 0x20094, 0x02)]
    assert [(a.allow, a.mask, a.flags) for a in field.aces] == [(True, 0x20094, 0)]


@live
def test_the_hq_grant_reaches_the_user_below_and_the_field_grant_does_not(
    audit_session,
):
    facts = read_directory(
        audit_session,
        "dc1",
        base_dn=samba.BASE_DN,
        account=None,
        ous=(f"CN=hq.user,{samba.HQ_USERS}", f"CN=field.user,{samba.FIELD_USERS}"),
    )

    hq_user, field_user = facts.ous
    # INHERITED_ACE | CONTAINER_INHERIT_ACE, copied down by the DC.
    assert [(a.mask, a.flags) for a in hq_user.aces] == [(0x20094, 0x12)]
    assert field_user.aces == ()


@live
def test_the_lab_verdicts_on_dc1(lab_inventory):
    host = lab_inventory.host("dc1")
    pool = LdapPool()
    cache = FactCache(WinRMPool(), ldap=pool)
    requirements = {r.id: r for r in catalog.load_requirements()}
    ports = {r.id: r for r in catalog.load_ports()}

    verdicts = {
        rid: evaluate_requirement(requirements[rid], host, cache).status
        for rid in ("AGENT-04", "AGENT-05", "AGENT-06")
    }
    verdicts.update(
        {rid: evaluate_port(ports[rid], host).status for rid in ("LST-04", "LST-05")}
    )
    pool.close()

    assert verdicts == {
        "AGENT-04": Status.PASS,
        "AGENT-05": Status.PASS,
        "AGENT-06": Status.FAIL,
        "LST-04": Status.PASS,
        "LST-05": Status.PASS,
    }


# -- pieces that need no running DC ---------------------------------------------


def test_generated_passwords_meet_samba_complexity(tmp_path):
    password = samba.ensure_password(tmp_path / "secret")

    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
    assert samba.ensure_password(tmp_path / "secret") == password
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_the_dc_binds_its_address_through_the_prefix_trick(tmp_path):
    options = samba._options(samba.Layout(tmp_path))

    assert f"--option=interfaces = {DC.address}/8" in options
    assert "--option=bind interfaces only = yes" in options
    assert "--option=dns forwarder = 127.0.0.1" in options
    assert all(str(tmp_path) in o for o in options if "directory" in o or "file =" in o)


def test_the_ldaps_certificate_is_issued_once_and_again_for_a_new_ca(tmp_path):
    layout = samba.Layout(tmp_path)
    lab_pki.create(tmp_path / "pki", tmp_path / "secrets", HOSTS[:1])

    assert samba.ensure_certificate(layout) is True
    first = layout.tls_cert.read_bytes()
    assert samba.ensure_certificate(layout) is False
    assert stat.S_IMODE(layout.tls_key.stat().st_mode) == 0o600
    # leaf, then the intermediate that signed it
    assert len(x509.load_pem_x509_certificates(first)) == 2

    lab_pki.create(tmp_path / "pki", tmp_path / "secrets", HOSTS[:1])

    assert samba.ensure_certificate(layout) is True
    assert layout.tls_cert.read_bytes() != first
