"""Typed facts gathered from a host, before anything is judged.

Collectors produce these; checks read them. Nothing here talks to a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Keys of the files the Windows collector reads, relative to the install root.
# The paths are built from the configurable Sphere root, never copied from
# the STIG text (which misspells several of them).
SPHERE_FILES: dict[str, str] = {
    "server_xml": r"Tomcat\conf\server.xml",
    "tomcat_web_xml": r"Tomcat\conf\web.xml",
    "tomcat_users_xml": r"Tomcat\conf\tomcat-users.xml",
    "catalina_properties": r"Tomcat\conf\catalina.properties",
    "sphere_web_xml": r"web\WEB-INF\web.xml",
    "config_properties": r"conf\config.properties",
}


@dataclass(frozen=True)
class RemoteFile:
    """A file read from the host, as raw bytes (encoding is the parser's job)."""

    key: str
    path: str
    exists: bool
    data: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class AclEntry:
    identity: str
    rights: str
    access: str  # "Allow" or "Deny"
    inherited: bool


@dataclass(frozen=True)
class StoreCertificate:
    subject: str
    issuer: str
    thumbprint: str
    not_after: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    process: str = ""


@dataclass(frozen=True)
class TomcatService:
    name: str
    display_name: str
    path: str
    state: str
    registry_key: str
    java_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowsFacts:
    """Everything the suite needs from one Windows host, from one batch."""

    host: str
    computer_name: str
    sphere_root: str
    files: dict[str, RemoteFile]
    webapps: tuple[str, ...] | None = None
    server_xml_acl: tuple[AclEntry, ...] | None = None
    root_store: tuple[StoreCertificate, ...] = ()
    tomcat_service: TomcatService | None = None
    listeners: tuple[Listener, ...] = ()
    # UDP sockets bound to the SNMP trap ports (the Monitor's trap receiver).
    udp_listeners: tuple[Listener, ...] = ()
    sphere_version: str | None = None
    local_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Collector warnings (for example a WinRM progress record on stderr).
    warnings: tuple[str, ...] = ()

    def file(self, key: str) -> RemoteFile:
        return self.files[key]


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_before: str
    not_after: str
    signature_algorithm: str
    key_type: str
    key_size: int
    self_signed: bool
    sha256: str


@dataclass(frozen=True)
class TlsScan:
    """What a live TLS scan of host:port saw (sslyze)."""

    host: str
    address: str
    port: int
    # Protocol name ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2",
    # "TLSv1.3") to the accepted cipher suite names; empty = refused.
    accepted: dict[str, tuple[str, ...]]
    chain: tuple[CertificateInfo, ...] = ()
    # Validation of the received chain against the configured trust anchors.
    chain_trusted: bool | None = None
    trust_store: str = ""
    validation_error: str | None = None

    @property
    def accepted_protocols(self) -> tuple[str, ...]:
        return tuple(p for p, suites in self.accepted.items() if suites)
