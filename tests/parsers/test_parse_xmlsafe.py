"""Safe XML parsing: encodings, hostile documents, comments, namespaces."""

from pathlib import Path

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.xmlsafe import (
    child,
    child_text,
    children,
    descendants,
    local_name,
    parse_xml,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SERVER_XML = DATA / "server-xml"
SOURCE = r"sphere01: C:\Program Files\ISEC7 SPHERE\Tomcat\conf\server.xml"


@pytest.mark.parametrize(
    "name",
    [
        "hardened.xml",
        "hardened-utf8-bom.xml",
        "hardened-utf16le.xml",
        "hardened-utf16be.xml",
    ],
)
def test_every_supported_encoding_yields_the_same_tree(name):
    # Given the same server.xml as UTF-8, UTF-8 with BOM and UTF-16 LE/BE
    data = (SERVER_XML / name).read_bytes()

    # When it is parsed
    root = parse_xml(data, SOURCE)

    # Then the elements and attribute values are the same in every encoding
    assert root.tag == "Server"
    assert root.attrib == {"port": "-1", "shutdown": "-1"}
    connector = children(child(root, "Service"), "Connector")[1]
    assert connector.get("port") == "443"
    assert child(connector, "SSLHostConfig").get("protocols") == "+TLSv1.2,+TLSv1.3"


def test_commented_out_elements_do_not_exist():
    # Given hardened.xml, which has an 8443 connector inside a comment
    root = parse_xml((SERVER_XML / "hardened.xml").read_bytes(), SOURCE)

    # When the connectors are listed
    ports = [c.get("port") for c in descendants(root, "Connector")]

    # Then only the two active ones are there
    assert ports == ["80", "443"]


def test_entity_bomb_is_refused_without_expansion():
    # Given a billion-laughs document
    data = (SERVER_XML / "entity-bomb.xml").read_bytes()

    # When it is parsed, then the DTD is refused with the source named
    with pytest.raises(CheckError) as raised:
        parse_xml(data, SOURCE)
    message = str(raised.value)
    assert message.startswith(SOURCE + ": the file declares a DTD or entities")
    assert "<!DOCTYPE Server>" in message
    assert "remove it and run again" in message


def test_external_entity_is_refused():
    # Given a document that would read a local file through an entity
    data = (SERVER_XML / "external-entity.xml").read_bytes()

    # When it is parsed, then it is refused before anything is resolved
    with pytest.raises(CheckError, match="declares a DTD or entities"):
        parse_xml(data, SOURCE)


def test_truncated_file_is_reported_as_truncated():
    # Given server.xml cut off in the middle
    data = (SERVER_XML / "truncated.xml").read_bytes()

    # When it is parsed, then the message says where and what to do
    with pytest.raises(CheckError) as raised:
        parse_xml(data, SOURCE)
    assert str(raised.value) == (
        f"{SOURCE}: the XML ends before its root element is closed (line 22, "
        "column 0), so the file is truncated or was being written while it was "
        "read; compare it with the last known good copy, repair it and run again"
    )


def test_utf16_bytes_declaring_utf8_are_refused_with_the_reason():
    # Given a file saved as UTF-16 whose declaration still says UTF-8
    data = (SERVER_XML / "utf16le-declares-utf8.xml").read_bytes()

    # When it is parsed, then both the byte-order mark and the declaration are named
    with pytest.raises(CheckError) as raised:
        parse_xml(data, SOURCE)
    assert "starts with a UTF-16 byte-order mark but declares encoding 'UTF-8'" in str(
        raised.value
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "the file is empty"),
        (b"  \r\n", "the file is empty"),
        (b"<Server><Service></Server>", "not well-formed XML (mismatched tag"),
        (b"<Server>&undefined;</Server>", "not well-formed XML (undefined entity"),
    ],
)
def test_broken_documents_raise_check_errors(data, fragment):
    # Given an empty or malformed document, when it is parsed,
    # then a CheckError names the source and the defect
    with pytest.raises(CheckError) as raised:
        parse_xml(data, SOURCE)
    assert str(raised.value).startswith(SOURCE + ": ")
    assert fragment in str(raised.value)


def test_lookups_ignore_namespaces():
    # Given Debian's web.xml in the Jakarta EE namespace
    root = parse_xml((DATA / "tomcat10-debian" / "web.xml").read_bytes(), "web.xml")

    # When elements are looked up by local name
    session = child(root, "session-config")

    # Then the namespace does not get in the way
    assert local_name(root.tag) == "web-app"
    assert root.tag == "{https://jakarta.ee/xml/ns/jakartaee}web-app"
    assert child_text(session, "session-timeout") == "30"
    assert child(root, "no-such-element") is None
    assert child_text(root, "no-such-element") is None
