"""Derive a runnable Linux server.xml from a lab host image's Windows one.

The image's ``server.xml`` is what the suite reads over WinRM; the live
Tomcat must show the same behaviour to the network probes. So the
derivation keeps every port, protocol, cipher, realm and limit as it is and
changes only what cannot run on a shared Linux loopback. Each change is
returned as a ``Change`` so that ``lab/up`` can record it:

===========================================  ==================================
Windows image                                Linux lab
===========================================  ==================================
Connector without ``address`` (all NICs)     ``address`` = the host's 127.0.0.x
Server ``port`` other than -1 (localhost)    Server ``address`` = the host's IP
``certificateKeystoreType="Windows-MY"``     PKCS12 file from the lab PKI, same
                                             alias, password from lab secrets
keystore file (``conf/https.pfx``)           same path; the lab copies the
                                             host's PKCS12 there and sets its
                                             generated password
``certificateVerification="required"``       ``"optional"`` plus a trust store
                                             holding the lab root (see below)
``C:\\Program Files\\ISEC7 SPHERE\\Tomcat\\x``  ``<CATALINA_BASE>/x``
``C:\\Program Files\\ISEC7 SPHERE\\x``          ``<CATALINA_BASE>/sphere/x``
===========================================  ==================================

Why "required" becomes "optional": with "required" the live Tomcat aborts
every handshake that brings no client certificate, so sslyze, openssl and
the HTTP banner probe could not connect at all. "optional" is the nearest
setting that still asks every client for a certificate (the
CertificateRequest names the lab root, standing in for the Windows-ROOT
store the real service trusts) while letting a probe without one finish the
handshake. The file checks still see "required" in the image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from xml.etree.ElementTree import Element, tostring

from defusedxml.ElementTree import fromstring

from lab.hosts import SPHERE_ROOT_WINDOWS

# Spellings Tomcat reads as "client certificate required".
_REQUIRED = {"required", "require", "true", "yes"}
# What Tomcat's "all" stands for in SSLHostConfig@protocols.
_ALL_PROTOCOLS = ("SSLv2Hello", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Tomcat's own default when SSLHostConfig has no protocols attribute.
DEFAULT_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.3"})
# Protocols Java 17 disables in jdk.tls.disabledAlgorithms that the lab
# must re-enable when an image asks for them.
LEGACY_TLS = ("TLSv1", "TLSv1.1")
# Connector-level SSL attributes of Tomcat 8.5/9. Tomcat 10.1 no longer reads
# them, so an image that uses them would run differently in the lab.
_LEGACY_CONNECTOR_SSL = (
    "clientAuth",
    "keystoreFile",
    "keystorePass",
    "keystoreType",
    "keyAlias",
    "sslProtocol",
    "sslEnabledProtocols",
    "ciphers",
    "truststoreFile",
)
_WINDOWS_DRIVE_PATH = re.compile(r"^[A-Za-z]:[\\/]")
SECRET = "(lab secret)"


@dataclass(frozen=True)
class Keystore:
    path: Path
    password: str


@dataclass(frozen=True)
class Target:
    """Where and with what the derived server.xml will run."""

    address: str
    base: Path
    # The host's PKCS12 from the lab PKI: replaces Windows-MY and fills the
    # keystore files the image names.
    keystore: Keystore
    # Trust anchors for client certificates (the lab root).
    truststore: Keystore | None = None


@dataclass(frozen=True)
class Change:
    where: str
    attribute: str
    before: str | None
    after: str | None
    why: str

    def __str__(self) -> str:
        return (
            f"{self.where} @{self.attribute}: "
            f"{self.before!r} -> {self.after!r} ({self.why})"
        )


@dataclass(frozen=True)
class Listener:
    port: int
    kind: str  # "http", "https" or "shutdown"


@dataclass(frozen=True)
class Derived:
    xml: bytes
    changes: tuple[Change, ...]
    # Files (absolute, under the base) that must hold the host's keystore.
    keystore_copies: tuple[Path, ...]
    # True when a connector enables TLS 1.0 or 1.1, which the JVM must be
    # told to allow.
    legacy_tls: bool
    listeners: tuple[Listener, ...]


def enabled_protocols(value: str | None) -> frozenset[str]:
    """The protocol set Tomcat builds from an SSLHostConfig@protocols value.

    Tokens are split before every "+", "-" and ","; "+x" adds, "-x" removes,
    a bare name adds, and "all" stands for every protocol Tomcat knows.
    """
    if value is None:
        return DEFAULT_PROTOCOLS
    enabled: set[str] = set()
    for token in re.split(r"(?=[-+,])", value):
        token = token.strip()
        if len(token) < 2:
            continue
        sign = token[0]
        name = token[1:].strip() if sign in "+-," else token
        names = set(_ALL_PROTOCOLS) if name.lower() == "all" else {name}
        if sign == "-":
            enabled -= names
        else:
            enabled |= names
    return frozenset(enabled)


def linux_path(windows_path: str, base: Path) -> Path:
    """Map a path under the Windows Sphere root into the lab's base.

    Paths outside the Sphere root have no place in the lab: they raise
    ValueError rather than being pointed somewhere arbitrary.
    """
    path = PureWindowsPath(windows_path)
    try:
        relative = path.relative_to(PureWindowsPath(SPHERE_ROOT_WINDOWS))
    except ValueError:
        raise ValueError(
            f"{windows_path!r} is outside {SPHERE_ROOT_WINDOWS!r}; "
            "the lab only knows how to map paths under the Sphere root"
        ) from None
    parts = relative.parts
    if parts and parts[0].lower() == "tomcat":
        return base.joinpath(*parts[1:])
    return base.joinpath("sphere", *parts)


def _parents(root: Element) -> dict[Element, Element]:
    return {child: parent for parent in root.iter() for child in parent}


def _label(element: Element, parents: dict[Element, Element]) -> str:
    steps = []
    node: Element | None = element
    while node is not None:
        step = node.tag
        if "port" in node.attrib and node.tag == "Connector":
            step += f"[port={node.get('port')}]"
        elif node.tag in ("Valve", "Realm", "Listener") and node.get("className"):
            step += f"[{node.get('className', '').rsplit('.', 1)[-1]}]"
        elif node.tag == "Context":
            step += f"[path={node.get('path', '')}]"
        steps.append(step)
        node = parents.get(node)
    return "/".join(reversed(steps))


class _Recorder:
    """Applies attribute changes and remembers each one."""

    def __init__(self, root: Element) -> None:
        self._parents = _parents(root)
        self.changes: list[Change] = []

    def set(
        self, element: Element, name: str, value: str, why: str, secret: bool = False
    ) -> None:
        before = element.get(name)
        if before == value:
            return
        element.set(name, value)
        shown_before = "(redacted)" if secret and before else before
        shown_after = SECRET if secret else value
        where = _label(element, self._parents)
        self.changes.append(Change(where, name, shown_before, shown_after, why))


def _check_supported(root: Element) -> None:
    if root.tag != "Server":
        raise ValueError(f"server.xml root is <{root.tag}>, expected <Server>")
    for connector in root.iter("Connector"):
        legacy = [a for a in _LEGACY_CONNECTOR_SSL if a in connector.attrib]
        if legacy:
            raise ValueError(
                f"Connector port {connector.get('port')} uses {', '.join(legacy)}: "
                "Tomcat 10.1 ignores these; write them on SSLHostConfig instead"
            )


def _map_windows_paths(root: Element, target: Target, rec: _Recorder) -> None:
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if _WINDOWS_DRIVE_PATH.match(value):
                mapped = str(linux_path(value, target.base))
                rec.set(element, name, mapped, "Windows path mapped into the lab base")


def _bind_addresses(root: Element, target: Target, rec: _Recorder) -> None:
    why = "bind to this lab host's loopback address only"
    for connector in root.iter("Connector"):
        rec.set(connector, "address", target.address, why)
    if root.get("port", "8005") != "-1":
        rec.set(root, "address", target.address, why + " (shutdown port)")


def _swap_keystores(root: Element, target: Target, rec: _Recorder) -> list[Path]:
    copies = []
    for cert in root.iter("Certificate"):
        store_type = cert.get("certificateKeystoreType", "")
        if store_type.lower() == "windows-my":
            why = "Windows-MY has no Linux equivalent: host PKCS12 from the lab PKI"
            rec.set(cert, "certificateKeystoreType", "PKCS12", why)
            rec.set(cert, "certificateKeystoreFile", str(target.keystore.path), why)
            rec.set(
                cert,
                "certificateKeystorePassword",
                target.keystore.password,
                why,
                secret=True,
            )
        elif cert.get("certificateKeystoreFile"):
            name = cert.get("certificateKeystoreFile", "")
            path = Path(name)
            copies.append(path if path.is_absolute() else target.base / path)
            why = "the lab regenerates this keystore with a random password"
            rec.set(
                cert,
                "certificateKeystorePassword",
                target.keystore.password,
                why,
                secret=True,
            )
        else:
            raise ValueError(
                "a <Certificate> with neither Windows-MY nor a keystore file "
                "is not supported by the lab"
            )
    return copies


def _soften_client_auth(root: Element, target: Target, rec: _Recorder) -> None:
    for host_config in root.iter("SSLHostConfig"):
        value = host_config.get("certificateVerification", "none")
        if value.lower() not in _REQUIRED:
            continue
        why = (
            "'required' would stop every probe without a client certificate; "
            "'optional' still requests one"
        )
        rec.set(host_config, "certificateVerification", "optional", why)
        if target.truststore is None or host_config.get("truststoreFile"):
            continue
        why = "lab root stands in for the Windows-ROOT store"
        store = target.truststore
        rec.set(host_config, "truststoreFile", str(store.path), why)
        rec.set(host_config, "truststoreType", "PKCS12", why)
        rec.set(host_config, "truststorePassword", store.password, why, secret=True)


def _uses_legacy_tls(root: Element) -> bool:
    for host_config in root.iter("SSLHostConfig"):
        if enabled_protocols(host_config.get("protocols")) & set(LEGACY_TLS):
            return True
    return False


def _listeners(root: Element) -> Iterator[Listener]:
    for connector in root.iter("Connector"):
        port = int(connector.get("port", "0"))
        secure = connector.get("SSLEnabled", "false").lower() == "true"
        yield Listener(port, "https" if secure else "http")
    port = int(root.get("port", "8005"))
    if port >= 0:
        yield Listener(port, "shutdown")


def derive_server_xml(data: bytes, target: Target) -> Derived:
    """Translate an image's server.xml (raw bytes, any BOM) for the lab."""
    root = fromstring(data, forbid_dtd=True)
    _check_supported(root)
    rec = _Recorder(root)

    _map_windows_paths(root, target, rec)
    _bind_addresses(root, target, rec)
    copies = _swap_keystores(root, target, rec)
    _soften_client_auth(root, target, rec)

    body = tostring(root, encoding="unicode")
    header = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Generated by lab/up from the host image's server.xml: "
        "edit the image, not this file. -->\n"
    )
    return Derived(
        xml=(header + body + "\n").encode("utf-8"),
        changes=tuple(rec.changes),
        keystore_copies=tuple(copies),
        legacy_tls=_uses_legacy_tls(root),
        listeners=tuple(_listeners(root)),
    )


