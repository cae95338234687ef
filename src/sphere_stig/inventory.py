"""Inventories: which hosts to check, how to reach them, and the site's values.

An inventory is a YAML file under ``inventories/``. Credentials in it are
references (an environment variable or a file), never values, and every
resolved secret is registered with :mod:`sphere_stig.redact` so that no
report can print it.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from sphere_stig import catalog, redact, yamlfile
from sphere_stig.hints import did_you_mean
from sphere_stig.transports.winrm import missing_auth_package

DEFAULT_SPHERE_ROOT = r"C:\Program Files\ISEC7 SPHERE"
DEFAULT_CONNECT_TIMEOUT = 10.0
# Organisation inputs that name files; relative values are relative to the
# inventory file, like every other path in it.
PATH_INPUTS = frozenset({"dod_trust_anchors"})
# Where the organisation inputs are described, for messages about them.
INPUTS_DOC = "inputs: in src/sphere_stig/catalog/rules.yml"


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

    def read(self) -> str:
        """The secret; ``LookupError`` saying why and what to do when it is missing.

        The reason never holds the secret, so it can go into any message.
        """
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(
                    f"refers to environment variable {self.env}, which is not set; "
                    f"export {self.env} before the run"
                )
            if not value:
                raise LookupError(
                    f"refers to environment variable {self.env}, which is empty; "
                    f"export {self.env} with the secret before the run"
                )
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise LookupError(
                    f"refers to file {self.file}, which cannot be read ({reason}); "
                    "create it or fix the path"
                ) from None
            if not value:
                raise LookupError(
                    f"refers to file {self.file}, which is empty; put the secret in it"
                )
        redact.register(value)
        return value

    def resolve(self, host: str, key: str) -> str:
        """Read the secret; a missing one is a usage error naming host and key."""
        try:
            return self.read()
        except LookupError as exc:
            raise InventoryError(f"{host}: {key} {exc}") from None


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


# One label of a DNS host name (RFC 1123): letters, digits and inner hyphens.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _address(value: str) -> str:
    """An IP address that parses, or a DNS host name; anything else is refused.

    A typo such as 127.0.0.300 would otherwise reach the run as a host that
    is down, with the resolver's words for it.
    """
    text = value.strip()
    if ":" in text or re.fullmatch(r"[0-9.]+", text):
        # It is written as an IP address, so it has to be one.
        try:
            ipaddress.ip_address(text)
        except ValueError:
            kind = "IPv6" if ":" in text else "IPv4"
            example = "fd00::40" if kind == "IPv6" else "10.20.30.40"
            raise ValueError(
                f"{value!r} is not a valid {kind} address; write one such as "
                f"{example}, or a DNS host name"
            ) from None
        return text
    labels = text.removesuffix(".").split(".")
    if len(text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{value!r} is not an IP address or a DNS host name; a host name is "
            "labels of letters, digits and inner hyphens joined by dots, such as "
            "sphere-app01.example.mil"
        )
    return text


def _fqdn(value: str | None) -> str | None:
    """A DNS name (it is sent as the TLS server name), not an address."""
    if value is None:
        return value
    text = _address(value)
    if ":" in text or re.fullmatch(r"[0-9.]+", text):
        raise ValueError(
            f"{value!r} is an address; fqdn is the host's DNS name, such as "
            "sphere-app01.example.mil (the address goes under address)"
        )
    return text


class HostSpec(_Model):
    address: str
    fqdn: str | None = None
    roles: tuple[str, ...] = Field(min_length=1)
    groups: tuple[str, ...] = ()
    connections: dict[str, dict[str, Any]] = {}
    inputs: dict[str, Any] = {}
    asset: AssetInfo = AssetInfo()

    _check_address = field_validator("address")(_address)
    _check_fqdn = field_validator("fqdn")(_fqdn)


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


class Origin(_Model):
    """Where a host's setting is written in the inventory file, and as what."""

    # The key path in the file: defaults.winrm.password, site.inputs.max_threads.
    key: str
    # A path as written, before it was made absolute.
    text: str | None = None

    def relative_note(self, base: Path) -> str:
        """For a relative path: what it was taken relative to."""
        if self.text is None or Path(self.text).is_absolute():
            return ""
        return f" ({self.text!r} is relative to the inventory's folder {base})"


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
    # Where each merged setting sits in the file, by its key on the host
    # (connections.winrm.password -> defaults.winrm.password), so that a
    # message sends the user to the line to change.
    origins: dict[str, Origin] = {}

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def origin(self, key: str) -> Origin:
        """Where ``key`` (``connections.winrm.password``) is written in the file."""
        return self.origins.get(key) or Origin(key=f"hosts.{self.name}.{key}")


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


