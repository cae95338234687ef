"""A lab host image, and the collector answers computed from it.

An image folder holds ``fs/<Drive>/...`` (the Windows files) and
``windows.json`` (what is not a file: registry, certificate stores, ACLs,
services, local groups, WMI namespace security). :meth:`HostImage.host_facts`
and :meth:`HostImage.wmi_facts` apply the same rules as
``collectors/scripts/host_facts.ps1`` and ``wmi_facts.ps1`` to that data, so
the JSON they return is what the real script would print on a host built
like the image. A monitored Windows host without Sphere has no ``fs/``.

``windows.json`` keys (all optional except ``computer_name``)::

    computer_name              "SPHERE01"
    root_store_include_lab_ca  true: add <pki-dir>/ca.pem to LocalMachine\\Root
    cert_stores                {"LocalMachine\\Root": [{subject, issuer,
                                                        thumbprint, not_after}]}
    acls                       {"<Windows path>": [{identity, rights, access,
                                                    inherited}]}
    services                   [{name, display_name, path_name, state, start_name}]
    registry                   {"HKLM\\<key>": {"<value>": str | [str] | int}}
    local_groups               {"Distributed COM Users": ["LAB\\svc-sphere"]}
    accounts                   {"LAB\\svc-sphere": "S-1-5-21-...-1105"}: the SIDs
                               names translate to (unlisted names do not resolve)
    wmi_namespaces             {"root/cimv2": "<SDDL>", "root/cimv2/Security":
                                "<SDDL>"}: namespace security as
                               Win32SDToSDDL prints it, inherited ACEs included

Both files are read on every request, so a test or a lab scenario can change
the image while the double runs.
"""

from __future__ import annotations

import base64
import errno
import fnmatch
import json
import logging
import re
import socket
from pathlib import Path, PureWindowsPath
from typing import Any

from sphere_stig.collectors.wmi import GROUP_SIDS
from sphere_stig.facts import SPHERE_FILES

log = logging.getLogger(__name__)

ROOT_STORE = "LocalMachine\\Root"
GROUPS = ("Distributed COM Users", "Performance Monitor Users")
# Where wmi_facts.ps1 starts reading namespace security, and how deep it goes.
WMI_ROOT = "root/cimv2"
WMI_DEPTH = 2
_SID_IN_SDDL = re.compile(r"S-1-[0-9-]+")
PROCRUN_KEY = "Apache Software Foundation\\Procrun 2.0\\{name}\\Parameters\\Java"
PROCRUN_BASES = ("HKLM\\SOFTWARE\\WOW6432Node\\", "HKLM\\SOFTWARE\\")
UNINSTALL_KEYS = (
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
)
# How long the shutdown-port probe waits for a TCP connect.
PROBE_TIMEOUT = 0.5


class ImageError(Exception):
    """The image folder or its windows.json cannot be used."""


def win_combine(base: str, relative: str) -> str:
    """Join two Windows paths the way [IO.Path]::Combine does."""
    if PureWindowsPath(relative).is_absolute() or not base:
        return relative
    if base.endswith(("\\", "/", ":")):
        return base + relative
    return f"{base}\\{relative}"


def _process(service: dict[str, Any] | None) -> str:
    """The process name Windows shows for the Tomcat service's sockets."""
    if service is None:
        return "java"
    executable = service["path"].lstrip('"').split('"', 1)[0]
    return PureWindowsPath(executable).stem or "java"


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


