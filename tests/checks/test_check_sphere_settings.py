"""log_destination (V-224766) and cac_login (V-224769): config.properties."""

import pytest
from check_facts import (
    ROOT,
    SERVER_XML_SOURCE,
    by_item,
    data_file,
    facts,
    remote_source,
    server_xml,
    windows_facts,
)

from sphere_stig.checks import REGISTRY, Inputs
from sphere_stig.checks.settings import cac_login, log_destination
from sphere_stig.outcome import CheckError, Status

SOURCE = remote_source("config_properties")
REGEX_LINE = "cacUserUIDRegex=^CN=[^0-9]*\\\\.([0-9]+),"
GOOD = (
    "# ISEC7 SPHERE server settings\r\n"
    "logPath=\\\\\\\\logs.lab.example\\\\sphere\r\n"
    f"{REGEX_LINE}\r\n"
    "cacUserUIDProperty=UserPrincipalName\r\n"
).encode()


def destination(value=r"\\logs.lab.example\sphere") -> Inputs:
    return Inputs(sphere_root=ROOT, values={"log_destination": value})


def logs(properties: bytes | None, inputs: Inputs | None = None):
    files = {} if properties is None else {"config_properties": properties}
    given = facts(windows_facts(None, files=files))
    return log_destination(given, inputs or destination())


def cac(inputs, properties: bytes | None, server=None):
    files = {} if properties is None else {"config_properties": properties}
    given = windows_facts(server or server_xml("hardened.xml"), files=files)
    return cac_login(facts(given), inputs)


@pytest.mark.parametrize("name", ["log_destination", "cac_login"])
def test_registered_with_windows_facts(name):
    assert REGISTRY[name].needs == ("windows",)


# -- log_destination -------------------------------------------------------------


def test_escaped_unc_path_passes():
    # Given logPath written with Java escapes, as the file must hold it
    verdict = logs(GOOD)

    # Then Java's value is compared, and the unprovable part is stated
    assert verdict.status is Status.PASS
    line = by_item(verdict, "logPath")
    assert (line.observed, line.source) == (
        "logPath=\\\\\\\\logs.lab.example\\\\sphere as written (Java reads "
        "\\\\logs.lab.example\\sphere): on the declared destination",
        SOURCE,
    )
    assert by_item(verdict, "arriving").ok is None


@pytest.mark.parametrize(
    ("written", "declared", "status"),
    [
        (
            r"logPath=//LOGS.lab.example/Sphere/host01",
            r"\\logs.lab.example\sphere",
            Status.PASS,
        ),
        (
            r"logPath=\\\\logs.lab.example\\sphere\\",
            r"\\logs.lab.example\sphere\\",
            Status.PASS,
        ),
        (
            r"logPath=\\\\logs.lab.example\\sphere-old",
            r"\\logs.lab.example\sphere",
            Status.FAIL,
        ),
        (
            r"logPath=C:\\Program Files\\ISEC7 SPHERE\\logs",
            r"\\logs.lab.example\sphere",
            Status.FAIL,
        ),
        # A single backslash is an escape for Java: the share name is lost.
        (
            r"logPath=\\logs.lab.example\sphere",
            r"\\logs.lab.example\sphere",
            Status.FAIL,
        ),
    ],
)
def test_paths(written, declared, status):
    verdict = logs(f"{written}\r\n".encode(), destination(declared))

    assert verdict.status is status


def test_test_data_file_uses_the_last_definition():
    verdict = logs(
        data_file("properties", "config.properties"), destination(r"\\logs.example.org")
    )

    assert verdict.status is Status.PASS


def test_missing_log_path_fails():
    verdict = logs(b"# nothing\r\nother=1\r\n")

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "logPath").observed == "no logPath line"


def test_key_hidden_by_a_byte_order_mark_fails():
    verdict = logs(b"\xef\xbb\xbf" + GOOD[GOOD.index(b"logPath") :])

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "logPath").observed.startswith(
        "no logPath line that Java can see: line 1 defines it, but the file starts "
        "with a UTF-8 byte-order mark"
    )


def test_missing_input_is_not_reviewed():
    verdict = logs(GOOD, Inputs(sphere_root=ROOT))

    assert verdict.status is Status.NOT_REVIEWED