def _model(kind: Any) -> type[BaseModel] | None:
    """The model a field holds, looking through ``X | None``."""
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 else None
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys accepted at ``loc`` below ``model``, in declaration order."""
    kind: Any = model
    for part in loc:
        found = _model(kind)
        if found is not None:
            field = found.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        elif get_origin(kind) is dict:
            # A name chosen by the user (a host, a connection kind).
            kind = get_args(kind)[1]
        else:
            return []
    found = _model(kind)
    return list(found.model_fields) if found is not None else []


# What a key should hold, for pydantic's error types, in the words of YAML.
_LIST = "should be a list, e.g. [sphere, prod]"
_WHOLE = "should be a whole number, e.g. 443"
_NUMBER = "should be a number, e.g. 10 or 2.5"
_FLAG = "should be true or false"
_EXPECTED = {
    "tuple_type": _LIST,
    "list_type": _LIST,
    "dict_type": "should be a mapping of keys, 'key: value' each, not a list or "
    "a single value",
    "int_type": _WHOLE,
    "int_parsing": _WHOLE,
    "int_from_float": _WHOLE,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "bool_type": _FLAG,
    "bool_parsing": _FLAG,
    "string_type": "should be text",
    "path_type": "should be a file path",
    "too_short": "should not be empty",
}
# Keys whose value is the user's own list of names, safe to show back.
_NAME_LISTS = frozenset({"roles", "groups"})


def _explain(error: ErrorDetails, model: type[BaseModel], where: str) -> str:
    """One validation problem, in the words the author of the file needs.

    The value given is not repeated, because it could be a password written
    in the wrong place; only a name given for ``roles`` or ``groups``, and
    values the suite's own checks quote (an address), are shown.
    """
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return (
            f"key {where}: not a known key; "
            f"{did_you_mean(str(loc[-1]), known, 'known keys')}"
        )
    if kind == "missing":
        return f"key {where}: missing; add it"
    return f"key {where}: {_expected(error, model)}"


def _expected(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    if kind == "model_type":
        known = _known_keys(model, loc)
        if known == ["env", "file"]:
            return "should be a reference: {env: VARIABLE} or {file: path/to/secret}"
        return f"should be a mapping of keys; known keys: {', '.join(known)}"
    if kind in ("tuple_type", "list_type") and loc and str(loc[-1]) in _NAME_LISTS:
        if isinstance(value, str):
            return f"should be a list, e.g. [{value}]"
    if kind == "string_type" and isinstance(value, int | float):
        return "should be text; put the value in quotes"
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    # Messages of the suite's own validators, and pydantic's "Input should
    # be 'ntlm', 'kerberos', ..." for a choice, read well without the prefix.
    return error["msg"].removeprefix("Value error, ").removeprefix("Input ")


def _settings(
    written: dict[str, Any],
    key: str,
    where: str,
    base: Path,
    origins: dict[str, Origin],
) -> dict[str, Any]:
    """One settings block with its paths made absolute, noting where each key is.

    ``key`` is the block's key on the host (connections.winrm), ``where``
    its key in the file (defaults.winrm). Relative paths are relative to
    the inventory file.
    """
    out: dict[str, Any] = {}
    for name, value in written.items():
        here, there = f"{key}.{name}", f"{where}.{name}"
        if name in ("ca_bundle", "file") and isinstance(value, str):
            origins[here] = Origin(key=there, text=value)
            out[name] = str((base / value).resolve())
        elif isinstance(value, dict):
            origins[here] = Origin(key=there)
            out[name] = _settings(value, here, there, base, origins)
        else:
            origins[here] = Origin(key=there)
            out[name] = value
    return out


def _written_at(loc: Sequence[Any], origins: dict[str, Origin]) -> str:
    """The key in the file of a problem found in the merged connection settings."""
    parts = ["connections", *(str(p) for p in loc)]
    for end in range(len(parts), 1, -1):
        origin = origins.get(".".join(parts[:end]))
        if origin is not None:
            return ".".join([origin.key, *parts[end:]])
    return ".".join(parts)


def load(
    name_or_path: str,
    directory: Path,
    known_roles: Iterable[str],
    known_inputs: Iterable[str] | None = None,
) -> Inventory:
    """Read and check an inventory; every problem found is in the error.

    ``known_inputs`` defaults to the organisation inputs of the catalog.
    """
    path = locate(name_or_path, directory)
    try:
        raw = yamlfile.parse(path.read_text(encoding="utf-8-sig"))
    except yamlfile.DuplicateKeyError as exc:
        raise InventoryError(f"{path}: {exc}") from None
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
            "as the shipped templates are); copy a template to a file of your own, "
            "uncomment it and fill in the hosts"
        )
    if not isinstance(raw, dict):
        raise InventoryError(f"{path}: expected a mapping with a 'hosts' key")
    try:
        spec = InventoryFile.model_validate(raw)
    except ValidationError as exc:
        problems = (
            _explain(e, InventoryFile, _location(e["loc"])) for e in exc.errors()
        )
        raise InventoryError(_lines(path, problems)) from None
    if known_inputs is None:
        known_inputs = catalog.load_inputs()
    return _build(spec, path, set(known_roles), list(known_inputs))


def _lines(path: Path, problems: Iterable[str]) -> str:
    """One line per problem, each naming the file; a problem said twice counts once."""
    return "\n".join(f"{path}: {p}" for p in dict.fromkeys(problems))


def _inputs(
    inputs: dict[str, Any], where: str, base: Path, origins: dict[str, Origin]
) -> dict[str, Any]:
    """Organisation inputs with their paths made absolute, noting where each is."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if name in PATH_INPUTS and isinstance(value, str):
            origins[f"inputs.{name}"] = Origin(key=f"{where}.{name}", text=value)
            out[name] = str((base / value).resolve())
        else:
            origins[f"inputs.{name}"] = Origin(key=f"{where}.{name}")
            out[name] = value
    return out


