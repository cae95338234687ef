"""Inventories: which hosts to check, how to reach them, and the site's values.

An inventory is a YAML file under ``inventories/``. Credentials in it are
references (an environment variable or a file), never values, and every
resolved secret is registered with :mod:`sphere_stig.redact` so that no
report can print it.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sphere_stig import redact

DEFAULT_SPHERE_ROOT = r"C:\Program Files\ISEC7 SPHERE"
DEFAULT_CONNECT_TIMEOUT = 10.0
# Organisation inputs that name files; relative values are relative to the
# inventory file, like every other path in it.
PATH_INPUTS = frozenset({"dod_trust_anchors"})


class InventoryError(Exception):
    """The inventory cannot be used. The message names file, key and remedy."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret comes from: an environment variable or a file."""

    env: str | None = None
    file: Path | None = None

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    def model_post_init(self, __context: Any) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def resolve(self, host: str, key: str) -> str:
        """Read the secret; a missing one is a usage error naming the reference."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise InventoryError(
                    f"host {host}: {key} refers to environment variable {self.env}, "
                    "which is not set; export it before the run"
                )
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InventoryError(
                    f"host {host}: {key} refers to file {self.file}, which cannot be "
                    f"read ({exc.strerror}); create it or fix the path"
                ) from None
        redact.register(value)
        return value


def _secret(value: Any) -> Any:
    # A plain string here would be a password committed to the repository.
    if isinstance(value, str):
        raise ValueError(
            "credentials are references, not values: write {env: VARIABLE} "
            "or {file: path/to/secret}"
        )
    return value


class WinRMSettings(_Model):
    scheme: Literal["https", "http"] = "https"
    port: int | None = None
    auth: Literal["ntlm", "kerberos", "credssp", "basic"] = "ntlm"
    user: str | None = None
    password: SecretRef | None = None
    ca_bundle: Path | None = None
    # Only for a deliberate lab setup: certificate validation stays on by default.
    validate_certificate: bool = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    operation_timeout: float = 60.0

    _check_password = field_validator("password", mode="before")(_secret)

    @property
    def effective_port(self) -> int:
        return self.port or (5986 if self.scheme == "https" else 5985)


class LdapSettings(_Model):
    port: int = 636
    use_ssl: bool = True
    user: str | None = None
    password: SecretRef | None = None
    ca_bundle: Path | None = None
    base_dn: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    _check_password = field_validator("password", mode="before")(_secret)


class SqlSettings(_Model):
    port: int = 1433
    instance: str | None = None
    database: str | None = None
    user: str | None = None
    password: SecretRef | None = None
    encryption: Literal["require", "strict", "request", "off"] = "require"
    ca_bundle: Path | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    _check_password = field_validator("password", mode="before")(_secret)


class SnmpSettings(_Model):
    port: int = 161
    user: str | None = None
    auth_protocol: Literal["SHA", "SHA-256", "SHA-384", "SHA-512"] = "SHA"
    auth_key: SecretRef | None = None
    priv_protocol: Literal["AES", "AES-192", "AES-256"] = "AES"
    priv_key: SecretRef | None = None
    timeout: float = 2.0

    _check_keys = field_validator("auth_key", "priv_key", mode="before")(_secret)


class TlsSettings(_Model):
    # The name sent in SNI and matched against the certificate (default: fqdn).
    server_name: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT


class Connections(_Model):
    winrm: WinRMSettings = WinRMSettings()
    ldap: LdapSettings = LdapSettings()
    sql: SqlSettings = SqlSettings()
    snmp: SnmpSettings = SnmpSettings()
    tls: TlsSettings = TlsSettings()


class AssetInfo(_Model):
    """Checklist asset fields (STIG Viewer ROLE, MARKING, ...)."""

    role: Literal["None", "Workstation", "Member Server", "Domain Controller"] = (
        "Member Server"
    )
    marking: str = "CUI"
    mac: str = ""
    tech_area: str = "Mobility"
    comment: str = ""


class HostSpec(_Model):
    address: str
    fqdn: str | None = None
    roles: tuple[str, ...] = Field(min_length=1)
    groups: tuple[str, ...] = ()
    connections: dict[str, dict[str, Any]] = {}
    inputs: dict[str, Any] = {}
    asset: AssetInfo = AssetInfo()


class SiteSpec(_Model):
    sphere_root: str = DEFAULT_SPHERE_ROOT
    https_port: int = 443
    inputs: dict[str, Any] = {}


class InventoryFile(_Model):
    name: str | None = None
    description: str = ""
    # Reviewer answers for manual rules and waivers of findings
    # (docs/answers.md), relative to this file.
    answers: Path | None = None
    waivers: Path | None = None
    site: SiteSpec = SiteSpec()
    defaults: dict[str, dict[str, Any]] = {}
    hosts: dict[str, HostSpec] = Field(min_length=1)


class Host(_Model):
    """One host, with site defaults and its own settings merged."""

    name: str
    address: str
    fqdn: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    connections: Connections
    inputs: dict[str, Any]
    sphere_root: str
    https_port: int
    asset: AssetInfo

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class Inventory(_Model):
    name: str
    path: Path
    description: str
    hosts: tuple[Host, ...]
    answers: Path | None = None
    waivers: Path | None = None

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def limited(self, pattern: str | None) -> Inventory:
        """Hosts whose name or group matches one of the comma-separated globs."""
        if not pattern:
            return self
        globs = [p.strip() for p in pattern.split(",") if p.strip()]
        kept = tuple(
            h
            for h in self.hosts
            if any(fnmatch.fnmatch(n, g) for g in globs for n in (h.name, *h.groups))
        )
        if not kept:
            names = ", ".join(sorted({h.name for h in self.hosts}))
            groups = ", ".join(sorted({g for h in self.hosts for g in h.groups}))
            raise InventoryError(
                f"{self.path}: --limit {pattern!r} matches no host; "
                f"hosts: {names}; groups: {groups or '(none)'}"
            )
        return self.model_copy(update={"hosts": kept})


def available(directory: Path) -> list[str]:
    """Inventory names; answers and waivers files beside them are not inventories."""
    return sorted(p.stem for p in directory.glob("*.yml") if "." not in p.stem)


def locate(name_or_path: str, directory: Path) -> Path:
    """``lab`` means ``inventories/lab.yml``; a path is taken as it is."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yml", ".yaml") or os.sep in name_or_path:
        if candidate.is_file():
            return candidate
        raise InventoryError(f"inventory file {candidate} does not exist")
    path = directory / f"{name_or_path}.yml"
    if path.is_file():
        return path
    known = ", ".join(available(directory)) or "(none)"
    raise InventoryError(
        f"unknown inventory {name_or_path!r}: no {path}. "
        f"Inventories in {directory}: {known}"
    )