def test_missing_file_is_an_error():
    with pytest.raises(CheckError, match=r"conf\\config.properties does not exist"):
        logs(None)


# -- cac_login -------------------------------------------------------------------


def test_all_three_settings_pass(inputs):
    verdict = cac(inputs, GOOD)

    assert verdict.status is Status.PASS
    regex = by_item(verdict, "cacUserUIDRegex")
    assert (regex.observed, regex.expected, regex.source) == (
        f"{REGEX_LINE} as written",
        f"the line {REGEX_LINE}",
        SOURCE,
    )
    client = by_item(verdict, "client certificates")
    assert (client.observed, client.source) == (
        'SSLHostConfig certificateVerification="required": Tomcat requires a client '
        "certificate",
        SERVER_XML_SOURCE,
    )
    # The STIG's own conflict and the console option are recorded, not judged.
    assert by_item(verdict, "sample connector").ok is None
    assert 'certificateVerification="false"' in by_item(verdict, "sample").observed
    assert by_item(verdict, "console option").ok is None


def test_legacy_client_auth_true_counts(inputs):
    verdict = cac(inputs, GOOD, server_xml("legacy-attributes.xml"))

    assert verdict.status is Status.PASS
    assert by_item(verdict, "client certificates").observed == (
        'Connector clientAuth="true": Tomcat requires a client certificate'
    )


@pytest.mark.parametrize(
    ("attributes", "observed"),
    [
        (
            'certificateVerification="false"',
            "Tomcat does not ask for a client certificate",
        ),
        (
            'certificateVerification="optional"',
            "Tomcat asks for a client certificate but lets",
        ),
        (
            "",
            'certificateVerification absent: Tomcat default "none": Tomcat does not',
        ),
    ],
)
def test_client_certificate_not_required_fails(attributes, observed, inputs):
    server = (
        '<Server><Service name="S"><Connector port="443" SSLEnabled="true">'
        f"<SSLHostConfig {attributes}/></Connector></Service></Server>"
    ).encode()

    verdict = cac(inputs, GOOD, server)

    assert verdict.status is Status.FAIL
    assert observed in by_item(verdict, "client certificates").observed


def test_unknown_value_falls_back_to_required(inputs):
    server = (
        b'<Server><Service name="S"><Connector port="443" SSLEnabled="true" '
        b'clientAuth="always"/></Service></Server>'
    )

    verdict = cac(inputs, GOOD, server)

    assert by_item(verdict, "client certificates").observed.endswith(
        '("always" is not a value Tomcat knows; it falls back to required)'
    )


def test_unescaped_regex_fails_with_the_reason(inputs):
    text = GOOD.replace(b"*\\\\.", b"*\\.")

    verdict = cac(inputs, text)

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "cacUserUIDRegex").observed == (
        "cacUserUIDRegex=^CN=[^0-9]*\\.([0-9]+), as written; with one backslash "
        "Java reads the dot as 'any character', not as a literal dot"
    )


def test_missing_property_line_fails(inputs):
    verdict = cac(
        inputs, GOOD.replace(b"cacUserUIDProperty=UserPrincipalName\r\n", b"")
    )

    assert verdict.status is Status.FAIL
    assert (
        by_item(verdict, "cacUserUIDProperty").observed == "no cacUserUIDProperty line"
    )


def test_last_definition_wins_and_is_named(inputs):
    verdict = cac(inputs, data_file("properties", "config.properties"))

    assert by_item(verdict, "cacUserUIDProperty").observed == (
        "cacUserUIDProperty=UserPrincipalName as written (line 9; Java ignores the "
        "earlier definitions on lines 4 and 8)"
    )
    assert by_item(verdict, "cacUserUIDProperty").ok is True


def test_other_property_value_fails(inputs):
    text = GOOD.replace(b"=UserPrincipalName", b"=sAMAccountName")

    assert cac(inputs, text).status is Status.FAIL


def test_missing_connector_fails(inputs):
    verdict = cac(inputs, GOOD, server_xml("commented-connector.xml"))

    assert verdict.status is Status.FAIL
    assert by_item(verdict, "Connector on port 443").ok is False


def test_missing_config_properties_is_an_error(inputs):
    with pytest.raises(CheckError, match="site.sphere_root"):
        cac(inputs, None)