# How an input of each catalog type is written, for the error message.
INPUT_TYPES = {
    "bool": "true or false",
    "int": "a whole number above 0",
    "version": "a version in quotes, such as '7.4.0'",
    "list[str]": "a non-empty list of names",
    "str": "a non-empty text",
    "path": "a non-empty file path",
}


def _unknown_inputs(spec: InventoryFile, known: list[str]) -> list[str]:
    # A misspelt input would otherwise leave its rules "input not set", with
    # nothing pointing at the typo; a value of the wrong type (7.4 read by
    # YAML as a number) would reach a check that cannot judge it.
    declared = catalog.load_inputs()
    blocks = [("site.inputs", spec.site.inputs)] + [
        (f"hosts.{name}.inputs", h.inputs) for name, h in spec.hosts.items()
    ]
    problems = []
    for where, inputs in blocks:
        for name, value in inputs.items():
            if name not in known:
                problems.append(
                    f"key {where}.{name}: not a known input; "
                    f"{did_you_mean(name, known, 'known inputs')} ({INPUTS_DOC})"
                )
            elif name in declared and not declared[name].accepts(value):
                kind = declared[name].type
                problems.append(
                    f"key {where}.{name}: should be {INPUT_TYPES.get(kind, kind)}, "
                    f"not {_as_written(value)}; see its description ({INPUTS_DOC})"
                )
    return problems


def _as_written(value: Any) -> str:
    """A value read from YAML, shown as the user would write it.

    Only for organisation inputs: they hold no secrets, so the value helps.
    """
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."


def _build(
    spec: InventoryFile, path: Path, known_roles: set[str], known_inputs: list[str]
) -> Inventory:
    base = path.parent
    problems = _unknown_inputs(spec, known_inputs)
    hosts = []
    for name, h in spec.hosts.items():
        unknown = [r for r in h.roles if r not in known_roles]
        if unknown:
            problems += (
                f"key hosts.{name}.roles: unknown role {role!r}; "
                f"{did_you_mean(role, sorted(known_roles), 'known roles')}"
                for role in unknown
            )
        origins: dict[str, Origin] = {}
        merged: dict[str, Any] = {}
        for kind in sorted(set(spec.defaults) | set(h.connections)):
            own = f"hosts.{name}.connections.{kind}"
            origins[f"connections.{kind}"] = Origin(
                key=own if kind in h.connections else f"defaults.{kind}"
            )
            merged[kind] = {
                **_settings(
                    spec.defaults.get(kind, {}),
                    f"connections.{kind}",
                    f"defaults.{kind}",
                    base,
                    origins,
                ),
                **_settings(
                    h.connections.get(kind, {}),
                    f"connections.{kind}",
                    own,
                    base,
                    origins,
                ),
            }
        try:
            connections = Connections.model_validate(merged)
        except ValidationError as exc:
            problems += (
                _explain(e, Connections, _written_at(e["loc"], origins))
                for e in exc.errors()
            )
            continue
        inputs = {
            **_inputs(spec.site.inputs, "site.inputs", base, origins),
            **_inputs(h.inputs, f"hosts.{name}.inputs", base, origins),
        }
        hosts.append(
            Host(
                name=name,
                address=h.address,
                fqdn=h.fqdn or name,
                roles=h.roles,
                groups=h.groups,
                connections=connections,
                inputs=inputs,
                sphere_root=spec.site.sphere_root,
                https_port=spec.site.https_port,
                asset=h.asset,
                origins=origins,
            )
        )
    if problems:
        raise InventoryError(_lines(path, problems))
    return Inventory(
        name=spec.name or path.stem,
        path=path,
        description=spec.description,
        hosts=tuple(hosts),
        answers=(base / spec.answers).resolve() if spec.answers else None,
        waivers=(base / spec.waivers).resolve() if spec.waivers else None,
    )


