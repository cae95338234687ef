"""shutdown_port (V-224789): the literal STIG check recorded, the intent judged."""

import pytest
from check_facts import (
    SERVER_XML_SOURCE,
    by_item,
    facts,
    server_xml,
    windows_facts,
)

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.shutdown import shutdown_port
from sphere_stig.facts import Listener
from sphere_stig.outcome import CheckError, Status

NOTE = (
    "the STIG text names the shutdown attribute, but Tomcat reads it only as the "
    'command word; the listener is disabled with port="-1"'
)


def test_registered_with_windows_facts_only():
    assert REGISTRY["shutdown_port"].needs == ("windows",)


def test_port_minus_one_passes(inputs):
    # Given Server port="-1" shutdown="-1"
    verdict = shutdown_port(facts(windows_facts(server_xml("hardened.xml"))), inputs)

    # Then it passes on the port, and the literal check is recorded as info
    assert verdict.status is Status.PASS
    literal = by_item(verdict, "literal STIG check")
    assert literal.observed == f'shutdown="-1" (the literal STIG check passes); {NOTE}'
    assert literal.expected == 'shutdown="-1" as the STIG check text asks'
    assert literal.ok is None
    port = by_item(verdict, "Server port")
    assert port.observed == 'port="-1": Tomcat opens no shutdown listener'
    assert port.ok is True
    assert port.source == SERVER_XML_SOURCE


def test_literal_pass_with_open_port_fails(inputs):
    # Given shutdown="-1" but port="8005", and Tomcat listening there
    listeners = (Listener("127.0.0.1", 8005, "tomcat9"),)
    given = facts(windows_facts(server_xml("drifted.xml"), listeners=listeners))

    # When the check runs
    verdict = shutdown_port(given, inputs)

    # Then the listener decides, whatever the literal check says
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "literal STIG check").observed.startswith(
        'shutdown="-1" (the literal STIG check passes)'
    )
    assert by_item(verdict, "Server port").observed == (
        'port="8005": Tomcat opens a shutdown listener on localhost:8005'
    )
    listener = by_item(verdict, "listener on the shutdown port 8005")
    assert listener.observed == (
        "something listens on the shutdown port: 127.0.0.1:8005 (tomcat9)"
    )
    assert listener.source == "sphere01: listening TCP sockets (Get-NetTCPConnection)"
    assert verdict.summary == (
        "Tomcat's shutdown listener is open: something listens on the shutdown "
        "port: 127.0.0.1:8005 (tomcat9)"
    )


def test_configured_port_with_nothing_listening_passes(inputs):
    # Given port 8005 configured but no socket on it
    given = facts(windows_facts(server_xml("drifted.xml")))

    # When the check runs
    verdict = shutdown_port(given, inputs)

    # Then the rule's intent holds and the evidence says why
    assert verdict.status is Status.PASS
    assert by_item(verdict, "listener on the shutdown port").observed == (
        "nothing listens on TCP 8005, so Tomcat is not running with this "
        "configuration or could not open the port"
    )


def test_defaults_hide_the_command_word_only_when_custom(inputs):
    # Given no port and no shutdown attribute (Tomcat's 8005 / SHUTDOWN)
    listeners = (Listener("127.0.0.1", 8005, "tomcat9"),)
    given = facts(
        windows_facts(server_xml("missing-attributes.xml"), listeners=listeners)
    )

    # When the check runs
    verdict = shutdown_port(given, inputs)

    # Then the defaults are named and the verdict fails
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "literal STIG check").observed.startswith(
        'shutdown absent, so Tomcat uses the command word "SHUTDOWN" '
        "(the literal STIG check fails)"
    )
    assert by_item(verdict, "Server port").observed == (
        "port absent (Tomcat default 8005): Tomcat opens a shutdown listener on "
        "localhost:8005"
    )


def test_custom_command_word_is_not_shown(inputs):
    # Given a secret command word
    data = b'<Server port="8005" shutdown="Xyzzy-Secret"><Service name="S"/></Server>'

    # When the check runs
    verdict = shutdown_port(facts(windows_facts(data)), inputs)

    # Then the word is not in the evidence
    assert "Xyzzy-Secret" not in verdict.details()
    assert (
        "custom command word, not shown"
        in by_item(verdict, "literal STIG check").observed
    )


def test_port_offset_moves_the_listener(inputs):
    # Given port 8005 with portOffset 100, something on 8105, and the probe
    # pointed at 8105
    data = (
        b'<Server port="8005" portOffset="100" shutdown="-1">'
        b'<Service name="S"/></Server>'
    )
    listeners = (Listener("127.0.0.1", 8105, "tomcat9"),)
    probe = Inputs(values={"shutdown_port_probe": 8105})

    # When the check runs
    verdict = shutdown_port(facts(windows_facts(data, listeners=listeners)), probe)

    # Then the shifted port is the one looked up
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "Server port").observed == (
        'port="8005" plus portOffset 100: Tomcat opens a shutdown listener on '
        "localhost:8105"
    )
    assert by_item(verdict, "listener on the shutdown port 8105").ok is False


def test_port_not_covered_by_the_probe_is_an_error(inputs):
    # Given server.xml on port 8006 while the collector probed 8005
    data = b'<Server port="8006"><Service name="S"/></Server>'

    # Then the check names the input to change instead of guessing
    with pytest.raises(CheckError) as raised:
        shutdown_port(facts(windows_facts(data)), inputs)
    assert str(raised.value).endswith(
        "Tomcat opens its shutdown listener on port 8006, but the host facts looked "
        "for listeners on port 8005 only; set the host input shutdown_port_probe to "
        "8006 in the inventory and run again"
    )


def test_port_zero_fails(inputs):
    # Given port="0", which makes Tomcat pick a random port
    data = b'<Server port="0"><Service name="S"/></Server>'

    # When the check runs, then it cannot be ruled out and fails
    verdict = shutdown_port(facts(windows_facts(data)), inputs)
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "random shutdown port").observed.startswith(
        'port="0" makes Tomcat'
    )
    assert by_item(verdict, "Server port").observed == (
        'port="0": Tomcat opens a shutdown listener on a random port of localhost'
    )


def test_failed_listener_query_is_an_error(inputs):
    # Given the collector's listener query failed on the host
    given = facts(
        windows_facts(
            server_xml("drifted.xml"), warnings=("listeners: Access is denied",)
        )
    )

    # Then the check refuses to call the port closed
    with pytest.raises(CheckError, match=r"failed \(listeners: Access is denied\)"):
        shutdown_port(given, inputs)


def test_unresolved_port_placeholder_is_an_error(inputs):
    # Given Server port="${shutdown.port}" with no definition
    given = facts(windows_facts(server_xml("placeholders.xml")))

    with pytest.raises(CheckError, match=r"Server port uses \$\{shutdown.port\}"):
        shutdown_port(given, inputs)


def test_placeholder_resolved_from_service_option(inputs):
    # Given the port from a -D option of the Tomcat service
    given = facts(
        windows_facts(
            server_xml("placeholders.xml"), java_options=("-Dshutdown.port=-1",)
        )
    )

    # When the check runs, then it judges the resolved value
    verdict = shutdown_port(given, inputs)
    assert verdict.status is Status.PASS
    assert by_item(verdict, "Server port").observed == (
        'port="-1": Tomcat opens no shutdown listener'
    )
