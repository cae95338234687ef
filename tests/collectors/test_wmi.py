"""The WMI collector: the script it sends and the facts it decodes.

Most tests feed the collector a fake session with stdout from
``data/wmi_facts_stdout.txt`` (see data/README.md). The last ones run it over
WinRM against the test double, with an image made here.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from pathlib import Path

import pytest

from lab.winrm_double import DoubleConfig, WinRMDouble
from lab.winrm_double.testing import make_image, make_pki
from sphere_stig.collectors import wmi
from sphere_stig.collectors.cache import GATHERERS
from sphere_stig.collectors.wmi import (
    GROUP_SIDS,
    NamespaceSecurity,
    Principal,
    build_script,
    collect_wmi_facts,
)
from sphere_stig.outcome import CollectionError
from sphere_stig.transports.winrm import PsResult, WinRMOptions, WinRMSession

DATA = Path(__file__).parent / "data"
SCRIPT = Path(wmi.__file__).parent / "scripts" / "wmi_facts.ps1"
ACCOUNT = "CORP\\svc-sphere-wmi"
AGENT_SID = "S-1-5-21-3457937927-2839227994-823803824-2718"


class FakeSession:
    """Answers run_ps with a canned result and remembers the scripts."""

    def __init__(self, stdout="", stderr_text="", status=0, warnings=()):
        self.result = PsResult(stdout, stderr_text, status, tuple(warnings))
        self.scripts: list[str] = []

    def run_ps(self, script: str) -> PsResult:
        self.scripts.append(script)
        return self.result


def sample_stdout() -> str:
    return (DATA / "wmi_facts_stdout.txt").read_bytes().decode("utf-8")


def sample_document() -> dict:
    return json.loads(sample_stdout().lstrip("\ufeff"))


def stdout_of(document: dict) -> str:
    return json.dumps(document) + "\r\n"


# -- decoding ----------------------------------------------------------------


def test_decodes_the_sample_output():
    # Given stdout as a host sends it (BOM, one JSON line, CRLF)
    session = FakeSession(sample_stdout())

    # When the collector runs
    facts = collect_wmi_facts(session, "app07", ACCOUNT)

    # Then the account, both groups and every namespace are typed
    assert facts.host == "app07"
    assert facts.computer_name == "APP07"
    assert facts.account == Principal(ACCOUNT, AGENT_SID)
    assert facts.account_error is None
    dcom = facts.groups["Distributed COM Users"]
    assert dcom.sid == "S-1-5-32-562"
    assert [m.name for m in dcom.members] == [
        ACCOUNT,
        "CORP\\J\u00fcrgen.Admin",
        "S-1-5-21-3457937927-2839227994-823803824-1999",
    ]
    assert dcom.members[2].sid is None
    assert facts.groups["Performance Monitor Users"].members == ()
    assert [n.path for n in facts.namespaces] == [
        "root/cimv2",
        "root/cimv2/power",
        "root/cimv2/Security",
        "root/cimv2/Security/MicrosoftVolumeEncryption",
    ]
    assert facts.cimv2.sddl.startswith(f"O:BAG:BAD:AR(A;CI;CCDCWP;;;{AGENT_SID})")
    assert facts.subnamespaces[-1] == NamespaceSecurity(
        "root/cimv2/Security/MicrosoftVolumeEncryption", None, "Access denied "
    )
    assert facts.sid_names == {AGENT_SID: ACCOUNT}
    assert facts.warnings == ()


def test_an_account_the_host_cannot_resolve_keeps_the_reason():
    document = sample_document()
    document["account"] = {
        "name": ACCOUNT,
        "sid": None,
        "error": "Some or all identity references could not be translated.",
    }

    facts = collect_wmi_facts(FakeSession(stdout_of(document)), "app07", ACCOUNT)

    assert facts.account == Principal(ACCOUNT, None)
    assert "could not be translated" in facts.account_error


def test_no_account_input_means_no_account():
    document = sample_document()
    document["account"] = {"name": "", "sid": None, "error": None}

    facts = collect_wmi_facts(FakeSession(stdout_of(document)), "app07", "")

    assert facts.account is None


def test_unwrapped_single_member_and_namespace_are_accepted():
    # Windows PowerShell can print a one-element list as the element itself.
    document = sample_document()
    only = {"name": ACCOUNT, "sid": AGENT_SID}
    document["local_groups"]["Performance Monitor Users"]["members"] = only
    document["namespaces"] = document["namespaces"][0]

    facts = collect_wmi_facts(FakeSession(stdout_of(document)), "app07", ACCOUNT)

    assert facts.groups["Performance Monitor Users"].members == (
        Principal(ACCOUNT, AGENT_SID),
    )
    assert facts.subnamespaces == ()


def test_warnings_of_script_and_session_are_kept():
    document = sample_document()
    document["warnings"] = ["namespaces below root/cimv2: Access denied "]
    session = FakeSession(
        stdout_of(document), "Get-WmiObject : Access denied", 1, ["slow"]
    )

    facts = collect_wmi_facts(session, "app07", ACCOUNT)

    assert facts.warnings == (
        "namespaces below root/cimv2: Access denied ",
        "slow",
        "PowerShell reported errors: Get-WmiObject : Access denied",
        "the script ended with exit status 1",
    )


def _without(path: str) -> dict:
    document = sample_document()
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[key]
    del target[last]
    return document


@pytest.mark.parametrize(
    "document, reason",
    [
        ({**sample_document(), "schema": 2}, "schema 2, this suite reads schema 1"),
        (_without("account"), "'account' is missing"),
        (_without("sid_names"), "'sid_names' is missing"),
        (
            _without("local_groups.Performance Monitor Users"),
            "'local_groups.Performance Monitor Users' is missing",
        ),
        (
            {**sample_document(), "namespaces": [{"path": "root/cimv2"}]},
            "'namespaces[0].sddl' is missing",
        ),
        (
            {
                **sample_document(),
                "namespaces": [{"path": "root/cimv2", "sddl": None, "error": None}],
            },
            "'namespaces[0]' carries neither sddl nor error",
        ),
        (
            {**sample_document(), "namespaces": ["root/cimv2"]},
            "'namespaces[0]' should be an object",
        ),
        (
            {**sample_document(), "computer_name": 7},
            "'computer_name' should be a string, not int",
        ),
    ],
)
def test_malformed_output_is_a_collection_error(document, reason):
    # Given a document that breaks the schema, when it is decoded
    with pytest.raises(CollectionError) as caught:
        collect_wmi_facts(FakeSession(stdout_of(document)), "app07", ACCOUNT)

    # Then the error names the host, the script and what was wrong
    assert caught.value.host == "app07"
    assert caught.value.source == "wmi_facts.ps1"
    assert caught.value.reason == f"malformed output: {reason}"


def test_invalid_json_and_failed_scripts_are_collection_errors():
    with pytest.raises(CollectionError, match="stdout is not valid JSON"):
        collect_wmi_facts(FakeSession('{"schema": 1,'), "app07", ACCOUNT)
    with pytest.raises(CollectionError) as caught:
        collect_wmi_facts(FakeSession("", "Access is denied", 1), "app07", ACCOUNT)
    assert caught.value.reason == "the script failed (exit status 1): Access is denied"


# -- the script that is sent -------------------------------------------------


def test_script_is_sent_once_with_the_account():
    session = FakeSession(sample_stdout())

    collect_wmi_facts(session, "app07", "CORP\\O'Neil")

    assert len(session.scripts) == 1
    assert session.scripts[0].splitlines()[:2] == [
        "# sphere-stig collector: wmi_facts schema 1",
        "$AgentAccount = 'CORP\\O''Neil'",
    ]


def test_account_with_control_characters_is_refused():
    with pytest.raises(ValueError, match="control characters"):
        build_script("CORP\\svc\n; Remove-Item C:\\")


def test_sent_script_has_no_comments_and_fits_a_command_line():
    script = build_script(ACCOUNT)
    body = script.splitlines()[2:]

    assert not [line for line in body if line.startswith("#")]
    assert all(line == line.strip() and line for line in body)
    assert len(base64.b64encode(script.encode("utf-16-le"))) < 32767 - 100


def test_script_is_ascii_and_reads_the_groups_by_sid():
    text = SCRIPT.read_text(encoding="ascii")
    table = re.search(r"\$groupSids = \[ordered\]@\{(.*?)\}", text).group(1)

    assert text.splitlines()[0] == "# sphere-stig collector: wmi_facts schema 1"
    assert dict(re.findall(r"'([^']+)' = '([^']+)'", table)) == GROUP_SIDS
    assert "GetSecurityDescriptor" in text and "Win32SDToSDDL" in text


def test_the_gatherer_is_registered_for_the_wmi_fact_source():
    assert GATHERERS["wmi"] is wmi.gather_wmi


# -- over WinRM, against the test double -------------------------------------

ADDRESS = "127.0.0.32"
CIMV2 = f"O:BAG:BAD:(A;CI;CCWP;;;{AGENT_SID})(A;CI;CCDCLCSWRPWPRCWD;;;BA)"
CHILD = f"O:BAG:BAD:AI(A;CIID;CCWP;;;{AGENT_SID})(A;CIID;CCDCLCSWRPWPRCWD;;;BA)"


@pytest.fixture
def win_double(tmp_path):
    pki = make_pki(tmp_path / "pki", ADDRESS)
    image = make_image(
        tmp_path / "image",
        files={},
        windows={
            "computer_name": "WIN32",
            "accounts": {ACCOUNT: AGENT_SID},
            "local_groups": {"Distributed COM Users": [ACCOUNT, "CORP\\gone"]},
            "wmi_namespaces": {
                "root/cimv2": CIMV2,
                "root/cimv2/Security": CHILD,
                "root/cimv2/Security/MicrosoftTpm": CHILD,
                "root/cimv2/Security/MicrosoftTpm/Deeper": CHILD,
                "root/cimv2/power": CHILD,
            },
        },
    )
    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        free_port = probe.getsockname()[1]
    config = DoubleConfig(
        "win32",
        image,
        ADDRESS,
        0,
        None,
        pki.cert,
        pki.key,
        "auditor",
        "pw-1234",
        tcp_ports=(free_port,),
    )
    with WinRMDouble(config) as double:
        settings = WinRMOptions(
            "https", double.port("https"), "basic", "auditor", pki.ca
        )
        with WinRMSession("win32", ADDRESS, settings, "pw-1234") as session:
            yield session, free_port


def test_collects_from_the_double(win_double):
    session, _ = win_double

    facts = collect_wmi_facts(session, "win32", ACCOUNT)

    assert facts.computer_name == "WIN32"
    assert facts.account == Principal(ACCOUNT, AGENT_SID)
    assert facts.groups["Distributed COM Users"].members == (
        Principal(ACCOUNT, AGENT_SID),
        Principal("CORP\\gone", None),
    )
    assert facts.groups["Performance Monitor Users"].members == ()
    # Breadth first, two levels below root/cimv2, names sorted ignoring case.
    assert [n.path for n in facts.namespaces] == [
        "root/cimv2",
        "root/cimv2/power",
        "root/cimv2/Security",
        "root/cimv2/Security/MicrosoftTpm",
    ]
    assert facts.cimv2.sddl == CIMV2
    assert facts.sid_names == {AGENT_SID: ACCOUNT}


def test_the_double_says_when_the_account_does_not_resolve(win_double):
    session, _ = win_double

    facts = collect_wmi_facts(session, "win32", "CORP\\nobody")

    assert facts.account == Principal("CORP\\nobody", None)
    assert facts.account_error == (
        "Some or all identity references could not be translated."
    )


def test_the_double_accepts_and_closes_on_its_tcp_ports(win_double):
    _, port = win_double

    with socket.create_connection((ADDRESS, port), timeout=2) as connection:
        connection.settimeout(2)
        # Accept-only: the double closes without a byte.
        assert connection.recv(1) == b""