def _location(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _rebase(settings: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in an inventory are relative to the inventory file."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key in ("ca_bundle", "file") and isinstance(value, str):
            out[key] = str((base / value).resolve())
        elif isinstance(value, dict):
            out[key] = _rebase(value, base)
        else:
            out[key] = value
    return out


def load(name_or_path: str, directory: Path, known_roles: Iterable[str]) -> Inventory:
    path = locate(name_or_path, directory)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InventoryError(
            f"{path}:{where}: not valid YAML ({problem}); fix the syntax"
        ) from None
    if raw is None:
        raise InventoryError(
            f"{path}: no hosts defined (the file is empty or all commented out, "
            "as the shipped templates are); uncomment and fill in its hosts"
        )
    if not isinstance(raw, dict):
        raise InventoryError(f"{path}: expected a mapping with a 'hosts' key")
    try:
        spec = InventoryFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InventoryError(
            f"{path}: key {_location(first['loc'])}: {first['msg']}{extra}"
        ) from None
    return _build(spec, path, set(known_roles))


def _rebase_inputs(inputs: dict[str, Any], base: Path) -> dict[str, Any]:
    return {
        k: str((base / v).resolve()) if k in PATH_INPUTS and isinstance(v, str) else v
        for k, v in inputs.items()
    }


def _build(spec: InventoryFile, path: Path, known_roles: set[str]) -> Inventory:
    base = path.parent
    hosts = []
    for name, h in spec.hosts.items():
        unknown = [r for r in h.roles if r not in known_roles]
        if unknown:
            raise InventoryError(
                f"{path}: key hosts.{name}.roles: unknown role {unknown[0]!r}; "
                f"known roles: {', '.join(sorted(known_roles))}"
            )
        merged: dict[str, Any] = {}
        for kind in set(spec.defaults) | set(h.connections):
            merged[kind] = _rebase(
                {**spec.defaults.get(kind, {}), **h.connections.get(kind, {})}, base
            )
        try:
            connections = Connections.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InventoryError(
                f"{path}: key hosts.{name}.connections.{_location(first['loc'])} "
                f"(or defaults.{_location(first['loc'])}): {first['msg']}"
            ) from None
        hosts.append(
            Host(
                name=name,
                address=h.address,
                fqdn=h.fqdn or name,
                roles=h.roles,
                groups=h.groups,
                connections=connections,
                inputs=_rebase_inputs({**spec.site.inputs, **h.inputs}, base),
                sphere_root=spec.site.sphere_root,
                https_port=spec.site.https_port,
                asset=h.asset,
            )
        )
    return Inventory(
        name=spec.name or path.stem,
        path=path,
        description=spec.description,
        hosts=tuple(hosts),
        answers=(base / spec.answers).resolve() if spec.answers else None,
        waivers=(base / spec.waivers).resolve() if spec.waivers else None,
    )
