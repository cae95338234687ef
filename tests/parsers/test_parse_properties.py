"""Java .properties files.

Every expected value below was confirmed by loading the same bytes with
java.util.Properties.load(InputStream) on OpenJDK 17.
"""

from pathlib import Path

import pytest

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.properties import parse_properties

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCE = r"sphere01: C:\Program Files\ISEC7 SPHERE\conf\config.properties"


def test_sphere_config_properties():
    # Given a Windows-edited config.properties
    properties = parse_properties(
        (DATA / "properties" / "config.properties").read_bytes()
    )

    # Then values are unescaped as Java does
    assert properties.get("logPath") == r"\\logs.example.org\sphere"
    assert properties.get("cacUserUIDRegex") == r"^CN=[^0-9]*\.([0-9]+),"
    assert properties.get("mailRecipients") == "isso@example.org,sa@example.org"
    # and the last of three definitions wins
    assert properties.get("cacUserUIDProperty") == "UserPrincipalName"
    assert properties.entry("cacUserUIDProperty").line_number == 9
    assert sorted(properties) == [
        "cacUserUIDProperty",
        "cacUserUIDRegex",
        "logPath",
        "mailRecipients",
    ]


def test_raw_line_keeps_the_text_as_written():
    # Given the V-224769 line, whose file text holds two backslashes
    properties = parse_properties(
        (DATA / "properties" / "config.properties").read_bytes()
    )

    # Then the raw line and raw value are the file's text, without the CRLF
    assert (
        properties.raw_line("cacUserUIDRegex")
        == r"cacUserUIDRegex=^CN=[^0-9]*\\.([0-9]+),"
    )
    assert properties.entry("cacUserUIDRegex").raw_value == r"^CN=[^0-9]*\\.([0-9]+),"
    assert properties.raw_line("mailRecipients") == (
        "mailRecipients=isso@example.org,\\\n    sa@example.org"
    )
    assert properties.raw_line("missing") is None


def test_debian_catalina_properties():
    # Given Debian's stock catalina.properties
    properties = parse_properties(
        (DATA / "tomcat10-debian" / "catalina.properties").read_bytes()
    )

    # Then its nine keys load, continued lines joined
    assert len(properties) == 9
    assert properties.get("package.definition") == (
        "sun.,java.,org.apache.catalina.,org.apache.coyote.,org.apache.jasper.,"
        "org.apache.naming.,org.apache.tomcat."
    )
    assert properties.get("server.loader") == ""
    assert properties.get("tomcat.util.scan.StandardJarScanFilter.jarsToScan") == (
        "log4j-taglib*.jar,log4j-jakarta-web*.jar,log4javascript*.jar,slf4j-taglib*.jar"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # separators: =, :, white space, white space around them
        (
            b"a=1\nb:2\nc 3\n  d  =  :4 \ne==5\nf :=6",
            {
                "a": "1",
                "b": "2",
                "c": "3",
                "d": ":4 ",
                "e": "=5",
                "f": "=6",
            },
        ),
        # escapes in keys and values
        (
            b"f\\ g=h\n\\#h=8\ne=\\u0041\\t\\=\\:\\\\q",
            {
                "f g": "h",
                "#h": "8",
                "e": "A\t=:\\q",
            },
        ),
        # a comment line never continues; a continued line may start with #
        (b"# c \\\na=1\nx=a\\\n# not a comment", {"a": "1", "x": "a# not a comment"}),
        # an even number of trailing backslashes does not continue
        (b"j=trailing\\\\\nk=v", {"j": "trailing\\", "k": "v"}),
        # a blank line ends a continuation; a trailing backslash at EOF is dropped
        (b"a=1\\\n\nb=2\\", {"a": "1", "b": "2"}),
        # \r, \n and \r\n all end lines; a key alone has an empty value
        (b"a=1\rb=2\r\nc\n", {"a": "1", "b": "2", "c": ""}),
        # ISO 8859-1 bytes
        (b"lat=\xe9", {"lat": "\u00e9"}),
    ],
)
def test_java_semantics(text, expected):
    # Given properties text, when loaded, then Java's rules give these pairs
    assert parse_properties(text).as_dict() == expected


def test_utf8_bom_becomes_part_of_the_first_key():
    # Given a file saved by an editor that adds a UTF-8 BOM
    properties = parse_properties(b"\xef\xbb\xbfkey=v\nother=w")

    # Then, as in Java, the first key is not "key" and the BOM is flagged
    assert properties.starts_with_bom
    assert "key" not in properties
    assert properties.get("other") == "w"


def test_malformed_unicode_escape_is_a_check_error():
    # Given a broken \\u escape, then the error names source and line
    with pytest.raises(CheckError) as raised:
        parse_properties(b"a=1\nb=\\u00g1\n", SOURCE)
    assert str(raised.value).startswith(f"{SOURCE}: line 2: malformed \\uXXXX escape")
