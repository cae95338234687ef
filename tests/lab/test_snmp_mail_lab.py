"""The lab's SNMP agent (snmp1) and SMTP gateway (mail1).

The rendering tests need nothing running. The live tests need ``lab/up``
and fail, naming the service, when it is not running: they check what the
suite's probes rely on (v3 only, TLS 1.2+, the lab CA's certificate, mail
that never leaves) and that the state on disk is private.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lab import mail, snmp
from lab.hosts import RUN_DIR
from sphere_stig.transports import snmp as transport

REPO = RUN_DIR.parents[1]
SNMP = snmp.Layout(RUN_DIR.resolve())
MAIL = mail.Layout(RUN_DIR.resolve())
CA = RUN_DIR / "pki" / "ca.pem"


def require(service: str, pid: int | None) -> int:
    if pid is None:
        pytest.fail(
            f"the lab's {service} is not running: start it with lab/up", pytrace=False
        )
    return pid


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- rendering ------------------------------------------------------------------


def test_snmpd_config_has_one_authpriv_user_and_no_community():
    config = snmp.render_config("A" * 24, "P" * 24)

    assert "agentAddress udp:127.0.0.4:161" in config
    assert f'createUser stigscan SHA-512 "{"A" * 24}" AES-256 "{"P" * 24}"' in config
    assert "rouser -s usm stigscan priv" in config
    assert "community" not in config.lower()


def test_snmpd_runs_with_our_config_only_no_mibs_and_no_smux():
    command = snmp.command(snmp.Layout(Path("/x/lab/.run")))

    assert command[1:] == [
        "-f",
        "-Lo",
        "-C",
        "-c",
        "/x/lab/.run/snmp/snmp1/snmpd.conf",
        "-m",
        "",
        "-I",
        "-smux",
    ]


def test_postfix_listens_on_the_lab_address_only():
    master = mail.render_master_cf()

    assert master.splitlines()[1].split()[:2] == ["127.0.0.6:smtp", "inet"]
    assert "127.0.0.6:submissions inet" in master
    assert "-o smtpd_tls_wrappermode=yes" in master
    assert "-o smtpd_tls_security_level=encrypt" in master


def test_postfix_delivers_nothing_and_wants_tls_1_2():
    settings = dict(
        line.split(" = ", 1)
        for line in mail.render_main_cf(MAIL).splitlines()
        if " = " in line
    )

    for transport_name in ("local_transport", "default_transport", "relay_transport"):
        assert settings[transport_name].startswith("error:")
    assert settings["smtpd_tls_protocols"] == ">=TLSv1.2"
    assert settings["smtpd_tls_mandatory_protocols"] == ">=TLSv1.2"
    assert settings["myhostname"] == "mail1.lab.example"


# -- snmp1 live -------------------------------------------------------------------


@pytest.fixture(scope="module")
def snmpd_pid() -> int:
    return require("SNMP agent snmp1 (127.0.0.4:161)", snmp.running(SNMP))


def test_snmpd_pid_is_recorded_with_a_lab_run_command_line(snmpd_pid):
    line = cmdline(snmpd_pid)

    assert "lab/.run/" in line and "snmpd" in line
    assert SNMP.pid_file == RUN_DIR.resolve() / "pids" / "snmpd-snmp1.pid"


def test_snmpd_listens_on_its_udp_port_only(snmpd_pid):
    sockets = Path(f"/proc/{snmpd_pid}/fd")
    inodes = {
        link.readlink().name[len("socket:[") : -1]
        for link in sockets.iterdir()
        if link.readlink().name.startswith("socket:[")
    }
    listening = [
        (table, line.split()[1])
        for table in ("tcp", "udp", "tcp6", "udp6")
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        if line.split()[9] in inodes
    ]

    assert listening == [("udp", "0400007F:00A1")]  # 127.0.0.4:161


def test_snmp_keys_and_config_are_private(snmpd_pid):
    for path in (SNMP.auth_key, SNMP.priv_key, SNMP.config):
        assert mode(path) == 0o600, path
    assert mode(SNMP.auth_key.parent) == 0o700
    auth_key = SNMP.auth_key.read_text().strip()
    assert len(auth_key) >= 20 and auth_key in SNMP.config.read_text()


def test_snmp1_answers_v3_authpriv(snmpd_pid):
    assert snmp.v3_get(SNMP) == snmp.SYS_DESCR


@pytest.mark.parametrize("version", ["v1", "v2c"])
def test_snmp1_ignores_community_public(snmpd_pid, version):
    target = transport.SnmpTarget("snmp1", snmp.ADDRESS, snmp.PORT, 0.5)

    with transport.SnmpPool() as pool:
        answer = pool.run(transport.community_get(target, "public", version))

    assert answer is None


def test_snmp_up_again_leaves_the_agent_alone(snmpd_pid):
    result = subprocess.run(
        [sys.executable, "-m", "lab.snmp", "up", "--run-dir", "lab/.run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )

    assert f"already running (pid {snmpd_pid})" in result.stdout


# -- mail1 live -------------------------------------------------------------------


@pytest.fixture(scope="module")
def postfix_pid() -> int:
    return require("SMTP gateway mail1 (127.0.0.6:25/465)", mail.running(MAIL))


def test_postfix_parent_is_recorded_with_a_lab_run_command_line(postfix_pid):
    line = cmdline(postfix_pid)

    assert "lab/.run/" in line and "lab.mail run" in line  # what lab/down matches
    assert mail.master_running(MAIL)


def test_postfix_data_directory_belongs_to_postfix(postfix_pid):
    assert MAIL.data.owner() == "postfix"
    assert mode(MAIL.key) == 0o600


def plain_until_starttls(sock: socket.socket) -> None:
    """Greeting, EHLO and STARTTLS in clear text; TLS may start after this."""
    stream = sock.makefile("rb")
    assert stream.readline().startswith(b"220 ")
    sock.sendall(b"EHLO probe.lab.example\r\n")
    extensions = []
    while (line := stream.readline()).startswith(b"250-"):
        extensions.append(line[4:].strip())
    assert b"STARTTLS" in extensions
    sock.sendall(b"STARTTLS\r\n")
    assert stream.readline().startswith(b"220 ")


def test_starttls_on_25_verifies_against_the_lab_ca(postfix_pid):
    context = ssl.create_default_context(cafile=str(CA))

    with socket.create_connection((mail.HOST.address, 25), timeout=5) as sock:
        plain_until_starttls(sock)
        with context.wrap_socket(sock, server_hostname=mail.HOST.fqdn) as tls:
            version = tls.version()
            subject = dict(x[0] for x in tls.getpeercert()["subject"])

    assert version in ("TLSv1.2", "TLSv1.3")
    assert subject["commonName"] == "mail1.lab.example"


def test_implicit_tls_on_465_verifies_against_the_lab_ca(postfix_pid):
    banner = mail.smtp_banner(465, True, CA)

    assert banner.startswith("220 mail1.lab.example ESMTP")


@pytest.mark.parametrize("port", [25, 465])
def test_tls_1_1_is_refused(postfix_pid, port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1

    with socket.create_connection((mail.HOST.address, port), timeout=5) as sock:
        if port == 25:
            plain_until_starttls(sock)
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(sock)


def test_mail_to_the_outside_is_refused_at_rcpt(postfix_pid):
    with smtplib.SMTP(mail.HOST.address, 25, "probe.lab.example", timeout=5) as client:
        client.ehlo()
        client.mail("auditor@lab.example")
        code, message = client.rcpt("someone@example.com")

    assert code == 550
    assert b"outbound delivery is disabled in the lab" in message


def test_mail_up_again_leaves_postfix_alone(postfix_pid):
    result = subprocess.run(
        [sys.executable, "-m", "lab.mail", "up", "--run-dir", "lab/.run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )

    assert f"already running (pid {postfix_pid})" in result.stdout
