"""connection_limits (V-224760): documented maxConnections and maxThreads."""

import pytest
from check_facts import (
    ROOT,
    SERVER_XML_PATH,
    SERVER_XML_SOURCE,
    by_item,
    facts,
    server_xml,
    windows_facts,
)

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.connector import connection_limits
from sphere_stig.outcome import CheckError, Status


def documented(connections=1000, threads=150) -> Inputs:
    return Inputs(
        sphere_root=ROOT,
        values={"max_connections": connections, "max_threads": threads},
    )


def connector(attributes: str) -> bytes:
    return (
        '<Server port="-1"><Service name="Catalina">'
        f'<Connector port="443" SSLEnabled="true" {attributes}>'
        '<SSLHostConfig><Certificate certificateKeystoreType="Windows-MY"/>'
        "</SSLHostConfig></Connector></Service></Server>"
    ).encode()


def run(data: bytes, inputs: Inputs | None = None):
    return connection_limits(facts(windows_facts(data)), inputs or documented())


def test_registered_with_windows_facts():
    assert REGISTRY["connection_limits"].needs == ("windows",)


def test_documented_values_pass():
    # Given maxThreads="150" maxConnections="1000" and the same documented values
    verdict = run(server_xml("hardened.xml"))

    # Then both are judged and the inferred console mapping is recorded
    assert verdict.status is Status.PASS
    line = by_item(verdict, "maxConnections")
    assert (line.observed, line.expected, line.source, line.ok) == (
        'maxConnections="1000": 1000 simultaneous connections',
        'maxConnections="1000" (the documented value, input max_connections)',
        SERVER_XML_SOURCE,
        True,
    )
    assert by_item(verdict, "maxThreads").observed == (
        'maxThreads="150": 150 worker threads'
    )
    assert "inferred" in by_item(verdict, "console setting").observed


def test_absent_attributes_are_tomcat_defaults_and_judged():
    # Given a connector without either attribute
    verdict = run(server_xml("missing-attributes.xml"))

    # Then Tomcat's defaults are reported as such and differ from the documents
    assert verdict.status is Status.FAIL
    assert by_item(verdict, "maxConnections").observed == (
        "maxConnections absent (Tomcat default 8192): 8192 simultaneous connections"
    )
    assert by_item(verdict, "maxThreads").observed == (
        "maxThreads absent (Tomcat default 200): 200 worker threads"
    )
    assert verdict.summary.startswith(
        "The connector on port 443 does not have the documented limits: "
        "maxConnections absent (Tomcat default 8192)"
    )


def test_defaults_that_match_the_documents_pass():
    # Given documented values that happen to be Tomcat's defaults
    verdict = run(server_xml("missing-attributes.xml"), documented(8192, 200))

    # Then the defaults pass, still named as defaults
    assert verdict.status is Status.PASS
    assert by_item(verdict, "maxThreads").observed.startswith("maxThreads absent")


def test_legacy_file_has_threads_but_no_connection_limit():
    verdict = run(server_xml("legacy-attributes.xml"), documented(8192, 200))

    assert verdict.status is Status.PASS
    assert by_item(verdict, "maxThreads").observed.startswith('maxThreads="200"')


@pytest.mark.parametrize(
    ("attributes", "item", "observed"),
    [
        (
            'maxConnections="-1" maxThreads="150"',
            "maxConnections",
            'maxConnections="-1": no limit on simultaneous connections',
        ),
        (
            'maxConnections="1000" maxThreads="lots"',
            "maxThreads",
            'maxThreads="lots" is not an integer, so Tomcat ignores it and uses its '
            "default 200: 200 worker threads",
        ),
        (
            'maxConnections="1000" maxThreads="300"',
            "maxThreads",
            'maxThreads="300": 300 worker threads',
        ),
    ],
)
def test_values_that_differ_fail(attributes, item, observed):
    verdict = run(connector(attributes))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, item).observed == observed
    assert by_item(verdict, item).ok is False


def test_inputs_written_as_text_are_read_as_numbers():
    verdict = run(server_xml("hardened.xml"), documented("1000", "150"))

    assert verdict.status is Status.PASS


@pytest.mark.parametrize("missing", ["max_connections", "max_threads"])
def test_missing_input_is_not_reviewed(missing):
    # Given the organisation has not documented one of the limits
    values = {"max_connections": 1000, "max_threads": 150}
    del values[missing]

    # When the check runs
    verdict = run(server_xml("hardened.xml"), Inputs(sphere_root=ROOT, values=values))

    # Then it cannot be judged
    assert verdict.status is Status.NOT_REVIEWED
    assert verdict.evidence[0].item == f"input {missing}"


def test_input_that_is_not_a_number_is_an_error():
    with pytest.raises(CheckError, match="the input max_threads is 'many'"):
        run(server_xml("hardened.xml"), documented(1000, "many"))


def test_shared_executor_is_not_guessed():
    # Given a connector that takes its threads from an Executor element
    data = connector('executor="tomcatThreadPool" maxConnections="1000"')

    # Then the check refuses rather than judge the ignored maxThreads
    with pytest.raises(CheckError, match='uses the shared Executor "tomcatThreadPool"'):
        run(data)


def test_commented_out_connector_fails():
    verdict = run(server_xml("commented-connector.xml"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "Connector on port 443").observed == (
        "no active Connector on port 443 (active connectors: port 80)"
    )


def test_utf16_server_xml_is_read():
    assert run(server_xml("hardened-utf16le.xml")).status is Status.PASS


def test_placeholder_limit_without_a_value_is_an_error():
    data = connector('maxConnections="${max.connections}" maxThreads="150"')

    with pytest.raises(CheckError, match=r"maxConnections uses \$\{max.connections\}"):
        run(data)


def test_placeholder_limit_resolved_from_catalina_properties():
    data = connector('maxConnections="${max.connections}" maxThreads="150"')
    given = windows_facts(data, catalina_properties=b"max.connections=1000\r\n")

    assert connection_limits(facts(given), documented()).status is Status.PASS


def test_missing_server_xml_names_the_inventory_key():
    with pytest.raises(CheckError) as raised:
        run(None)

    assert str(raised.value).startswith(f"sphere01: {SERVER_XML_PATH} does not exist")
    assert "site.sphere_root" in str(raised.value)
