"""The Windows collector: the script it sends and the facts it decodes.

Most tests feed the collector a fake session with stdout from
``data/host_facts_stdout.txt`` (see data/README.md). The last ones run it
over WinRM against the test double with an image made here.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from lab.winrm_double import DoubleConfig, WinRMDouble
from lab.winrm_double.testing import make_image, make_pki
from sphere_stig.collectors import windows
from sphere_stig.collectors.windows import build_script, collect_windows_facts
from sphere_stig.facts import SPHERE_FILES, AclEntry, Listener, StoreCertificate
from sphere_stig.outcome import CollectionError
from sphere_stig.transports.winrm import PsResult, WinRMOptions, WinRMSession

DATA = Path(__file__).parent / "data"
ROOT = r"C:\Program Files\ISEC7 SPHERE"
SCRIPT = Path(windows.__file__).parent / "scripts" / "host_facts.ps1"


class FakeSession:
    """Answers run_ps with a canned result and remembers the scripts."""

    def __init__(
        self, stdout: str = "", stderr_text: str = "", status: int = 0, warnings=()
    ):
        self.result = PsResult(stdout, stderr_text, status, tuple(warnings))
        self.scripts: list[str] = []

    def run_ps(self, script: str) -> PsResult:
        self.scripts.append(script)
        return self.result


def sample_stdout() -> str:
    # The session decodes bytes as UTF-8 and keeps the text as received.
    return (DATA / "host_facts_stdout.txt").read_bytes().decode("utf-8")


def sample_document() -> dict:
    return json.loads(sample_stdout().lstrip("\ufeff"))


# -- decoding ----------------------------------------------------------------


def test_decodes_the_sample_output():
    # Given stdout as a host sends it (BOM, one JSON line, CRLF)
    session = FakeSession(sample_stdout())

    # When the collector runs
    facts = collect_windows_facts(session, "sphere02", ROOT)

    # Then every section is typed
    assert facts.host == "sphere02"
    assert facts.computer_name == "SPHERE02"
    assert facts.sphere_root == ROOT
    assert set(facts.files) == set(SPHERE_FILES)
    assert facts.webapps == ("docs", "examples", "host-manager", "manager", "ROOT")
    assert facts.server_xml_acl[0] == AclEntry(
        "Everyone", "Modify, Synchronize", "Allow", False
    )
    assert facts.server_xml_acl[3] == AclEntry(
        "BUILTIN\\Users", "ReadAndExecute, Synchronize", "Allow", True
    )
    assert facts.root_store[1] == StoreCertificate(
        "CN=DoD Root CA 3, OU=PKI, OU=DoD, O=U.S. Government, C=US",
        "CN=DoD Root CA 3, OU=PKI, OU=DoD, O=U.S. Government, C=US",
        "D73CA91102A2204A36459ED32213B467D7CE97FB",
        "2029-12-30T18:46:41Z",
    )
    service = facts.tomcat_service
    assert service.name == "ISEC7SphereWeb"
    assert service.display_name == "ISEC7 SPHERE Web"
    assert service.registry_key.endswith(r"Procrun 2.0\ISEC7SphereWeb\Parameters\Java")
    assert service.java_options[-1] == "--add-opens=java.base/java.lang=ALL-UNNAMED"
    assert facts.listeners == (Listener("127.0.0.1", 8005, "tomcat9"),)
    assert facts.udp_listeners == (Listener("0.0.0.0", 1620, "tomcat9"),)
    assert facts.sphere_version == "6.6.1.204"
    assert facts.local_groups == {
        "Distributed COM Users": ("LAB\\svc-sphere", "LAB\\jürgen.müller"),
        "Performance Monitor Users": (),
    }


def test_files_arrive_as_raw_bytes():
    facts = collect_windows_facts(FakeSession(sample_stdout()), "sphere02", ROOT)

    server_xml = facts.file("server_xml")
    assert server_xml.exists and server_xml.error is None
    assert server_xml.data.startswith(b"\xef\xbb\xbf<?xml")
    assert server_xml.path == ROOT + r"\Tomcat\conf\server.xml"

    # UTF-16 with its byte order mark, untouched
    users = facts.file("tomcat_users_xml").data
    assert users.startswith(b"\xff\xfe<\x00?\x00x\x00m\x00l\x00")
    assert users.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')

    # A file that exists but could not be read carries the reason
    locked = facts.file("catalina_properties")
    assert locked.exists and locked.data is None
    assert "being used by another process" in locked.error

    # A missing file is just missing
    missing = facts.file("config_properties")
    assert (missing.exists, missing.data, missing.error) == (False, None, None)


def test_warnings_of_script_and_session_are_kept():
    session = FakeSession(
        sample_stdout(),
        stderr_text="Get-CimInstance : Access denied",
        warnings=("slow",),
    )

    facts = collect_windows_facts(session, "sphere02", ROOT)

    assert facts.warnings == (
        'local_groups Performance Monitor Users: Exception calling "Invoke" with "1" '
        "argument(s): 'Members'",
        "slow",
        "PowerShell reported errors: Get-CimInstance : Access denied",
    )


def test_noise_lines_around_the_document_are_ignored():
    noisy = "Loading profile...\r\n" + sample_stdout() + "\r\nPS C:\\>\r\n"

    facts = collect_windows_facts(FakeSession(noisy), "sphere02", ROOT)

    assert facts.computer_name == "SPHERE02"


def test_unwrapped_single_member_is_accepted():
    # Windows PowerShell sometimes unwraps a one-element array.
    document = sample_document()
    document["local_groups"]["Performance Monitor Users"] = "LAB\\svc-sphere"

    facts = collect_windows_facts(FakeSession(json.dumps(document)), "sphere02", ROOT)

    assert facts.local_groups["Performance Monitor Users"] == ("LAB\\svc-sphere",)


def test_nulls_where_the_host_had_nothing():
    document = sample_document()
    document.update(
        server_xml_acl=None,
        tomcat_service=None,
        sphere_version=None,
        listeners=[],
        udp_listeners=[],
    )
    document["webapps"] = {
        "path": ROOT + r"\Tomcat\webapps",
        "exists": False,
        "entries": [],
    }

    facts = collect_windows_facts(FakeSession(json.dumps(document)), "sphere02", ROOT)

    assert facts.server_xml_acl is None
    assert facts.tomcat_service is None
    assert facts.sphere_version is None
    assert facts.webapps is None
    assert facts.listeners == ()
    assert facts.udp_listeners == ()


# -- malformed output --------------------------------------------------------


def test_malformed_json_is_a_collection_error():
    truncated = sample_stdout()[:500]

    with pytest.raises(CollectionError) as caught:
        collect_windows_facts(FakeSession(truncated), "sphere02", ROOT)

    assert caught.value.host == "sphere02"
    assert caught.value.source == "host_facts.ps1"
    assert caught.value.reason.startswith("malformed output: stdout is not valid JSON")


def test_script_failure_without_output_reports_stderr():
    session = FakeSession("", "Cannot index into a null array.", status=1)

    with pytest.raises(CollectionError) as caught:
        collect_windows_facts(session, "sphere02", ROOT)

    assert caught.value.reason == (
        "the script failed (exit status 1): Cannot index into a null array."
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(schema=2), "schema 2, this suite reads schema 1"),
        (lambda d: d.pop("root_store"), "'root_store' is missing"),
        (lambda d: d.update(listeners={}), "'listeners' should be a list, not dict"),
        (lambda d: d["files"].pop("server_xml"), "'files.server_xml' is missing"),
        (
            lambda d: d["files"]["server_xml"].update(b64="not base64!"),
            "'files.server_xml.b64' is not valid base64",
        ),
        (
            lambda d: d["files"]["sphere_web_xml"].update(b64=None),
            "'files.sphere_web_xml.' says the file exists but carries neither data "
            "nor error",
        ),
        (
            lambda d: d["server_xml_acl"][1].update(inherited="yes"),
            "'server_xml_acl[1].inherited' should be true or false, not str",
        ),
        (
            lambda d: d["listeners"][0].update(port=True),
            "'listeners[0].port' should be a number, not True",
        ),
        (lambda d: d.pop("udp_listeners"), "'udp_listeners' is missing"),
        (
            lambda d: d["udp_listeners"][0].update(address=None),
            "'udp_listeners[0].address' should be a string, not NoneType",
        ),
        (
            lambda d: d["tomcat_service"].update(java_options=["-Da=b", 7]),
            "'tomcat_service.java_options' should hold only strings",
        ),
    ],
)
def test_wrong_shapes_name_what_was_wrong(change, reason):
    document = sample_document()
    change(document)

    with pytest.raises(CollectionError) as caught:
        collect_windows_facts(FakeSession(json.dumps(document)), "sphere02", ROOT)

    assert caught.value.reason == f"malformed output: {reason}"


def test_output_without_a_json_object_is_a_collection_error():
    with pytest.raises(CollectionError) as caught:
        collect_windows_facts(FakeSession("[1, 2]\r\n"), "sphere02", ROOT)

    assert caught.value.reason == "the script printed no JSON document"


# -- the script that is sent -------------------------------------------------


def test_script_is_sent_once_with_its_parameters():
    session = FakeSession(sample_stdout())

    collect_windows_facts(
        session,
        "sphere02",
        r"D:\Apps\ISEC7 SPHERE",
        shutdown_port=8015,
        trap_ports=(1620, 1621),
    )

    assert len(session.scripts) == 1
    lines = session.scripts[0].splitlines()
    assert lines[:4] == [
        "# sphere-stig collector: host_facts schema 1",
        r"$SphereRoot = 'D:\Apps\ISEC7 SPHERE'",
        "$ShutdownPort = 8015",
        "$TrapPorts = @(1620, 1621)",
    ]


def test_no_trap_ports_sends_an_empty_list():
    assert "$TrapPorts = @()" in build_script(ROOT, 8005).splitlines()


def test_quotes_in_the_root_are_escaped_for_powershell():
    # PowerShell also ends single-quoted strings at typographic quotes.
    script = build_script("C:\\O'Brien\u2019s Sphere", 8005)

    assert "$SphereRoot = 'C:\\O''Brien\u2019\u2019s Sphere'" in script.splitlines()


def test_root_with_control_characters_is_refused():
    with pytest.raises(ValueError, match="control characters"):
        build_script("C:\\Sphere\n; Remove-Item C:\\", 8005)


@pytest.mark.parametrize(
    ("shutdown", "trap"), [("8005", ()), (8005, ("1620",)), (8005, (True,))]
)
def test_ports_must_be_integers(shutdown, trap):
    with pytest.raises(TypeError):
        build_script(ROOT, shutdown, trap)


def test_sent_script_has_no_comment_lines_and_fits_a_command_line():
    script = build_script(ROOT, 8005, (1620,))
    body = script.splitlines()[4:]

    assert not [line for line in body if line.startswith("#")]
    assert all(line == line.strip() and line for line in body)
    encoded = base64.b64encode(script.encode("utf-16-le"))
    # CreateProcess limit, with room for "powershell.exe" and its switches
    assert len(encoded) < 32767 - 100


def test_script_file_table_matches_sphere_files():
    text = SCRIPT.read_text(encoding="utf-8")
    table = re.search(r"\$fileTable = \[ordered\]@\{(.*?)\n\}", text, re.DOTALL).group(
        1
    )
    pairs = dict(re.findall(r"^\s*(\w+)\s*=\s*'([^']*)'", table, re.MULTILINE))

    assert pairs == SPHERE_FILES


def test_script_is_ascii_and_starts_with_the_header():
    data = SCRIPT.read_bytes()

    assert data.isascii()
    assert data.splitlines()[0] == b"# sphere-stig collector: host_facts schema 1"


# -- over WinRM, against the test double -------------------------------------

ADDRESS = "127.0.0.31"


@pytest.fixture
def double_session(tmp_path):
    pki = make_pki(tmp_path / "pki", ADDRESS)
    utf16 = '<?xml version="1.0" encoding="UTF-16"?>\r\n<tomcat-users/>\r\n'.encode(
        "utf-16"
    )
    image = make_image(
        tmp_path / "image",
        files={
            ROOT + r"\Tomcat\conf\server.xml": b'<Server port="-1"/>\r\n',
            ROOT + r"\Tomcat\conf\tomcat-users.xml": utf16,
            ROOT + r"\Tomcat\webapps\manager\index.html": b"",
        },
        windows={
            "computer_name": "SPHERE31",
            "acls": {
                ROOT + r"\tomcat\CONF\server.xml": [
                    {
                        "identity": "NT AUTHORITY\\SYSTEM",
                        "rights": "FullControl",
                        "access": "Allow",
                        "inherited": False,
                    }
                ]
            },
        },
    )
    config = DoubleConfig(
        "sphere31", image, ADDRESS, 0, None, pki.cert, pki.key, "auditor", "pw-1234"
    )
    with WinRMDouble(config) as double:
        settings = WinRMOptions(
            "https", double.port("https"), "basic", "auditor", pki.ca
        )
        with WinRMSession("sphere31", ADDRESS, settings, "pw-1234") as session:
            yield session, utf16


def test_collects_from_the_double_byte_exact(double_session):
    session, utf16 = double_session

    facts = collect_windows_facts(session, "sphere31", ROOT, shutdown_port=-1)

    assert facts.computer_name == "SPHERE31"
    assert facts.file("tomcat_users_xml").data == utf16
    assert facts.file("server_xml").data == b'<Server port="-1"/>\r\n'
    assert not facts.file("config_properties").exists
    assert facts.webapps == ("manager",)
    assert facts.server_xml_acl == (
        AclEntry("NT AUTHORITY\\SYSTEM", "FullControl", "Allow", False),
    )
    assert facts.listeners == ()
    assert facts.tomcat_service is None
    assert facts.warnings == (
        f"tomcat_service: no service runs from {ROOT}\\Tomcat\\bin\\",
    )