def _java_property(text: str, key: str) -> str | None:
    """Read one property from java.security text, joining continued lines."""
    lines = iter(text.splitlines())
    for line in lines:
        if not line.startswith(key + "="):
            continue
        value = line[len(key) + 1 :]
        while value.endswith("\\"):
            value = value[:-1] + next(lines, "").strip()
        return value
    return None


def allow_legacy_tls(java_security: str) -> str:
    """An override file that re-enables TLS 1.0/1.1 and nothing else.

    ``java_security`` is the JDK's own java.security; its
    ``jdk.tls.disabledAlgorithms`` list is kept except for the legacy TLS
    versions, so RC4, 3DES, NULL and the rest stay disabled.
    """
    key = "jdk.tls.disabledAlgorithms"
    value = _java_property(java_security, key)
    if value is None:
        raise ValueError(f"{key} not found in the JDK's java.security")
    kept = [t.strip() for t in value.split(",") if t.strip() not in LEGACY_TLS]
    return (
        "# Written by lab/up: lets this lab Tomcat accept the TLS 1.0/1.1 its\n"
        "# image's server.xml asks for (Java 17 refuses them by default).\n"
        f"{key}={', '.join(t for t in kept if t)}\n"
    )


def listeners_of(server_xml: bytes) -> tuple[Listener, ...]:
    """The ports a (derived) server.xml opens."""
    return tuple(_listeners(fromstring(server_xml, forbid_dtd=True)))


def describe(listeners: Iterable[Listener]) -> str:
    return " ".join(f"{item.kind}:{item.port}" for item in listeners)
