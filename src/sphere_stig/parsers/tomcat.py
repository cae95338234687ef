"""Tomcat's ``server.xml``, read with the semantics Tomcat itself applies.

A configuration value only means something once Tomcat's rules are applied
to it: an absent attribute takes Tomcat's default, ``${name}`` is replaced
from the system properties (which ``catalina.properties`` feeds), an attribute
whose name Tomcat does not recognise is ignored, a value that is not a number
leaves the default in place, and in Tomcat 9 the deprecated SSL attributes on
a ``<Connector>`` build an implicit ``<SSLHostConfig>``. This module applies
those rules once, so that every check judges the configuration Tomcat would
run, and it keeps the text as written next to each effective value so that
evidence can show both.

Where each rule comes from (Apache Tomcat sources and documentation):

* ``SSLHostConfig.setProtocols``: the token grammar of ``protocols``
  (see :func:`effective_protocols`); the constructor calls
  ``setProtocols("all")``, so an absent attribute means ``all`` in Tomcat 9
  (``webapps/docs/config/http.xml`` of 9.0.x: "If not specified, the default
  value of all will be used") and in 10.1 (checked against the 10.1.60 jar).
* ``SSLUtilBase``: the protocols actually enabled are the configured names
  that the JSSE/OpenSSL implementation knows; when none is left the
  connector refuses to start.
* ``AbstractHttp11Protocol`` (9.0.x): the deprecated Connector attributes
  (``sslEnabledProtocols``, ``SSLProtocol``, ``clientAuth``, ``keystoreType``
  ...) configure the SSLHostConfig named by ``defaultSSLHostConfigName``;
  note that ``sslProtocol`` (lower case) is the SSLContext algorithm, not the
  protocol list. Tomcat 10.1 removed these attributes.
* ``IntrospectionUtils.setProperty``: attribute names match setter names
  exactly, except that the first letter is upper-cased (``SSLEnabled`` and
  ``sSLEnabled`` work, ``sslEnabled`` does not); booleans are
  ``Boolean.valueOf`` (only ``true``, in any case, is true); a number that
  does not parse leaves the default.
* ``IntrospectionUtils.replaceProperties``: ``${name}`` and
  ``${name:-default}``; an unresolved placeholder stays in the value as
  written. ``CatalinaProperties`` copies ``catalina.properties`` into the
  system properties the digester reads.
* Defaults: ``StandardServer`` (port 8005, shutdown ``SHUTDOWN``, address
  ``localhost``; ``await()`` opens no socket for port -1), ``LockOutRealm``
  (failureCount 5, lockOutTime 300), HTTP connector maxThreads 200 and
  maxConnections 8192 (http.xml of 9.0.65 and the 10.1.60 jar).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.xmlsafe import Element, children, local_name, parse_xml
from sphere_stig.redact import MASK

# What protocols="all" stands for (SSLHostConfig.SSL_PROTO_ALL_SET).
ALL_PROTOCOLS = frozenset({"SSLv2Hello", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"})
# Every protocol name Tomcat's documentation lists for ``protocols``. Other
# names are dropped at start-up because no TLS implementation offers them.
KNOWN_PROTOCOLS = ALL_PROTOCOLS | {"SSLv3"}
DEFAULT_SSL_HOST_NAME = "_default_"

DEFAULT_SERVER_PORT = 8005
DEFAULT_SHUTDOWN = "SHUTDOWN"
DEFAULT_SERVER_ADDRESS = "localhost"
DEFAULT_MAX_THREADS = 200
DEFAULT_MAX_CONNECTIONS = 8192
LOCKOUT_REALM = "org.apache.catalina.realm.LockOutRealm"
DEFAULT_LOCKOUT_FAILURE_COUNT = 5
DEFAULT_LOCKOUT_TIME = 300

_INT = re.compile(r"^[+-]?[0-9]+$")
_JAVA_INT_MAX = 2**31 - 1

# Deprecated Connector attribute -> SSLHostConfig attribute it sets
# (AbstractHttp11Protocol in Tomcat 9).
_LEGACY_HOST_ATTRIBUTES = {
    "sslEnabledProtocols": "protocols",
    "SSLProtocol": "protocols",
    "clientAuth": "certificateVerification",
    "SSLVerifyClient": "certificateVerification",
    "ciphers": "ciphers",
    "SSLCipherSuite": "ciphers",
    "sslProtocol": "sslProtocol",
    "trustMaxCertLength": "certificateVerificationDepth",
    "SSLVerifyDepth": "certificateVerificationDepth",
    "useServerCipherSuitesOrder": "honorCipherOrder",
    "SSLHonorCipherOrder": "honorCipherOrder",
    "algorithm": "keyManagerAlgorithm",
    "crlFile": "certificateRevocationListFile",
    "SSLCARevocationFile": "certificateRevocationListFile",
    "SSLCARevocationPath": "certificateRevocationListPath",
    "SSLCACertificateFile": "caCertificateFile",
    "SSLCACertificatePath": "caCertificatePath",
    "SSLDisableCompression": "disableCompression",
    "SSLDisableSessionTickets": "disableSessionTickets",
    "truststoreAlgorithm": "truststoreAlgorithm",
    "truststoreFile": "truststoreFile",
    "truststorePass": "truststorePassword",
    "truststoreType": "truststoreType",
    "truststoreProvider": "truststoreProvider",
    "trustManagerClassName": "trustManagerClassName",
    "sessionCacheSize": "sessionCacheSize",
    "sessionTimeout": "sessionTimeout",
}
# Deprecated Connector attribute -> Certificate attribute it sets.
_LEGACY_CERTIFICATE_ATTRIBUTES = {
    "keystoreFile": "certificateKeystoreFile",
    "keystoreType": "certificateKeystoreType",
    "keystoreProvider": "certificateKeystoreProvider",
    "keyAlias": "certificateKeyAlias",
    "keystorePass": "certificateKeystorePassword",
    "keyPass": "certificateKeyPassword",
    "SSLPassword": "certificateKeyPassword",
    "SSLCertificateFile": "certificateFile",
    "SSLCertificateKeyFile": "certificateKeyFile",
    "SSLCertificateChainFile": "certificateChainFile",
}

# CertificateVerification.fromString (case-insensitive, no trimming).
_VERIFICATION = {
    "true": "required",
    "yes": "required",
    "require": "required",
    "required": "required",
    "want": "optional",
    "optional": "optional",
    "optionalnoca": "optionalNoCA",
    "optional_no_ca": "optionalNoCA",
    "false": "none",
    "no": "none",
    "none": "none",
}


class PropertySource(Protocol):
    def get(self, key: str, /) -> str | None: ...


# --------------------------------------------------------------------------
# The protocols attribute


def effective_protocols(value: str | None) -> frozenset[str]:
    """The protocol names Tomcat configures for a ``protocols`` value.

    This is ``SSLHostConfig.setProtocols``: the value is cut before every
    ``+``, ``-`` and ``,``; each piece is trimmed and pieces of one character
    (a lone separator) are skipped. ``+name`` adds, ``-name`` removes, and a
    name without a prefix (or after a comma) adds as well, so ``TLSv1.2,
    TLSv1.3`` and ``+TLSv1.2 +TLSv1.3`` mean the same. ``all`` (any case)
    stands for :data:`ALL_PROTOCOLS`; other names keep their case, because
    JSSE compares them exactly. White space alone does not separate:
    ``"TLSv1.2 TLSv1.3"`` is one (unknown) name. ``None`` (attribute absent)
    is Tomcat's default, ``all``.
    """
    if value is None:
        return ALL_PROTOCOLS
    protocols: set[str] = set()
    for piece in re.split(r"(?=[-+,])", value):
        token = piece.strip()
        if len(token) <= 1:
            continue
        remove = token[0] == "-"
        if token[0] in "+-,":
            token = token[1:].strip()
        names = ALL_PROTOCOLS if token.lower() == "all" else {token}
        if remove:
            protocols -= names
        else:
            protocols |= names
    return frozenset(protocols)


def enabled_protocols(configured: frozenset[str]) -> frozenset[str]:
    """The configured names a TLS implementation can offer (SSLUtilBase)."""
    return configured & KNOWN_PROTOCOLS


def sort_protocols(names: frozenset[str] | set[str]) -> list[str]:
    order = ["SSLv2", "SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    return sorted(
        names, key=lambda n: (order.index(n) if n in order else len(order), n)
    )


# --------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Placeholder:
    """One ``${...}`` in an attribute value."""

    element: str
    attribute: str
    expression: str
    resolved: bool


@dataclass(frozen=True)
class IntSetting:
    """An integer attribute: the text as written and the value Tomcat uses."""

    name: str
    raw: str | None
    value: int
    default: int

    @property
    def is_default(self) -> bool:
        """True when Tomcat uses its built-in default (absent or unusable)."""
        return self.raw is None or not self.valid

    @property
    def valid(self) -> bool:
        return self.raw is None or _java_int(self.raw) is not None

    def describe(self) -> str:
        if self.raw is None:
            return f"{self.name} absent (Tomcat default {self.default})"
        if not self.valid:
            return (
                f'{self.name}="{self.raw}" is not an integer, so Tomcat ignores it '
                f"and uses its default {self.default}"
            )
        return f'{self.name}="{self.raw}"'


@dataclass(frozen=True)
class Certificate:
    # True when Tomcat 9 built it from deprecated Connector attributes.
    implicit: bool
    attributes: dict[str, str]
    keystore_type: str | None
    keystore_file: str | None
    key_alias: str | None
    certificate_file: str | None
    type: str = "UNDEFINED"

    def describe(self) -> str:
        parts = []
        if self.keystore_type is not None:
            parts.append(f"keystore type {self.keystore_type}")
        if self.keystore_file:
            parts.append(f"keystore file {self.keystore_file}")
        if self.key_alias is not None:
            parts.append(f"alias {self.key_alias}")
        if self.certificate_file:
            parts.append(f"PEM file {self.certificate_file}")
        origin = "from Connector attributes" if self.implicit else "Certificate element"
        return f"{origin}: {', '.join(parts) or 'no key material named'}"


@dataclass(frozen=True)
class SSLHostConfig:
    host_name: str
    # True when Tomcat 9 built it from deprecated Connector attributes.
    implicit: bool
    attributes: dict[str, str]
    protocols_raw: str | None
    # Where the protocols value came from, for evidence.
    protocols_origin: str
    protocols: frozenset[str]
    certificate_verification_raw: str | None
    certificate_verification: str
    certificate_verification_origin: str
    ciphers_raw: str | None
    ssl_protocol: str
    certificates: tuple[Certificate, ...]

    @property
    def enabled_protocols(self) -> frozenset[str]:
        return enabled_protocols(self.protocols)

    @property
    def unknown_protocols(self) -> frozenset[str]:
        return self.protocols - KNOWN_PROTOCOLS


@dataclass(frozen=True)
class Connector:
    service: str
    attributes: dict[str, str]
    port_raw: str | None
    port: int | None
    # Port plus the Server's portOffset (Connector.getPortWithOffset).
    effective_port: int | None
    protocol: str
    ssl_enabled: bool
    scheme: str
    secure: bool
    max_threads: IntSetting
    max_connections: IntSetting
    executor: str | None
    default_ssl_host_config_name: str
    legacy_ssl_attributes: dict[str, str]
    ssl_host_configs: tuple[SSLHostConfig, ...]
    problems: tuple[str, ...] = ()
    # Placeholders in this connector and in its SSLHostConfig/Certificate.
    placeholders: tuple[Placeholder, ...] = ()

    def describe(self) -> str:
        port = self.port_raw if self.port_raw is not None else "(none)"
        return f'Connector port="{port}" in Service "{self.service}"'

    @property
    def default_ssl_host_config(self) -> SSLHostConfig | None:
        for config in self.ssl_host_configs:
            if config.host_name == self.default_ssl_host_config_name:
                return config
        return None


@dataclass(frozen=True)
class CredentialHandler:
    class_name: str
    attributes: dict[str, str]
    nested: tuple[CredentialHandler, ...] = ()


@dataclass(frozen=True)
class Realm:
    class_name: str
    attributes: dict[str, str]
    # Where it sits, e.g. "Engine Catalina" or "Host localhost".
    container: str
    # False when a later Realm in the same container replaces it (the
    # digester calls setRealm once per element, the last one wins) or
    # when the realm that nests it is itself inactive.
    active: bool
    realms: tuple[Realm, ...] = ()
    credential_handler: CredentialHandler | None = None
    # Placeholders in this element's own attributes.
    placeholders: tuple[Placeholder, ...] = ()

    @property
    def short_name(self) -> str:
        return self.class_name.rsplit(".", 1)[-1]

    def int_setting(self, name: str, default: int) -> IntSetting:
        return _int_setting(self.attributes, name, default)

    def walk(self) -> Iterator[Realm]:
        yield self
        for nested in self.realms:
            yield from nested.walk()


@dataclass(frozen=True)
class Container:
    """An Engine, Host or Context, with the realms configured on it."""

    kind: str
    name: str
    realms: tuple[Realm, ...]
    children: tuple[Container, ...] = ()

    def walk(self) -> Iterator[Container]:
        yield self
        for nested in self.children:
            yield from nested.walk()


@dataclass(frozen=True)
class Service:
    name: str
    connectors: tuple[Connector, ...]
    engine: Container | None


@dataclass(frozen=True)
class ServerConfig:
    source: str
    port: IntSetting
    port_offset: IntSetting
    shutdown_raw: str | None
    address_raw: str | None
    services: tuple[Service, ...]
    placeholders: tuple[Placeholder, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shutdown(self) -> str:
        return DEFAULT_SHUTDOWN if self.shutdown_raw is None else self.shutdown_raw

    @property
    def address(self) -> str:
        return DEFAULT_SERVER_ADDRESS if self.address_raw is None else self.address_raw

    @property
    def shutdown_port(self) -> int | None:
        """The TCP port of the shutdown listener, or None when it is disabled.

        StandardServer.await() opens no socket for -1 (and the undocumented
        embedded value -2); the offset only applies to positive ports.
        """
        port = self.port.value
        if port in (-1, -2):
            return None
        return port + self.port_offset.value if port > 0 else port

    @property
    def unresolved(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.placeholders if not p.resolved)

    def connectors(self) -> Iterator[Connector]:
        for service in self.services:
            yield from service.connectors

    def containers(self) -> Iterator[Container]:
        for service in self.services:
            if service.engine is not None:
                yield from service.engine.walk()

    def realms(self) -> Iterator[Realm]:
        """Every Realm element, nested ones included, active or not."""
        for container in self.containers():
            for realm in container.realms:
                yield from realm.walk()


def connectors_on_port(config: ServerConfig, port: int) -> list[Connector]:
    return [c for c in config.connectors() if c.effective_port == port]


def find_https_connector(config: ServerConfig, port: int = 443) -> Connector | None:
    """The connector serving ``port``, preferring an SSL-enabled one."""
    candidates = connectors_on_port(config, port)
    secured = [c for c in candidates if c.ssl_enabled]
    found = secured or candidates
    return found[0] if found else None


# --------------------------------------------------------------------------
# Parsing


def parse_server_xml(
    data: bytes,
    source: str,
    properties: Mapping[str, str] | PropertySource | None = None,
    *,
    legacy_connector_ssl: bool = True,
) -> ServerConfig:
    """Parse ``server.xml`` into the configuration Tomcat would run.

    ``properties`` resolves ``${name}`` placeholders (pass catalina.properties
    and any ``-D`` options of the service); unresolved ones stay in the values
    as written and are listed in ``ServerConfig.unresolved``.
    ``legacy_connector_ssl`` follows Tomcat 9; pass False for Tomcat 10.1,
    which ignores the deprecated SSL attributes on a Connector.
    """
    root = parse_xml(data, source)
    if local_name(root.tag) != "Server":
        raise CheckError(
            f"{source}: the root element is <{local_name(root.tag)}>, not <Server>; "
            "this is not a Tomcat server.xml. Check the inventory's sphere_root and "
            "the file at that path"
        )
    reader = _Reader(properties, legacy_connector_ssl)
    attributes = reader.attributes(root, "Server")
    port = _int_setting(attributes, "port", DEFAULT_SERVER_PORT)
    offset = _int_setting(attributes, "portOffset", 0)
    reader.port_offset = offset.value
    services = tuple(
        reader.service(element, index)
        for index, element in enumerate(children(root, "Service"))
    )
    for setting in (port, offset):
        if not setting.valid:
            reader.problems.append(f"Server {setting.describe()}")
    return ServerConfig(
        source=source,
        port=port,
        port_offset=offset,
        shutdown_raw=attribute_value(attributes, "shutdown"),
        address_raw=attribute_value(attributes, "address"),
        services=services,
        placeholders=tuple(reader.placeholders),
        problems=tuple(reader.problems),
    )


class _Reader:
    """Walks the tree once, resolving placeholders and collecting problems."""

    def __init__(
        self, properties: Mapping[str, str] | PropertySource | None, legacy: bool
    ) -> None:
        self.properties = properties
        self.legacy = legacy
        self.placeholders: list[Placeholder] = []
        self.problems: list[str] = []
        self.port_offset = 0

    # -- attributes ---------------------------------------------------------

    def attributes(self, element: Element, path: str) -> dict[str, str]:
        resolved = {}
        for name, value in element.attrib.items():
            resolved[name] = self.resolve(value, path, name)
        return resolved

    def resolve(self, value: str, path: str, attribute: str) -> str:
        """IntrospectionUtils.replaceProperties, recording every placeholder."""
        if "$" not in value:
            return value
        out: list[str] = []
        position = 0
        while (start := value.find("$", position)) >= 0:
            out.append(value[position:start])
            if start == len(value) - 1 or value[start + 1] != "{":
                out.append("$")
                position = start + 1
                continue
            end = value.find("}", start)
            if end < 0:
                out.append(value[start:])
                position = len(value)
                break
            expression = value[start + 2 : end]
            replacement = self._lookup(expression)
            self.placeholders.append(
                Placeholder(path, attribute, expression, replacement is not None)
            )
            out.append(
                replacement if replacement is not None else "${" + expression + "}"
            )
            position = end + 1
        out.append(value[position:])
        return "".join(out)

    def _lookup(self, expression: str) -> str | None:
        if self.properties is None:
            found = None
        else:
            found = self.properties.get(expression)
        if found is not None or ":-" not in expression:
            return found
        name, default = expression.split(":-", 1)
        found = self.properties.get(name) if self.properties is not None else None
        return default if found is None else found

    # -- elements -----------------------------------------------------------

    def service(self, element: Element, index: int) -> Service:
        name = element.get("name") or f"#{index + 1}"
        path = f'Service "{name}"'
        self.attributes(element, path)
        connectors = tuple(
            self.connector(c, name) for c in children(element, "Connector")
        )
        engines = children(element, "Engine")
        engine = self.container(engines[-1], "Engine", path) if engines else None
        if len(engines) > 1:
            self.problems.append(
                f"{path} has {len(engines)} Engine elements; only the last is used"
            )
        return Service(name=name, connectors=connectors, engine=engine)

    def container(self, element: Element, kind: str, parent: str) -> Container:
        name_attribute = "path" if kind == "Context" else "name"
        name = element.get(name_attribute, "")
        path = f'{parent} / {kind} "{name}"'
        self.attributes(element, path)
        label = f'{kind} "{name}"'
        realm_elements = children(element, "Realm")
        realms = tuple(
            self.realm(
                r, label, f"{path} / Realm", active=(i == len(realm_elements) - 1)
            )
            for i, r in enumerate(realm_elements)
        )
        if len(realm_elements) > 1:
            self.problems.append(
                f"{label} has {len(realm_elements)} Realm elements; Tomcat keeps "
                "only the last one, so the earlier ones are not in effect"
            )
        nested_kind = {"Engine": "Host", "Host": "Context"}.get(kind)
        nested = (
            tuple(
                self.container(c, nested_kind, path)
                for c in children(element, nested_kind)
            )
            if nested_kind
            else ()
        )
        return Container(kind=kind, name=name, realms=realms, children=nested)

    def realm(self, element: Element, container: str, path: str, active: bool) -> Realm:
        first = len(self.placeholders)
        attributes = self.attributes(element, path)
        own = tuple(self.placeholders[first:])
        class_name = attribute_value(attributes, "className") or ""
        # Nested realms (CombinedRealm, LockOutRealm) are all consulted, so
        # they are in effect exactly when the realm around them is.
        nested = tuple(
            self.realm(r, container, f"{path} / Realm", active)
            for r in children(element, "Realm")
        )
        handlers = children(element, "CredentialHandler")
        handler = self.credential_handler(handlers[-1], path) if handlers else None
        return Realm(
            class_name=class_name,
            attributes=_redacted(attributes),
            container=container,
            active=active,
            realms=nested,
            credential_handler=handler,
            placeholders=own,
        )

    def credential_handler(self, element: Element, path: str) -> CredentialHandler:
        path = f"{path} / CredentialHandler"
        attributes = self.attributes(element, path)
        return CredentialHandler(
            class_name=attribute_value(attributes, "className") or "",
            attributes=_redacted(attributes),
            nested=tuple(
                self.credential_handler(c, path)
                for c in children(element, "CredentialHandler")
            ),
        )

    def connector(self, element: Element, service: str) -> Connector:
        port_text = element.get("port")
        path = f'Service "{service}" / Connector port="{port_text}"'
        first = len(self.placeholders)
        attributes = self.attributes(element, path)
        problems: list[str] = []

        port_raw = attribute_value(attributes, "port")
        port = _java_int(port_raw) if port_raw is not None else None
        if port_raw is not None and port is None:
            problems.append(
                f'port="{port_raw}" is not an integer; the connector cannot start'
            )
        effective_port = port
        if port is not None and port > 0:
            effective_port = port + self.port_offset

        legacy = {}
        if self.legacy:
            legacy = {
                name: value
                for name, value in attributes.items()
                if _canonical(name, _LEGACY_HOST_ATTRIBUTES)
                or _canonical(name, _LEGACY_CERTIFICATE_ATTRIBUTES)
            }
        default_name = (
            attribute_value(attributes, "defaultSSLHostConfigName")
            or DEFAULT_SSL_HOST_NAME
        ).lower()
        configs = [
            self.ssl_host_config(e, f"{path} / SSLHostConfig")
            for e in children(element, "SSLHostConfig")
        ]
        if legacy:
            implicit = self.implicit_ssl_host_config(legacy, default_name)
            if any(c.host_name == default_name for c in configs):
                problems.append(
                    "deprecated SSL attributes on the Connector ("
                    + ", ".join(sorted(legacy))
                    + f') and an SSLHostConfig for "{default_name}" are both present; '
                    "Tomcat 9 rejects this as a duplicate SSLHostConfig"
                )
            configs.insert(0, implicit)

        ssl_enabled = _java_bool(attribute_value(attributes, "SSLEnabled"))
        if ssl_enabled and not any(c.host_name == default_name for c in configs):
            problems.append(
                f'SSLEnabled="true" but no SSLHostConfig is named "{default_name}" '
                "(defaultSSLHostConfigName); Tomcat refuses to start this connector"
            )
        return Connector(
            service=service,
            attributes=_redacted(attributes),
            port_raw=port_raw,
            port=port,
            effective_port=effective_port,
            # ConnectorCreateRule reads these two by their exact names.
            protocol=attributes.get("protocol") or "HTTP/1.1",
            ssl_enabled=ssl_enabled,
            scheme=attribute_value(attributes, "scheme") or "http",
            secure=_java_bool(attribute_value(attributes, "secure")),
            max_threads=_int_setting(attributes, "maxThreads", DEFAULT_MAX_THREADS),
            max_connections=_int_setting(
                attributes, "maxConnections", DEFAULT_MAX_CONNECTIONS
            ),
            executor=attributes.get("executor"),
            default_ssl_host_config_name=default_name,
            legacy_ssl_attributes=_redacted(legacy),
            ssl_host_configs=tuple(configs),
            problems=tuple(problems),
            placeholders=tuple(self.placeholders[first:]),
        )

    def ssl_host_config(self, element: Element, path: str) -> SSLHostConfig:
        attributes = self.attributes(element, path)
        certificates = tuple(
            self.certificate(
                self.attributes(c, f"{path} / Certificate"), implicit=False
            )
            for c in children(element, "Certificate")
        )
        host_name = (
            attribute_value(attributes, "hostName") or DEFAULT_SSL_HOST_NAME
        ).lower()
        origin_of = {name: f"SSLHostConfig {name}" for name in attributes}
        return _ssl_host_config(
            attributes,
            host_name,
            implicit=False,
            origin_of=origin_of,
            certificates=certificates,
        )

    def implicit_ssl_host_config(
        self, legacy: dict[str, str], host_name: str
    ) -> SSLHostConfig:
        host_attributes: dict[str, str] = {}
        origin_of: dict[str, str] = {}
        certificate_attributes: dict[str, str] = {}
        # Attributes are applied in document order, so a later alias wins
        # (for example SSLProtocol after sslEnabledProtocols).
        for name, value in legacy.items():
            target = _canonical(name, _LEGACY_HOST_ATTRIBUTES)
            if target is not None:
                host_attributes[target] = value
                origin_of[target] = f"Connector {name}"
                continue
            target = _canonical(name, _LEGACY_CERTIFICATE_ATTRIBUTES)
            if target is not None:
                certificate_attributes[target] = value
        certificates = (
            (self.certificate(certificate_attributes, implicit=True),)
            if certificate_attributes
            else ()
        )
        return _ssl_host_config(
            host_attributes,
            host_name,
            implicit=True,
            origin_of=origin_of,
            certificates=certificates,
        )

    def certificate(self, attributes: dict[str, str], implicit: bool) -> Certificate:
        return Certificate(
            implicit=implicit,
            attributes=_redacted(attributes),
            keystore_type=attribute_value(attributes, "certificateKeystoreType"),
            keystore_file=attribute_value(attributes, "certificateKeystoreFile"),
            key_alias=attribute_value(attributes, "certificateKeyAlias"),
            certificate_file=attribute_value(attributes, "certificateFile"),
            type=attribute_value(attributes, "type") or "UNDEFINED",
        )


def _ssl_host_config(
    attributes: dict[str, str],
    host_name: str,
    implicit: bool,
    origin_of: dict[str, str],
    certificates: tuple[Certificate, ...],
) -> SSLHostConfig:
    protocols_raw = attribute_value(attributes, "protocols")
    verification_raw = attribute_value(attributes, "certificateVerification")
    # An unknown certificateVerification value makes Tomcat fall back to the
    # strictest setting (SSLHostConfig.setCertificateVerification).
    verification = (
        "none"
        if verification_raw is None
        else _VERIFICATION.get(verification_raw.lower(), "required")
    )
    return SSLHostConfig(
        host_name=host_name,
        implicit=implicit,
        attributes=_redacted(attributes),
        protocols_raw=protocols_raw,
        protocols_origin=_origin(origin_of, attributes, "protocols", "all"),
        protocols=effective_protocols(protocols_raw),
        certificate_verification_raw=verification_raw,
        certificate_verification=verification,
        certificate_verification_origin=_origin(
            origin_of, attributes, "certificateVerification", "none"
        ),
        ciphers_raw=attribute_value(attributes, "ciphers"),
        ssl_protocol=attribute_value(attributes, "sslProtocol") or "TLS",
        certificates=certificates,
    )


# --------------------------------------------------------------------------
# Attribute helpers


def _origin(
    origin_of: Mapping[str, str], attributes: Mapping[str, str], name: str, default: str
) -> str:
    """Where a setting came from, for evidence: 'SSLHostConfig protocols="..."'."""
    wanted = _setter(name)
    for key, value in attributes.items():
        if _setter(key) == wanted:
            label = origin_of.get(key) or origin_of.get(name) or f"SSLHostConfig {key}"
            return f'{label}="{value}"'
    return f'{name} absent: Tomcat default "{default}"'


def _setter(name: str) -> str:
    return name[:1].upper() + name[1:]


def attribute_value(attributes: Mapping[str, str], name: str) -> str | None:
    """The value Tomcat's setter for ``name`` receives (the last one written).

    Attribute names match the way IntrospectionUtils finds setters: exactly,
    except for the case of the first letter.
    """
    wanted = _setter(name)
    found = None
    for key, value in attributes.items():
        if _setter(key) == wanted:
            found = value
    return found


def _canonical(name: str, table: Mapping[str, str]) -> str | None:
    setter = _setter(name)
    for legacy, target in table.items():
        if _setter(legacy) == setter:
            return target
    return None


def _java_int(text: str) -> int | None:
    if not _INT.match(text):
        return None
    number = int(text)
    return number if -_JAVA_INT_MAX - 1 <= number <= _JAVA_INT_MAX else None


def _java_bool(text: str | None) -> bool:
    return text is not None and text.lower() == "true"


def _int_setting(attributes: Mapping[str, str], name: str, default: int) -> IntSetting:
    raw = attribute_value(attributes, name)
    number = _java_int(raw) if raw is not None else None
    return IntSetting(
        name=name, raw=raw, value=default if number is None else number, default=default
    )


def _redacted(attributes: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if "pass" in k.lower() else v) for k, v in attributes.items()}
