"""The WS-Management test double, driven by real pywinrm and raw HTTP.

Each test builds its own small host image in a temp folder; the lab images
under lab/images/ are only used for their windows.json (copied beside a
server.xml made here), because their files belong to the lab build.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import winrm
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from winrm.exceptions import WSManFaultError

from lab.winrm_double import DoubleConfig, WinRMDouble
from lab.winrm_double.image import HostImage, windows_name
from lab.winrm_double.testing import make_image, make_pki
from sphere_stig.collectors.windows import build_script, collect_windows_facts
from sphere_stig.transports.winrm import WinRMOptions, WinRMSession

ADDRESS = "127.0.0.31"
USER = "lab-auditor"
PASSWORD = "double-pw-31"
ROOT = r"C:\Program Files\ISEC7 SPHERE"
REPO = Path(__file__).resolve().parents[2]
PROCRUN_64 = r"HKLM\SOFTWARE\Apache Software Foundation\Procrun 2.0"
SOAP = {"Content-Type": "application/soap+xml;charset=UTF-8"}

UTF16_USERS = '<?xml version="1.0" encoding="UTF-16"?>\r\n<tomcat-users/>\r\n'.encode(
    "utf-16"
)
BIG_WEB_XML = b"<web-app>" + b"<!-- padding -->\r\n" * 20000 + b"</web-app>\r\n"

WINDOWS_JSON = {
    "computer_name": "SPHERE31",
    "root_store_include_lab_ca": True,
    "cert_stores": {
        "LocalMachine\\Root": [
            {
                "subject": "CN=Example Root",
                "issuer": "CN=Example Root",
                "thumbprint": "00112233445566778899AABBCCDDEEFF00112233",
                "not_after": "2030-01-01T00:00:00Z",
            }
        ]
    },
    "acls": {
        ROOT.upper() + r"\TOMCAT\CONF\SERVER.XML": [
            {
                "identity": "BUILTIN\\Users",
                "rights": "ReadAndExecute, Synchronize",
                "access": "Allow",
                "inherited": True,
            }
        ]
    },
    "services": [
        {
            "name": "Tomcat9",
            "display_name": "ISEC7 SPHERE Web",
            "path_name": f'"{ROOT}\\Tomcat\\bin\\tomcat9.exe" //RS//Tomcat9',
            "state": "Stopped",
        },
        {
            "name": "Spooler",
            "display_name": "Print Spooler",
            "path_name": r"C:\Windows\System32\spoolsv.exe",
            "state": "Running",
        },
    ],
    "registry": {
        # Only the 64-bit view holds the key here: the double must fall back.
        PROCRUN_64 + r"\Tomcat9\Parameters\Java": {
            "options": ["-Xss1m", "-Djavax.net.ssl.trustStoreType=Windows-ROOT"],
            "Options9": "--add-opens=java.base/java.lang=ALL-UNNAMED",
        },
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\{A}": {
            "DisplayName": "ISEC7 SPHERE Agent",
            "DisplayVersion": "7.1.0.5",
        },
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{B}": {
            "DisplayName": "ISEC7 SPHERE",
            "DisplayVersion": "7.4.0.123",
        },
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\{C}": {
            "DisplayName": "ISEC7 Mobile Exchange Delegate",
            "DisplayVersion": "3.0",
        },
    },
    "local_groups": {"Distributed COM Users": ["LAB\\svc-sphere"]},
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"), ADDRESS)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return make_image(
        tmp_path_factory.mktemp("image"),
        files={
            ROOT + r"\Tomcat\conf\server.xml": b'<Server port="-1"/>\r\n',
            ROOT + r"\Tomcat\conf\tomcat-users.xml": UTF16_USERS,
            ROOT + r"\Tomcat\conf\web.xml": BIG_WEB_XML,
            ROOT + r"\Tomcat\webapps\manager\index.html": b"",
            ROOT + r"\Tomcat\webapps\ROOT\index.html": b"",
            ROOT + r"\Tomcat\webapps\examples.war": b"PK",
            # A folder where a file is expected: ReadAllBytes is denied.
            ROOT + r"\conf\config.properties\placeholder": b"",
        },
        windows=WINDOWS_JSON,
    )


@pytest.fixture(scope="module")
def double(image, pki):
    config = DoubleConfig(
        host="sphere31",
        image=image,
        address=ADDRESS,
        https_port=0,
        http_port=0,
        cert=pki.cert,
        key=pki.key,
        user=USER,
        password=PASSWORD,
        pki_dir=pki.ca.parent,
    )
    with WinRMDouble(config) as running:
        yield running


@pytest.fixture
def url(double):
    return f"https://{ADDRESS}:{double.port('https')}/wsman"


@pytest.fixture
def protocol(url, pki):
    return winrm.Protocol(
        url,
        transport="basic",
        username=USER,
        password=PASSWORD,
        server_cert_validation="validate",
        ca_trust_path=str(pki.ca),
    )


@pytest.fixture
def session(double, pki):
    settings = WinRMOptions("https", double.port("https"), "basic", USER, pki.ca)
    with WinRMSession("sphere31", ADDRESS, settings, PASSWORD) as opened:
        yield opened


def envelope(action: str, body: str = "", shell_id: str = "") -> tuple[str, bytes]:
    message_id = f"uuid:{uuid.uuid4()}"
    selector = (
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector>'
        "</w:SelectorSet>"
        if shell_id
        else ""
    )
    text = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        f"<a:Action>{action}</a:Action><a:MessageID>{message_id}</a:MessageID>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f"{selector}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return message_id, text.encode()


# -- HTTP and authentication -------------------------------------------------


def test_unauthenticated_identify_is_answered(double, pki):
    body = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
        b"<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>"
    )
    for scheme in ("https", "http"):
        response = requests.post(
            f"{scheme}://{ADDRESS}:{double.port(scheme)}/wsman",
            data=body,
            headers={**SOAP, "WSMANIDENTIFY": "unauthenticated"},
            verify=str(pki.ca),
            timeout=5,
        )

        assert response.status_code == 200
        assert response.headers["Server"] == "Microsoft-HTTPAPI/2.0"
        assert (
            b"<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
            in response.content
        )


def test_https_offers_basic_and_http_offers_negotiate_only(double, pki):
    https = requests.post(
        f"https://{ADDRESS}:{double.port('https')}/wsman",
        data=b"",
        headers=SOAP,
        verify=str(pki.ca),
        timeout=5,
    )
    http = requests.post(
        f"http://{ADDRESS}:{double.port('http')}/wsman",
        data=b"",
        headers=SOAP,
        auth=(USER, PASSWORD),
        timeout=5,
    )

    assert https.status_code == 401
    assert https.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'
    # Correct Basic credentials over plain HTTP are refused all the same.
    assert http.status_code == 401
    assert http.headers["WWW-Authenticate"] == "Negotiate"


def test_only_post_to_wsman(double):
    base = f"http://{ADDRESS}:{double.port('http')}"

    assert requests.get(f"{base}/wsman", timeout=5).status_code == 405
    assert requests.post(f"{base}/other", data=b"x", timeout=5).status_code == 404


# -- the shell resource ------------------------------------------------------


def test_unknown_shell_is_a_wsman_fault(protocol):
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "powershell.exe")

    assert caught.value.wsman_fault_code == 2150858843
    assert caught.value.fault_subcode == "w:InvalidSelectors"
    assert "the shell was not found on the server" in caught.value.response


def test_faults_relate_to_the_request(url, pki):
    message_id, body = envelope("http://example.invalid/Frobnicate", shell_id="X")

    response = requests.post(
        url,
        data=body,
        headers=SOAP,
        auth=(USER, PASSWORD),
        verify=str(pki.ca),
        timeout=5,
    )

    assert response.status_code == 500
    assert f"<a:RelatesTo>{message_id}</a:RelatesTo>".encode() in response.content
    assert b'Code="2150858843"' in response.content


def test_malformed_xml_is_a_fault_not_a_crash(url, pki):
    response = requests.post(
        url,
        data=b"<s:Envelope",
        headers=SOAP,
        auth=(USER, PASSWORD),
        verify=str(pki.ca),
        timeout=5,
    )

    assert response.status_code == 500
    assert b"<f:WSManFault" in response.content


def test_entities_are_refused(url, pki):
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'

    response = requests.post(
        url,
        data=body,
        headers=SOAP,
        auth=(USER, PASSWORD),
        verify=str(pki.ca),
        timeout=5,
    )

    assert response.status_code == 500


def test_other_programs_are_refused(protocol):
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "ipconfig", ["/all"])
    stdout, stderr, status = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)

    assert (stdout, status) == (b"", 1)
    assert b"test double for sphere31 runs no programs" in stderr


def test_long_script_through_cmd_exe_is_too_long(url, pki):
    # pywinrm's own run_ps goes through cmd.exe, whose 8191-character limit
    # the collector script exceeds once encoded; the suite skips cmd.exe.
    client = winrm.Session(
        url,
        auth=(USER, PASSWORD),
        transport="basic",
        server_cert_validation="validate",
        ca_trust_path=str(pki.ca),
    )

    result = client.run_ps(build_script(ROOT, -1))

    assert result.status_code == 1
    assert result.std_err == b"The command line is too long.\r\n"


@pytest.mark.parametrize(
    ("codepage", "prefix"), [(65001, b"\xef\xbb\xbf{"), (437, b"{")]
)
def test_codepage_65001_starts_streams_with_a_bom(protocol, codepage, prefix):
    encoded = base64.b64encode(build_script(ROOT, -1).encode("utf-16-le")).decode()
    shell = protocol.open_shell(codepage=codepage)
    command = protocol.run_command(
        shell, "powershell.exe", ["-EncodedCommand", encoded], skip_cmd_shell=True
    )
    stdout, stderr, status = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)

    assert status == 0
    assert stdout.startswith(prefix)
    assert stderr.startswith(prefix[:-1] + b"#< CLIXML\r\n")
    assert b'<Obj S="progress" RefId="0">' in stderr


def test_large_output_takes_several_receives(double, session):
    receives = double.service.counts["Receive"]

    facts = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=-1)

    assert facts.file("tomcat_web_xml").data == BIG_WEB_XML
    assert double.service.counts["Receive"] - receives >= 3


# -- host facts from the image -----------------------------------------------


def test_host_facts_follow_the_image(double, session, pki):
    facts = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=-1)

    # Files: byte-exact, missing, unreadable
    assert facts.file("tomcat_users_xml").data == UTF16_USERS
    assert not facts.file("catalina_properties").exists
    denied = facts.file("config_properties")
    assert denied.exists and denied.data is None
    assert (
        denied.error
        == f"Access to the path '{ROOT}\\conf\\config.properties' is denied."
    )
    assert facts.webapps == ("examples.war", "manager", "ROOT")

    # The ACL is found although windows.json spells the path in upper case
    assert [a.identity for a in facts.server_xml_acl] == ["BUILTIN\\Users"]

    # The lab CA joins the root store, described from the real certificate
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    lab_ca = facts.root_store[-1]
    assert lab_ca.subject == "CN=Throwaway Test Root CA, O=sphere-stig tests, C=US"
    assert lab_ca.thumbprint == ca.fingerprint(hashes.SHA1()).hex().upper()
    assert lab_ca.not_after == ca.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(facts.root_store) == 2

    # The service is found by its path; its options come from the 64-bit view
    service = facts.tomcat_service
    assert (service.name, service.state) == ("Tomcat9", "Stopped")
    assert service.registry_key == (
        r"HKLM\SOFTWARE\Apache Software Foundation\Procrun 2.0\Tomcat9\Parameters\Java"
    )
    assert service.java_options == (
        "-Xss1m",
        "-Djavax.net.ssl.trustStoreType=Windows-ROOT",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
    )

    # The SPHERE product wins over other ISEC7 products, and that is noted
    assert facts.sphere_version == "7.4.0.123"
    assert facts.warnings == (
        "sphere_version: several ISEC7 products installed: "
        "ISEC7 SPHERE 7.4.0.123; ISEC7 SPHERE Agent 7.1.0.5",
    )
    assert facts.local_groups == {
        "Distributed COM Users": ("LAB\\svc-sphere",),
        "Performance Monitor Users": (),
    }


def test_another_root_finds_nothing(session):
    facts = collect_windows_facts(session, "sphere31", r"D:\Sphere", shutdown_port=-1)

    assert not any(f.exists for f in facts.files.values())
    assert facts.files["server_xml"].path == r"D:\Sphere\Tomcat\conf\server.xml"
    assert facts.webapps is None
    assert facts.server_xml_acl is None
    assert facts.tomcat_service is None


def test_listener_is_reported_only_when_the_port_accepts(session):
    # Given something listening where Tomcat's shutdown port would be
    with socket.socket() as listener:
        listener.bind((ADDRESS, 0))
        listener.listen(4)
        port = listener.getsockname()[1]

        listening = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=port)
    closed = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=port)

    # Then the double reports it with the service's process name, and only then
    assert [(x.address, x.port, x.process) for x in listening.listeners] == [
        (ADDRESS, port, "tomcat9")
    ]
    assert closed.listeners == ()


def test_udp_listener_is_reported_only_while_the_trap_port_is_bound(session):
    # Given a UDP socket bound where the Monitor receives traps
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((ADDRESS, 0))
        port = receiver.getsockname()[1]

        bound = collect_windows_facts(
            session, "sphere31", ROOT, shutdown_port=-1, trap_ports=(port,)
        )
    free = collect_windows_facts(
        session, "sphere31", ROOT, shutdown_port=-1, trap_ports=(port,)
    )

    # Then Get-NetUDPEndpoint's answer names it, with the service's process
    assert [(x.address, x.port, x.process) for x in bound.udp_listeners] == [
        (ADDRESS, port, "tomcat9")
    ]
    assert free.udp_listeners == ()
    assert bound.listeners == free.listeners == ()


def test_windows_names_read_like_dotnet():
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "U.S. Government"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "DoD"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Virginia"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Lab Root, Test"),
        ]
    )

    assert windows_name(name) == (
        'CN="Lab Root, Test", S=Virginia, OU=PKI, OU=DoD, O=U.S. Government, C=US'
    )


@pytest.mark.parametrize(
    ("host", "trusts_lab_ca", "trust_store_option", "acl_flags_users"),
    [("sphere01", True, True, False), ("sphere02", False, False, True)],
)
def test_lab_windows_json(
    tmp_path, pki, host, trusts_lab_ca, trust_store_option, acl_flags_users
):
    # Given the lab host's windows.json beside a server.xml made here
    image = make_image(tmp_path, {ROOT + r"\Tomcat\conf\server.xml": b"<Server/>"}, {})
    shutil.copy(REPO / "lab" / "images" / host / "windows.json", image / "windows.json")

    facts = HostImage(image, pki.ca.parent, ADDRESS).host_facts(ROOT, -1)

    thumbprints = {c["thumbprint"] for c in facts["root_store"]}
    lab_ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    assert (
        lab_ca.fingerprint(hashes.SHA1()).hex().upper() in thumbprints
    ) is trusts_lab_ca
    options = facts["tomcat_service"]["java_options"]
    assert (
        "-Djavax.net.ssl.trustStoreType=Windows-ROOT" in options
    ) is trust_store_option
    identities = {a["identity"] for a in facts["server_xml_acl"]}
    assert ({"BUILTIN\\Users", "Everyone"} <= identities) is acl_flags_users
    assert facts["tomcat_service"]["display_name"] == "ISEC7 SPHERE Web"
    assert facts["computer_name"] == host.upper()
    assert facts["warnings"] == []


# -- the command line --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        return probe.getsockname()[1]


def test_cli_serves_logs_and_stops_on_sigterm(tmp_path, image, pki):
    # Given the double started as the lab starts it
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    log = tmp_path / "double.log"
    https_port, http_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.winrm_double",
            "--host",
            "sphere31",
            "--image",
            str(image),
            "--address",
            ADDRESS,
            "--https-port",
            str(https_port),
            "--http-port",
            str(http_port),
            "--cert",
            str(pki.cert),
            "--key",
            str(pki.key),
            "--user",
            USER,
            "--password-file",
            str(password_file),
            "--pki-dir",
            str(pki.ca.parent),
            "--log",
            str(log),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((ADDRESS, https_port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the double did not come up"
                time.sleep(0.1)

        # When a client collects facts through it
        settings = WinRMOptions("https", https_port, "basic", USER, pki.ca)
        with WinRMSession("sphere31", ADDRESS, settings, PASSWORD) as session:
            facts = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=-1)
        assert facts.computer_name == "SPHERE31"
    finally:
        # Then SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0

    text = log.read_text()
    assert "WS-Management test double for sphere31 listening on https://" in text
    assert f"POST Create user={USER} -> 200" in text
    assert "POST Command" in text and "host_facts root=" in text
    assert "WS-Management test double for sphere31 stopped" in text
    assert PASSWORD not in text


def test_cli_reports_a_bad_image(tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab.winrm_double",
            "--host",
            "x",
            "--image",
            str(tmp_path),
            "--address",
            ADDRESS,
            "--https-port",
            "0",
            "--http-port",
            str(_free_port()),
            "--user",
            USER,
            "--password-file",
            str(password_file),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert "no windows.json in the image folder" in result.stderr


def test_double_answers_the_script_as_json(image, pki):
    # The document the double prints parses as the collector expects.
    host_image = HostImage(image, pki.ca.parent, ADDRESS)
    document = json.loads(json.dumps(host_image.host_facts(ROOT, -1)))

    assert list(document) == [
        "schema",
        "computer_name",
        "sphere_root",
        "files",
        "webapps",
        "server_xml_acl",
        "root_store",
        "tomcat_service",
        "listeners",
        "udp_listeners",
        "sphere_version",
        "local_groups",
        "warnings",
    ]
