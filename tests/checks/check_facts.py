"""Hand-built facts for the check tests: no network, no WinRM.

pytest puts this folder on sys.path (it has no __init__.py), so the test
modules import this one by name. It is not a conftest.py because helpers
imported from "conftest" would clash with tests/catalog/conftest.py.

``windows_facts`` puts test files where the collector would put them (keyed
as in ``facts.SPHERE_FILES``); its listeners are those the host facts script
reports, the sockets on the probed shutdown port only. ``tls_scan`` builds
what sslyze would report.
"""

from __future__ import annotations

import ntpath
from pathlib import Path

from sphere_stig.checks import Facts, Inputs
from sphere_stig.facts import (
    SPHERE_FILES,
    AclEntry,
    CertificateInfo,
    Listener,
    RemoteFile,
    StoreCertificate,
    TlsScan,
    TomcatService,
    WindowsFacts,
)
from sphere_stig.transports.http import HttpPage

DATA = Path(__file__).resolve().parents[1] / "data"
HOST = "sphere01"
ROOT = r"C:\Program Files\ISEC7 SPHERE"
SERVER_XML_PATH = ntpath.join(ROOT, SPHERE_FILES["server_xml"])
SERVER_XML_SOURCE = f"{HOST}: {SERVER_XML_PATH}"
SCAN_SOURCE = f"{HOST}: live TLS scan of 127.0.0.2:443"
PROCRUN_KEY = (
    r"HKLM\SOFTWARE\WOW6432Node\Apache Software Foundation\Procrun 2.0"
    r"\ISEC7SphereWeb\Parameters\Java"
)
PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
SUITES = {
    "SSLv3": ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",),
    "TLSv1": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",),
    "TLSv1.1": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",),
    "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",),
    "TLSv1.3": ("TLS_AES_256_GCM_SHA384",),
}


def server_xml(name: str) -> bytes:
    return (DATA / "server-xml" / name).read_bytes()


def windows_facts(
    server: bytes | None,
    *,
    catalina_properties: bytes | None = None,
    listeners: tuple[Listener, ...] = (),
    warnings: tuple[str, ...] = (),
    java_options: tuple[str, ...] = (),
    files: dict[str, bytes] | None = None,
    webapps: tuple[str, ...] | None = None,
    acl: tuple[AclEntry, ...] | None = None,
    root_store: tuple[StoreCertificate, ...] = (),
    service: TomcatService | None | str = "default",
) -> WindowsFacts:
    """Facts as the collector returns them; ``files`` adds other Sphere files."""
    remote = {
        key: RemoteFile(key, ntpath.join(ROOT, relative), exists=False)
        for key, relative in SPHERE_FILES.items()
    }
    remote["server_xml"] = RemoteFile(
        "server_xml", SERVER_XML_PATH, exists=server is not None, data=server
    )
    extra = dict(files or {})
    if catalina_properties is not None:
        extra["catalina_properties"] = catalina_properties
    for key, data in extra.items():
        path = ntpath.join(ROOT, SPHERE_FILES[key])
        remote[key] = RemoteFile(key, path, exists=True, data=data)
    if service == "default":
        service = tomcat_service(java_options)
    return WindowsFacts(
        host=HOST,
        computer_name="SPHERE01",
        sphere_root=ROOT,
        files=remote,
        webapps=webapps,
        server_xml_acl=acl,
        root_store=root_store,
        listeners=listeners,
        tomcat_service=service,
        warnings=warnings,
    )


def tomcat_service(
    java_options: tuple[str, ...] = (), registry_key: str = PROCRUN_KEY
) -> TomcatService:
    return TomcatService(
        name="ISEC7SphereWeb",
        display_name="ISEC7 SPHERE Web",
        path=ntpath.join(ROOT, r"Tomcat\bin\tomcat9.exe"),
        state="Running",
        registry_key=registry_key,
        java_options=java_options,
    )


def remote_source(key: str) -> str:
    """The evidence source of a Sphere file: host and Windows path."""
    return f"{HOST}: {ntpath.join(ROOT, SPHERE_FILES[key])}"


def data_file(*parts: str) -> bytes:
    return DATA.joinpath(*parts).read_bytes()


def tls_scan(*accepted: str, chain=(), trusted=None, error=None) -> TlsScan:
    return TlsScan(
        host=HOST,
        address="127.0.0.2",
        port=443,
        accepted={p: (SUITES.get(p, ()) if p in accepted else ()) for p in PROTOCOLS},
        chain=tuple(chain),
        chain_trusted=trusted,
        trust_store="/etc/sphere-stig/dod-roots.pem" if trusted is not None else "",
        validation_error=error,
    )


DOD_LEAF = "CN=sphere01.lab.example,OU=USA,OU=PKI,OU=DoD,O=U.S. Government,C=US"
DOD_CA = "CN=DOD ID CA-72,OU=PKI,OU=DoD,O=U.S. Government,C=US"


def certificate(
    subject: str = DOD_LEAF,
    issuer: str = DOD_CA,
    not_before: str = "2025-01-01T00:00:00+00:00",
    not_after: str = "2099-01-01T00:00:00+00:00",
    self_signed: bool = False,
) -> CertificateInfo:
    return CertificateInfo(
        subject=subject,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        signature_algorithm="sha256WithRSA",
        key_type="RSA",
        key_size=2048,
        self_signed=self_signed,
        sha256="00" * 32,
    )


def default_inputs() -> Inputs:
    return Inputs(sphere_root=ROOT, https_port=443)


def facts(
    windows: WindowsFacts | None = None,
    tls: TlsScan | None = None,
    http: HttpPage | None = None,
) -> Facts:
    return Facts(host=HOST, windows=windows, tls=tls, http=http)


def by_item(verdict, fragment: str):
    """The one evidence line whose item contains ``fragment``."""
    found = [e for e in verdict.evidence if fragment in e.item]
    assert len(found) == 1, [e.item for e in verdict.evidence]
    return found[0]