class HostImage:
    """A Windows host as the image folder describes it."""

    def __init__(self, root: Path, pki_dir: Path | None, probe_address: str) -> None:
        self.root = root
        self.pki_dir = pki_dir
        self.probe_address = probe_address
        if not (root / "windows.json").is_file():
            raise ImageError(f"{root}: no windows.json in the image folder")
        self.config()

    def config(self) -> dict[str, Any]:
        path = self.root / "windows.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageError(f"{path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("computer_name"), str):
            raise ImageError(f"{path}: needs an object with a computer_name string")
        return data

    # -- the file system ------------------------------------------------------

    def resolve(self, windows_path: str) -> Path | None:
        """The image file for a Windows path (case-insensitive), or None."""
        path = PureWindowsPath(windows_path)
        if not path.drive or not path.drive.endswith(":"):
            return None
        current = self.root / "fs" / path.drive[0].upper()
        for part in path.parts[1:]:
            if part in ("..", "."):
                return None
            exact = current / part
            if exact.exists():
                current = exact
                continue
            try:
                match = next(
                    (c for c in current.iterdir() if _same(c.name, part)), None
                )
            except OSError:
                return None
            if match is None:
                return None
            current = match
        return current if current.exists() else None

    def read_file(self, windows_path: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "path": windows_path,
            "exists": False,
            "b64": None,
            "error": None,
        }
        local = self.resolve(windows_path)
        if local is None:
            return entry
        entry["exists"] = True
        try:
            entry["b64"] = base64.b64encode(local.read_bytes()).decode("ascii")
        except (IsADirectoryError, PermissionError):
            # What [IO.File]::ReadAllBytes says for a folder or a denied file.
            entry["error"] = f"Access to the path '{windows_path}' is denied."
        except OSError as exc:
            entry["error"] = exc.strerror or str(exc)
        return entry

    # -- host_facts -------------------------------------------------------------

    def host_facts(
        self, sphere_root: str, shutdown_port: int, trap_ports: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        config = self.config()
        warnings: list[str] = []
        files = {
            key: self.read_file(win_combine(sphere_root, relative))
            for key, relative in SPHERE_FILES.items()
        }
        service = self._tomcat_service(config, sphere_root, warnings)
        return {
            "schema": 1,
            "computer_name": config["computer_name"],
            "sphere_root": sphere_root,
            "files": files,
            "webapps": self._webapps(sphere_root),
            "server_xml_acl": self._acl(config, files["server_xml"], warnings),
            "root_store": self._root_store(config, warnings),
            "tomcat_service": service,
            "listeners": self._listeners(shutdown_port, service),
            "udp_listeners": self._udp_listeners(trap_ports, service),
            "sphere_version": self._sphere_version(config, warnings),
            "local_groups": {
                group: list(config.get("local_groups", {}).get(group, []))
                for group in GROUPS
            },
            "warnings": warnings,
        }

    # -- wmi_facts ------------------------------------------------------------

    def wmi_facts(self, account: str) -> dict[str, Any]:
        config = self.config()
        accounts = {k.casefold(): v for k, v in config.get("accounts", {}).items()}
        names = {sid.upper(): name for name, sid in config.get("accounts", {}).items()}
        entry: dict[str, Any] = {"name": account, "sid": None, "error": None}
        if account:
            entry["sid"] = accounts.get(account.casefold())
            if entry["sid"] is None:
                # What NTAccount.Translate throws for a name nobody knows.
                entry["error"] = (
                    "Some or all identity references could not be translated."
                )
        groups = {}
        for label, sid in GROUP_SIDS.items():
            members = config.get("local_groups", {}).get(label, [])
            groups[label] = {
                "sid": sid,
                "members": [
                    {"name": m, "sid": accounts.get(m.casefold())} for m in members
                ],
                "error": None,
            }
        namespaces = self._namespaces(config.get("wmi_namespaces", {}))
        sid_names: dict[str, str | None] = {}
        for namespace in namespaces:
            for sid in _SID_IN_SDDL.findall(namespace["sddl"] or ""):
                sid_names.setdefault(sid, names.get(sid.upper()))
        return {
            "schema": 1,
            "computer_name": config["computer_name"],
            "account": entry,
            "local_groups": groups,
            "namespaces": namespaces,
            "sid_names": sid_names,
            "warnings": [],
        }

    @staticmethod
    def _namespaces(table: dict[str, str]) -> list[dict[str, Any]]:
        """root/cimv2 and the namespaces below it, breadth first, as the script."""
        by_path = {k.replace("\\", "/").casefold(): (k, v) for k, v in table.items()}
        found: list[dict[str, Any]] = []
        pending = [(WMI_ROOT, 0)]
        while pending:
            path, depth = pending.pop(0)
            known = by_path.get(path.casefold())
            if known is None:
                found.append(
                    {"path": path, "sddl": None, "error": f"Invalid namespace {path}"}
                )
                continue
            found.append({"path": path, "sddl": known[1], "error": None})
            if depth >= WMI_DEPTH:
                continue
            prefix = path.casefold() + "/"
            children = sorted(
                (
                    original.replace("\\", "/").rsplit("/", 1)[1]
                    for key, (original, _) in by_path.items()
                    if key.startswith(prefix) and "/" not in key[len(prefix) :]
                ),
                key=str.casefold,
            )
            pending.extend((f"{path}/{child}", depth + 1) for child in children)
        return found

    def _webapps(self, sphere_root: str) -> dict[str, Any]:
        path = win_combine(sphere_root, "Tomcat\\webapps")
        local = self.resolve(path)
        if local is None or not local.is_dir():
            return {"path": path, "exists": False, "entries": []}
        names = sorted((c.name for c in local.iterdir()), key=str.casefold)
        return {"path": path, "exists": True, "entries": names}

    def _acl(
        self, config: dict[str, Any], server_xml: dict[str, Any], warnings: list[str]
    ) -> list[dict[str, Any]] | None:
        if not server_xml["exists"]:
            return None
        for path, entries in config.get("acls", {}).items():
            if _same(path, server_xml["path"]):
                return [dict(e) for e in entries]
        warnings.append(
            f"server_xml_acl: the image has no ACL for {server_xml['path']}"
        )
        return None

    def _root_store(
        self, config: dict[str, Any], warnings: list[str]
    ) -> list[dict[str, Any]]:
        stores = config.get("cert_stores", {})
        store: list[dict[str, Any]] = next(
            (v for k, v in stores.items() if _same(k, ROOT_STORE)), []
        )
        certificates = [dict(c) for c in store]
        if config.get("root_store_include_lab_ca"):
            lab_ca = self._lab_ca(warnings)
            if lab_ca is not None:
                certificates.append(lab_ca)
        return certificates

    def _lab_ca(self, warnings: list[str]) -> dict[str, Any] | None:
        if self.pki_dir is None:
            return None
        path = self.pki_dir / "ca.pem"
        try:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes

            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError) as exc:
            # The double reports what it knows; the lab CA appears once
            # lab/pki.py has run.
            log.warning("lab CA not added to the root store: %s", exc)
            return None
        return {
            "subject": windows_name(cert.subject),
            "issuer": windows_name(cert.issuer),
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def _tomcat_service(
        self, config: dict[str, Any], sphere_root: str, warnings: list[str]
    ) -> dict[str, Any] | None:
        tomcat_bin = win_combine(sphere_root, "Tomcat\\bin") + "\\"
        services = sorted(
            (
                s
                for s in config.get("services", [])
                if s.get("path_name", "")
                .lstrip('"')
                .casefold()
                .startswith(tomcat_bin.casefold())
            ),
            key=lambda s: s["name"].casefold(),
        )
        if not services:
            warnings.append(f"tomcat_service: no service runs from {tomcat_bin}")
            return None
        if len(services) > 1:
            names = ", ".join(s["name"] for s in services)
            warnings.append(
                f"tomcat_service: several services run from {tomcat_bin}: {names}"
            )
        service = services[0]
        registry_key, options = "", []
        for base in PROCRUN_BASES:
            key = base + PROCRUN_KEY.format(name=service["name"])
            values = self._registry_key(config, key)
            if values is not None:
                registry_key = key
                for name in ("Options", "Options9"):
                    value = _value(values, name)
                    if value is not None:
                        options.extend(value if isinstance(value, list) else [value])
                break
        else:
            warnings.append(
                f"tomcat_service: no Procrun Java key for service {service['name']}"
            )
        return {
            "name": service["name"],
            "display_name": service.get("display_name", ""),
            "path": service["path_name"],
            "state": service.get("state", "Running"),
            "registry_key": registry_key,
            "java_options": [str(o) for o in options],
        }

    @staticmethod
    def _registry_key(config: dict[str, Any], key: str) -> dict[str, Any] | None:
        for name, values in config.get("registry", {}).items():
            if _same(name, key):
                return values
        return None

    def _listeners(
        self, shutdown_port: int, service: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Ask the lab network, not the image, whether the shutdown port listens.

        The image cannot know whether ``lab/up`` started Tomcat with a shutdown
        port, so the double connects to ``<address>:<port>`` (and sends
        nothing). The answer then agrees with the server the live probes see.
        Tomcat logs an "invalid shutdown command" line for each probe.
        """
        if shutdown_port <= 0:
            return []
        try:
            with socket.create_connection(
                (self.probe_address, shutdown_port), timeout=PROBE_TIMEOUT
            ):
                pass
        except OSError:
            return []
        return [
            {
                "address": self.probe_address,
                "port": shutdown_port,
                "process": _process(service),
            }
        ]

    def _udp_listeners(
        self, ports: tuple[int, ...], service: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Ask the lab network which of ``ports`` has a UDP socket bound.

        Binding a socket to ``<address>:<port>`` fails with "address in use"
        when something already holds it (the lab's Monitor stand-in, for
        the trap port), and that is the answer Get-NetUDPEndpoint would give.
        """
        bound = []
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((self.probe_address, port))
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    bound.append(port)
        return [
            {"address": self.probe_address, "port": port, "process": _process(service)}
            for port in bound
        ]

    def _sphere_version(
        self, config: dict[str, Any], warnings: list[str]
    ) -> str | None:
        products = []
        for key, values in config.get("registry", {}).items():
            parent = key.rsplit("\\", 1)[0]
            if not any(_same(parent, u) for u in UNINSTALL_KEYS):
                continue
            name = _value(values, "DisplayName") or ""
            version = _value(values, "DisplayVersion") or ""
            if fnmatch.fnmatch(name.casefold(), "isec7*") and version:
                products.append((name, version))
        sphere = [p for p in products if "sphere" in p[0].casefold()] or products
        if not sphere:
            return None
        sphere.sort(key=lambda p: p[0].casefold())
        if len(sphere) > 1:
            listed = "; ".join(f"{n} {v}" for n, v in sphere)
            warnings.append(
                f"sphere_version: several ISEC7 products installed: {listed}"
            )
        return str(sphere[0][1])


def _value(values: dict[str, Any], name: str) -> Any:
    # Registry value names are case-insensitive too.
    return next((v for k, v in values.items() if _same(k, name)), None)


# Attribute names as Windows prints them in Subject and Issuer.
_WINDOWS_ATTRIBUTES = {
    "2.5.4.3": "CN",
    "2.5.4.11": "OU",
    "2.5.4.10": "O",
    "2.5.4.7": "L",
    "2.5.4.8": "S",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.4": "SN",
    "2.5.4.42": "G",
    "2.5.4.12": "T",
    "1.2.840.113549.1.9.1": "E",
    "0.9.2342.19200300.100.1.25": "DC",
}


def windows_name(name: Any) -> str:
    """An X.500 name as .NET's Subject shows it: most specific first, ", "."""
    parts = []
    for rdn in reversed(list(name.rdns)):
        values = []
        for attribute in rdn:
            key = _WINDOWS_ATTRIBUTES.get(
                attribute.oid.dotted_string, f"OID.{attribute.oid.dotted_string}"
            )
            values.append(f"{key}={_quote(str(attribute.value))}")
        parts.append(" + ".join(values))
    return ", ".join(parts)


def _quote(value: str) -> str:
    if value != value.strip() or any(ch in value for ch in ',+="\n<>#;'):
        return '"' + value.replace('"', '""') + '"'
    return value