# Checked before a run, for the hosts it covers.


def check_references(
    inventory: Inventory,
    connections: Callable[[Host], Iterable[str]],
    inputs: Callable[[Host], Iterable[str]],
) -> None:
    """Read every secret and file the run will use, before any test starts.

    ``connections`` names the connection blocks (winrm, ldap, ...) that a
    host's tests reach it through, ``inputs`` the organisation inputs they
    read. Each secret they reference is resolved (and so registered for
    redaction), and each CA bundle and file input must be a readable PEM
    file. Everything missing is in the one error, by the key as written in
    the file and with the hosts that need it.
    """
    needed: dict[str, list[str]] = {}
    base = inventory.path.parent.resolve()
    for host in inventory.hosts:
        found = [
            *(
                _connection_problem(host, kind, base)
                for kind in sorted(set(connections(host)))
            ),
            *(_input_problem(host, name, base) for name in sorted(set(inputs(host)))),
        ]
        for problems in found:
            for problem in problems:
                needed.setdefault(problem, []).append(host.name)
    if needed:
        raise InventoryError(
            _lines(
                inventory.path,
                (f"{p} (needed for {', '.join(names)})" for p, names in needed.items()),
            )
        )


def _connection_problem(host: Host, kind: str, base: Path) -> list[str]:
    settings = getattr(host.connections, kind)
    problems = []
    for field, value in settings:
        key = f"connections.{kind}.{field}"
        origin = host.origin(key)
        if isinstance(value, SecretRef):
            try:
                value.read()
            except LookupError as exc:
                note = host.origin(f"{key}.file").relative_note(base)
                problems.append(f"key {origin.key}: {exc}{note}")
        elif field == "ca_bundle" and value is not None:
            problem = _pem_problem(Path(value))
            if problem:
                note = origin.relative_note(base)
                problems.append(f"key {origin.key}: {problem}{note}")
    if isinstance(settings, WinRMSettings):
        problems += _auth_problem(host, settings.auth)
    return problems


def _auth_problem(host: Host, auth: str) -> list[str]:
    # Without the package every WinRM test of the host would fail alike.
    requirement = missing_auth_package(auth)
    if requirement is None:
        return []
    key = host.origin("connections.winrm.auth").key
    problem = (
        f"key {key}: {auth} authentication needs the optional package "
        f"{requirement}, which is not installed; run pip install '{requirement}' "
        "in the suite's environment"
    )
    if auth == "kerberos":
        problem += (
            ", and give the runner a Kerberos client configuration "
            "(/etc/krb5.conf naming the hosts' realm and its KDCs)"
        )
    return [problem]


def _input_problem(host: Host, name: str, base: Path) -> list[str]:
    value = host.inputs.get(name)
    if name not in PATH_INPUTS or not value:
        return []
    origin = host.origin(f"inputs.{name}")
    problem = _pem_problem(Path(value))
    return (
        [f"key {origin.key}: {problem}{origin.relative_note(base)}"] if problem else []
    )


def _pem_problem(path: Path) -> str:
    """Why ``path`` is not a readable PEM file of certificates ("" when it is)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        return (
            f"{path} cannot be read ({exc.strerror}); fix the path or create the file"
        )
    if "-----BEGIN CERTIFICATE-----" not in text:
        return f"{path} holds no PEM certificate; name a PEM file of CA certificates"
    return ""
