"""Safe XML parsing for configuration files read from a host.

Every XML file the suite reads comes from a machine it audits, so the parser
treats the bytes as hostile: a document type declaration (and with it entity
expansion and external entities) is refused outright, never expanded. Tomcat's
own configuration files never need a DTD.

The encoding is left to expat, which follows the XML specification: a UTF-8
or UTF-16 byte-order mark, or the encoding named in the XML declaration, or
UTF-8. Comments and processing instructions are dropped by the tree builder,
so an element inside ``<!-- -->`` does not exist for any caller.

Element lookups ignore namespaces: ``web.xml`` carries the Java EE or Jakarta
EE namespace depending on its version, ``tomcat-users.xml`` sometimes carries
Tomcat's own, and the checks only care about local names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sphere_stig.outcome import CheckError

__all__ = [
    "Element",
    "child",
    "child_text",
    "children",
    "descendants",
    "local_name",
    "parse_xml",
]

_BOMS = (
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)

_DECLARED_ENCODING = re.compile(
    rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)"""
)


def parse_xml(data: bytes, source: str) -> Element:
    """Parse ``data`` into an element tree, or raise ``CheckError``.

    ``source`` names where the bytes came from (host and path); it opens
    every error message, which also says what to do next.
    """
    if not data.strip():
        raise CheckError(
            f"{source}: the file is empty; restore it from a backup or the "
            "installation media (Tomcat cannot start with an empty file either)"
        )
    try:
        return fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise CheckError(
            f"{source}: the file declares a DTD or entities "
            f"({_describe_defused(exc)}); the suite refuses to expand them "
            "because that is how entity-expansion and external-entity attacks "
            "work. Tomcat's configuration files never need a DOCTYPE: find out "
            "who added it, remove it and run again"
        ) from exc
    except ParseError as exc:
        raise CheckError(f"{source}: {_describe_parse_error(data, exc)}") from exc


def _describe_defused(exc: DefusedXmlException) -> str:
    name = getattr(exc, "name", None)
    if type(exc).__name__ == "DTDForbidden":
        return f"<!DOCTYPE {name}>"
    if type(exc).__name__ == "EntitiesForbidden":
        return f"entity {name}"
    return f"external reference {getattr(exc, 'sysid', None) or name}"


def _describe_parse_error(data: bytes, exc: ParseError) -> str:
    line, column = getattr(exc, "position", (0, 0))
    where = f"line {line}, column {column}"
    reason = str(exc).split(":")[0]
    if "encoding specified in XML declaration is incorrect" in str(exc):
        return (
            f"the XML declaration names an encoding the bytes do not have ({where}): "
            f"{_encoding_story(data)}. Java's parser refuses such a file as well, so "
            "Tomcat would not start with it; save the file again in the encoding "
            "its declaration names and run again"
        )
    if "no element found" in str(exc):
        return (
            f"the XML ends before its root element is closed ({where}), so the "
            "file is truncated or was being written while it was read; compare it "
            "with the last known good copy, repair it and run again"
        )
    return (
        f"the file is not well-formed XML ({reason} at {where}); Tomcat would refuse "
        "it as well. Repair the file and run again"
    )


def _encoding_story(data: bytes) -> str:
    detected = "no byte-order mark"
    for bom, name in _BOMS:
        if data.startswith(bom):
            detected = f"a {name} byte-order mark"
            break
    text = data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        text = data[2:].decode(codec, errors="replace").encode("ascii", "replace")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = data[3:]
    declared = _DECLARED_ENCODING.match(text)
    named = declared.group(1).decode("ascii") if declared else "none"
    return f"the file starts with {detected} but declares encoding {named!r}"


def local_name(tag: str) -> str:
    """``{namespace}name`` -> ``name``; a name without namespace is returned as is."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def children(element: Element, name: str) -> list[Element]:
    """Direct children whose local name is ``name``, in document order."""
    return [c for c in element if isinstance(c.tag, str) and local_name(c.tag) == name]


def child(element: Element, name: str) -> Element | None:
    """The first direct child named ``name``, or None."""
    found = children(element, name)
    return found[0] if found else None


def child_text(element: Element, name: str) -> str | None:
    """The stripped text of the first child named ``name`` (None if absent)."""
    found = child(element, name)
    if found is None:
        return None
    return (found.text or "").strip()


def descendants(element: Element, name: str) -> Iterator[Element]:
    """Every element below ``element`` (not itself) with local name ``name``."""
    for node in element.iter():
        if (
            node is not element
            and isinstance(node.tag, str)
            and local_name(node.tag) == name
        ):
            yield node
