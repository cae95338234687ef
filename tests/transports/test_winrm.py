"""WinRMSession against the WS-Management test double, over real sockets.

The double runs in this process on 127.0.0.31 (ports picked by the OS, so
the lab's 5985/5986 are never touched) with a certificate from a throwaway
CA made here. pywinrm is the real client; nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest

from lab.winrm_double import DoubleConfig, WinRMDouble
from lab.winrm_double.testing import make_image, make_pki
from sphere_stig.outcome import CollectionError
from sphere_stig.transports.winrm import (
    PsResult,
    WinRMEndpoint,
    WinRMOptions,
    WinRMSession,
    decode_clixml,
)

ADDRESS = "127.0.0.31"
USER = "LAB\\svc-stig"
PASSWORD = "Corr3ct-Horse!"
DATA = Path(__file__).parent / "data"
ROOT = r"C:\Program Files\ISEC7 SPHERE"
HOST_FACTS = "# sphere-stig collector: host_facts schema 1\n"


def collector_script(
    root: str = r"C:\Program Files\ISEC7 SPHERE", port: int = -1
) -> str:
    return f"{HOST_FACTS}$SphereRoot = '{root}'\n$ShutdownPort = {port}\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"), ADDRESS)


@pytest.fixture(scope="module")
def double(tmp_path_factory, pki):
    image = make_image(
        tmp_path_factory.mktemp("image"),
        files={ROOT + r"\Tomcat\conf\server.xml": b"<Server port='-1'/>\r\n"},
        windows={"computer_name": "TEST31"},
    )
    config = DoubleConfig(
        host="test31",
        image=image,
        address=ADDRESS,
        https_port=0,
        http_port=0,
        cert=pki.cert,
        key=pki.key,
        user=USER,
        password=PASSWORD,
    )
    with WinRMDouble(config) as running:
        yield running


@pytest.fixture
def settings(double, pki):
    return WinRMOptions(
        "https", double.port("https"), "basic", USER, pki.ca, connect_timeout=3
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        return probe.getsockname()[1]


def test_run_ps_returns_the_script_output(double, settings):
    # Given a session to the double
    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        # When the collector script runs
        result = session.run_ps(collector_script())

    # Then its stdout is the JSON document, without byte order mark
    assert result.status == 0
    facts = json.loads(result.stdout)
    assert facts["computer_name"] == "TEST31"
    assert facts["files"]["server_xml"]["b64"] == "PFNlcnZlciBwb3J0PSctMScvPg0K"


def test_progress_record_is_not_reported_as_an_error(double, settings):
    # Given a script that succeeds: powershell.exe still writes a progress
    # record to stderr ("Preparing modules for first use.")
    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        result = session.run_ps(collector_script())

    # Then nothing of it reaches the error text or the warnings
    assert result == PsResult(result.stdout, "", 0, ())
    assert result.ok


def test_error_records_become_plain_text(double, settings):
    # Given a script the double does not know
    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        result = session.run_ps("Get-Service WinRM")

    # Then the CLIXML error is decoded to readable text
    assert result.status == 1
    assert result.stderr_text.startswith("This WS-Management test double for test31")
    assert "_x000D_" not in result.stderr_text and "<S" not in result.stderr_text


def test_one_shell_serves_every_command_of_a_session(double, settings):
    # Given the double's request counters
    before = dict(double.service.counts)

    # When three scripts run in one session and the session closes
    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        for _ in range(3):
            assert session.run_ps(collector_script()).status == 0

    # Then one shell was created and deleted, and three commands ran in it
    counts = {k: v - before.get(k, 0) for k, v in double.service.counts.items()}
    assert counts["Create"] == 1
    assert counts["Delete"] == 1
    assert counts["Command"] == 3
    assert counts["Signal"] == 3


def test_an_expired_shell_is_replaced_once(double, settings):
    # Given a session whose shell the host has forgotten (idle timeout)
    creates = double.service.counts["Create"]
    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        session.run_ps(collector_script())
        double.service.forget_shells()

        # When the next script runs
        result = session.run_ps(collector_script())

    # Then it ran in a new shell
    assert result.status == 0
    assert double.service.counts["Create"] - creates == 2


def test_basic_over_plain_http_is_refused_clearly(double, pki):
    # Given the HTTP listener, which behaves like a hardened host
    settings = WinRMOptions(
        "http", double.port("http"), "basic", USER, connect_timeout=3
    )

    # When Basic credentials are sent over it
    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, PASSWORD).run_ps(collector_script())

    # Then the reason names the refusal of unencrypted Basic and the remedy
    error = caught.value
    assert error.host == "test31"
    assert error.source == f"WinRM http://{ADDRESS}:{double.port('http')}"
    assert error.reason.startswith(
        "server refused unencrypted Basic authentication over HTTP"
    )
    assert "it offers Negotiate" in error.reason
    assert "use scheme https" in error.reason


def test_wrong_password_is_an_authentication_error(double, settings):
    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, "not-the-password").run_ps(
            collector_script()
        )

    assert caught.value.reason == (
        "authentication refused (HTTP 401) — check the user and password reference"
    )


def test_connection_refused(settings):
    # Given an address where nothing listens
    closed = WinRMOptions("https", free_port(), "basic", USER, connect_timeout=3)

    started = time.monotonic()
    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, closed, PASSWORD).run_ps(collector_script())

    assert caught.value.reason == "connection refused"
    assert time.monotonic() - started < 3


@pytest.fixture
def black_hole():
    """A port whose SYNs go unanswered: its accept queue is full."""
    listener = socket.socket()
    listener.bind((ADDRESS, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect((ADDRESS, port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for sock in (*fillers, listener):
        sock.close()


def test_unreachable_host_fails_within_the_connect_timeout(black_hole):
    # Given a listener that never completes a TCP handshake, and a 1.5 s
    # connect timeout (reads would be allowed much longer)
    settings = WinRMOptions("https", black_hole, "basic", USER, connect_timeout=1.5)

    # When a script is run
    started = time.monotonic()
    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, PASSWORD).run_ps(collector_script())
    elapsed = time.monotonic() - started

    # Then it fails after the connect timeout, not after the read timeout
    assert caught.value.reason.startswith(
        "no answer within 1.5 s: the host is down or the traffic is filtered"
    )
    assert 1.4 < elapsed < 4


def test_certificate_from_another_ca_is_not_trusted(double, tmp_path):
    # Given a CA bundle that did not sign the listener certificate
    other = make_pki(tmp_path, ADDRESS, ca_name="Some Other Root CA")
    settings = WinRMOptions("https", double.port("https"), "basic", USER, other.ca)

    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, PASSWORD).run_ps(collector_script())

    assert caught.value.reason.startswith("TLS certificate not trusted: ")
    assert "self-signed" in caught.value.reason or "issuer" in caught.value.reason


def test_https_to_a_plain_http_port_says_so(double, pki):
    settings = WinRMOptions("https", double.port("http"), "basic", USER, pki.ca)

    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, PASSWORD).run_ps(collector_script())

    assert caught.value.reason.startswith("TLS handshake failed")
    assert caught.value.reason.endswith("(is this an HTTP listener?)")


def test_ignoring_the_certificate_works_only_when_configured(double, caplog):
    # Given validation explicitly switched off (lab setups only)
    settings = WinRMOptions(
        "https", double.port("https"), "basic", USER, validate_certificate=False
    )

    with caplog.at_level(logging.WARNING, logger="sphere_stig.transports.winrm"):
        with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
            result = session.run_ps(collector_script())

    # Then the script runs and the choice is logged as a warning
    assert result.status == 0
    assert "certificate validation" in caplog.text


def test_password_never_reaches_repr_or_logs(double, settings, caplog):
    session = WinRMSession("test31", ADDRESS, settings, PASSWORD)
    assert PASSWORD not in repr(session)
    assert repr(session) == (
        f"WinRMSession(host='test31', "
        f"url='https://{ADDRESS}:{settings.port}/wsman', "
        "auth='basic', user='LAB\\\\svc-stig')"
    )

    with caplog.at_level(logging.DEBUG):
        with session:
            session.run_ps(collector_script())
        with pytest.raises(CollectionError):
            WinRMSession("test31", ADDRESS, settings, PASSWORD + "x").run_ps("x")

    assert PASSWORD not in caplog.text
    assert f"RUN {HOST_FACTS.strip()}" in caplog.text
    assert "WinRM session to test31" in caplog.text and "opened" in caplog.text
    assert "closed" in caplog.text


def test_close_without_use_and_twice_is_harmless(settings):
    session = WinRMSession("test31", ADDRESS, settings, PASSWORD)
    session.close()
    session.close()


def test_inventory_settings_drive_the_session(double, pki):
    # Given the inventory's connections.winrm model, as the fact cache passes it
    from sphere_stig.inventory import WinRMSettings

    settings = WinRMSettings(
        scheme="https",
        port=double.port("https"),
        auth="basic",
        user=USER,
        ca_bundle=pki.ca,
        connect_timeout=3,
    )

    with WinRMSession("test31", ADDRESS, settings, PASSWORD) as session:
        result = session.run_ps(collector_script())

    assert result.status == 0


def test_missing_credentials_are_a_collection_error(double, settings):
    with pytest.raises(CollectionError) as caught:
        WinRMSession("test31", ADDRESS, settings, None).run_ps(collector_script())

    assert caught.value.reason == "no user or password configured for WinRM"


def test_endpoint_defaults():
    assert WinRMEndpoint("10.0.0.5").url == "https://10.0.0.5:5986/wsman"
    assert WinRMEndpoint("10.0.0.5", "http").effective_port == 5985
    assert WinRMEndpoint("10.0.0.5").source == "WinRM https://10.0.0.5:5986"
    assert WinRMEndpoint("fd00::5", port=15986).url == "https://[fd00::5]:15986/wsman"


# -- CLIXML decoding (no network) --------------------------------------------


def test_decode_clixml_drops_progress_and_keeps_errors():
    stderr = (DATA / "clixml_stderr.txt").read_text(encoding="utf-8")

    errors, warnings = decode_clixml(stderr)

    assert errors == (
        "Get-Acl : Cannot find path 'C:\\Program Files\\ISEC7 SPHERE\\Tomcat\\conf\\"
        "server.xml' because it does not exist.\n"
        "At line:1 char:1\n"
        "+ Get-Acl -LiteralPath $p"
    ).replace("\n", "\r\n")
    assert warnings == ("Get-NetTCPConnection is slow on this host.",)


def test_decode_clixml_progress_only_is_empty():
    stderr = (DATA / "clixml_progress_only.txt").read_text(encoding="utf-8")

    assert decode_clixml(stderr) == ("", ())
    # With code page 65001 the stream starts with a byte order mark.
    assert decode_clixml("\ufeff" + stderr) == ("", ())


def test_decode_clixml_leaves_plain_text_alone():
    assert decode_clixml("The command line is too long.\r\n") == (
        "The command line is too long.",
        (),
    )


def test_decode_clixml_keeps_broken_xml_as_text():
    errors, warnings = decode_clixml('#< CLIXML\r\n<Objs><S S="Error">cut off')

    assert errors == '<Objs><S S="Error">cut off'
    assert warnings and warnings[0].startswith("stderr is not valid CLIXML")
