"""The rule catalog: STIG rules, organisation inputs, port tables, requirements.

Everything here is data read from the YAML files beside this module:

* ``rules.yml``: the benchmark header, the 34 rules and the organisation
  inputs they need;
* ``ports.yml``: both port tables of the STIG overview, with the legend;
* ``requirements.yml``: the overview's authentication, certificate and
  remote-agent requirements;
* ``roles.yml``: the host roles that rules, rows and requirements apply to.

The files are validated together on first use, so a rule naming an unknown
input or a row naming an unknown role fails loudly, with the file and the
entry in the message. The loaders are cached and return immutable models.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from sphere_stig import yamlfile

__all__ = [
    "AREAS",
    "BENCHMARK",
    "FILES",
    "MANUAL",
    "PORT_CHECKS",
    "REQUIREMENT_CHECKS",
    "ROLES",
    "RULE_CHECKS",
    "Benchmark",
    "Catalog",
    "CatalogError",
    "OrgInput",
    "PortRow",
    "Requirement",
    "Rule",
    "build_catalog",
    "load_benchmark",
    "load_catalog",
    "load_inputs",
    "load_port_legend",
    "load_ports",
    "load_requirements",
    "load_roles",
    "load_rules",
    "rule",
]

FILES = ("rules.yml", "ports.yml", "requirements.yml", "roles.yml")
MANUAL = "manual"
# Checks of manual rules that compare a value the reviewer takes from outside
# the host (the vendor's oldest supported release) with what the host shows.
REVIEWER_INPUT_CHECKS = ("sphere_version_supported",)

Severity = Literal["high", "medium", "low"]
Area = Literal[
    "Tomcat TLS",
    "Tomcat connector",
    "Tomcat realm",
    "Tomcat users",
    "Tomcat deployment",
    "Console session",
    "Console access",
    "Certificates",
    "Logging",
    "Windows host",
    "Product lifecycle",
]
RuleCheck = Literal[
    "manual",
    "tls_protocols",
    "session_timeout",
    "dod_certificate",
    "https_connector",
    "lockout_realm_present",
    "lockout_failure_count",
    "lockout_time",
    "tomcat_users_hashed",
    "manager_role_user",
    "connection_limits",
    "login_banner",
    "log_destination",
    "dod_roots_installed",
    "cac_login",
    "windows_root_truststore",
    "keystore_windows_my",
    "webapps_minimal",
    "error_page",
    "shutdown_port",
    "server_xml_acl",
    "transport_security_constraints",
    "sphere_version_supported",
]
# ports.yml explains each of these in its header comment.
PortCheck = Literal[
    "tcp_port",
    "tls_port",
    "tds_port",
    "ldap_port",
    "smtp_port",
    "udp_service",
    "snmp_trap",
    "icmp_tcp_any",
    "outbound",
]
# Checks only requirements use: the remote-agent permissions on monitored
# hosts, and the masked password field of the logon form.
RequirementCheck = Literal[
    RuleCheck,
    "password_field_masked",
    "wmi_agent_dcom_users",
    "wmi_agent_perfmon_users",
    "wmi_namespace_access",
    "activesync_agent_group",
    "activesync_ou_read",
    "activesync_ou_inheritance",
]
InputType = Literal["int", "str", "bool", "path", "version", "list[str]"]

AREAS: tuple[str, ...] = get_args(Area)
RULE_CHECKS: frozenset[str] = frozenset(get_args(RuleCheck))
PORT_CHECKS: frozenset[str] = frozenset(get_args(PortCheck))
REQUIREMENT_CHECKS: frozenset[str] = frozenset(get_args(RequirementCheck))

_CAT = {"high": "CAT I", "medium": "CAT II", "low": "CAT III"}
_MARKER = {"high": "cat1", "medium": "cat2", "low": "cat3"}


def _matching(regex: str) -> StringConstraints:
    return StringConstraints(pattern=regex)


VulnId = Annotated[str, _matching(r"^V-\d{5,6}$")]
RuleId = Annotated[str, _matching(r"^SV-\d{5,6}r\d+_rule$")]
StigId = Annotated[str, _matching(r"^ISEC-\d{2}-\d{6}$")]
Cci = Annotated[str, _matching(r"^CCI-\d{6}$")]
Srg = Annotated[str, _matching(r"^SRG-APP-\d{6}$")]
LegacyId = Annotated[str, _matching(r"^S?V-\d+$")]
Sha256 = Annotated[str, _matching(r"^[0-9a-f]{64}$")]
PortId = Annotated[str, _matching(r"^(OUT|LST)-\d{2}$")]
RequirementId = Annotated[str, _matching(r"^(AUTH|CERT|AGENT)-\d{2}$")]
Name = Annotated[str, _matching(r"^[a-z][a-z0-9_]*$")]
Title = Annotated[str, StringConstraints(min_length=10, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
# A date that dumps as ISO text, so model_dump() output goes into JSON as is.
IsoDate = Annotated[date, PlainSerializer(date.isoformat, return_type=str)]


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file and the entry."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Benchmark(_Frozen):
    """The DISA benchmark the rules come from."""

    id: Text
    title: Text
    version: int = Field(ge=1)
    release: int = Field(ge=1)
    release_info: Text
    benchmark_date: IsoDate
    status_date: IsoDate
    filename: Text
    sha256: Sha256

    @model_validator(mode="after")
    def _release_matches(self) -> Benchmark:
        if not self.release_info.startswith(f"Release: {self.release} "):
            info, release = self.release_info, self.release
            raise ValueError(f"release_info {info!r} does not state release {release}")
        return self

    @property
    def version_release(self) -> str:
        """The short form used in file names, e.g. ``V3R1``."""
        return f"V{self.version}R{self.release}"


class OrgInput(_Frozen):
    """A value only the organisation can supply, and the rules that read it."""

    name: Name
    description: Text
    type: InputType
    used_by: tuple[Text, ...] = Field(min_length=1)
    example: Any
    # None means there is no default: without a site value the rule is not
    # reviewed.
    default: Any = None

    @field_validator("example", "default", mode="before")
    @classmethod
    def _freeze_lists(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    def accepts(self, value: Any) -> bool:
        """Whether a value from an inventory has this input's type."""
        return _fits(self.type, tuple(value) if isinstance(value, list) else value)

    @model_validator(mode="after")
    def _values_fit_type(self) -> OrgInput:
        for label in ("example", "default"):
            value = getattr(self, label)
            if value is None and label == "default":
                continue
            if not _fits(self.type, value):
                raise ValueError(f"{label} {value!r} is not a valid {self.type}")
        return self


def _fits(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if kind == "version":
        return (
            isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)*", value) is not None
        )
    if kind == "list[str]":
        return (
            isinstance(value, tuple)
            and len(value) > 0
            and all(isinstance(v, str) and v for v in value)
        )
    return isinstance(value, str) and bool(value)


class Rule(_Frozen):
    """One STIG rule: its identifiers as DISA publishes them, the rest ours."""

    vuln_id: VulnId
    rule_id: RuleId
    stig_id: StigId
    severity: Severity
    ccis: tuple[Cci, ...] = Field(min_length=1)
    srg: Srg
    legacy_ids: tuple[LegacyId, ...]
    title: Title
    area: Area
    roles: tuple[Name, ...] = Field(min_length=1)
    inputs: tuple[Name, ...]
    check: RuleCheck
    manual: bool
    procedure: Text
    record: Text | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        number = self.vuln_id.removeprefix("V-")
        if not self.rule_id.startswith(f"SV-{number}r"):
            raise ValueError(
                f"rule_id {self.rule_id} does not belong to {self.vuln_id}"
            )
        if self.manual != (self.check in (MANUAL, *REVIEWER_INPUT_CHECKS)):
            raise ValueError(f"manual is {self.manual} but check is {self.check!r}")
        if self.manual and self.record is None:
            raise ValueError("a manual rule must say what the reviewer records")
        if not self.manual and self.record is not None:
            raise ValueError("record is only for manual rules")
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"inputs repeat a name: {list(self.inputs)}")
        return self

    @property
    def cat(self) -> str:
        """The severity category as checklists print it: CAT I, II or III."""
        return _CAT[self.severity]

    @property
    def marker(self) -> str:
        """The pytest marker name for the category: cat1, cat2 or cat3."""
        return _MARKER[self.severity]


class PortRow(_Frozen):
    """One row of a port table of the STIG overview."""

    id: PortId
    table: Literal["outbound", "listening"]
    source: Text
    target: Text
    protocols: Text
    port_text: Text
    ports: tuple[Port, ...]
    any: bool = False
    match: Literal["all", "any"] = "all"
    transport: Literal["tcp", "udp", "icmp+tcp"]
    legend: tuple[Annotated[int, Field(ge=1)], ...]
    conditions: tuple[Text, ...]
    source_roles: tuple[Name, ...] = Field(min_length=1)
    target_roles: tuple[Name, ...] = Field(min_length=1)
    check: PortCheck
    # Inventory inputs that must be true for a conditional row to apply.
    inputs: tuple[Name, ...] = ()
    notes: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PortRow:
        prefix = {"outbound": "OUT-", "listening": "LST-"}[self.table]
        if not self.id.startswith(prefix):
            raise ValueError(
                f"a row of the {self.table} table must have an id {prefix}NN"
            )
        written = sorted(int(n) for n in re.findall(r"\d+", self.port_text))
        if written != sorted(self.ports):
            raise ValueError(
                f"ports {list(self.ports)} differ from port_text {self.port_text!r}"
            )
        if self.any != ("any" in self.port_text.lower()):
            raise ValueError(f"any is {self.any} but port_text is {self.port_text!r}")
        if not self.ports and not self.any:
            raise ValueError("a row needs ports or any: true")
        if self.match == "any" and len(self.ports) < 2:
            raise ValueError("match: any needs more than one port")
        if len(self.conditions) != len(self.legend):
            raise ValueError("conditions must give one text per legend number")
        if (self.transport == "icmp+tcp") != (self.check == "icmp_tcp_any"):
            raise ValueError(
                f"transport {self.transport} does not fit check {self.check}"
            )
        if self.check in ("udp_service", "snmp_trap") and self.transport != "udp":
            raise ValueError(f"check {self.check} needs transport udp")
        return self


class Requirement(_Frozen):
    """A requirement of the STIG overview document, outside the rules."""

    id: RequirementId
    section: Literal["authentication", "certificates", "remote_agent"]
    statement: Text
    roles: tuple[Name, ...] = Field(min_length=1)
    check: RequirementCheck
    covered_by: tuple[VulnId, ...] = ()
    applies_when: Text | None = None
    inputs: tuple[Name, ...] = ()
    notes: Text | None = None

    @model_validator(mode="after")
    def _section_matches_id(self) -> Requirement:
        prefix = {
            "authentication": "AUTH-",
            "certificates": "CERT-",
            "remote_agent": "AGENT-",
        }
        if not self.id.startswith(prefix[self.section]):
            raise ValueError(
                f"section {self.section} needs an id {prefix[self.section]}NN"
            )
        return self


@dataclass(frozen=True)
class Catalog:
    """All catalog files, parsed and checked against each other."""

    benchmark: Benchmark
    roles: Mapping[str, str]
    rules: tuple[Rule, ...]
    inputs: Mapping[str, OrgInput]
    legend: Mapping[int, str]
    ports: tuple[PortRow, ...]
    requirements: tuple[Requirement, ...]


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def _parse(model: type[Any], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{where}: {_explain(exc)}") from None


def _entries(doc: Mapping[str, Any], file: str, key: str) -> list[Any]:
    entries = doc.get(key)
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{file}: needs a non-empty list under {key!r}")
    return entries


def _mapping(doc: Any, file: str, key: str | None = None) -> dict[Any, Any]:
    value = doc if key is None else (doc or {}).get(key)
    if not isinstance(value, dict) or not value:
        what = f"a mapping under {key!r}" if key else "a mapping at the top"
        raise CatalogError(f"{file}: needs {what}")
    return value


def _label(file: str, key: str, index: int, entry: Any, id_field: str) -> str:
    ident = entry.get(id_field) if isinstance(entry, dict) else None
    return f"{file}: {key}[{index}]" + (f" ({ident})" if ident else "")


def _unique(file: str, what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CatalogError(f"{file}: {what} {value} appears twice")
        seen.add(value)


def _known(where: str, what: str, names: Iterable[str], known: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise CatalogError(f"{where}: unknown {what} {', '.join(unknown)}")


def build_catalog(documents: Mapping[str, Any]) -> Catalog:
    """Parse and cross-check the catalog files, given as parsed YAML by file name."""
    roles = _mapping(documents.get("roles.yml"), "roles.yml", "roles")
    try:
        roles = TypeAdapter(dict[Name, Text]).validate_python(roles)
    except ValidationError as exc:
        raise CatalogError(f"roles.yml: roles: {_explain(exc)}") from None

    rules_doc = _mapping(documents.get("rules.yml"), "rules.yml")
    benchmark = _parse(Benchmark, rules_doc.get("benchmark"), "rules.yml: benchmark")
    rules = tuple(
        _parse(Rule, entry, _label("rules.yml", "rules", i, entry, "vuln_id"))
        for i, entry in enumerate(_entries(rules_doc, "rules.yml", "rules"))
    )
    for field_name in ("vuln_id", "rule_id", "stig_id"):
        _unique("rules.yml", field_name, (getattr(r, field_name) for r in rules))
    inputs = {
        name: _parse(
            OrgInput,
            {
                "name": name,
                **(entry if isinstance(entry, dict) else {"description": entry}),
            },
            f"rules.yml: inputs.{name}",
        )
        for name, entry in _mapping(rules_doc, "rules.yml", "inputs").items()
    }

    ports_doc = _mapping(documents.get("ports.yml"), "ports.yml")
    try:
        legend = TypeAdapter(dict[int, Text]).validate_python(
            _mapping(ports_doc, "ports.yml", "legend")
        )
    except ValidationError as exc:
        raise CatalogError(f"ports.yml: legend: {_explain(exc)}") from None
    ports = tuple(
        _parse(PortRow, entry, _label("ports.yml", "rows", i, entry, "id"))
        for i, entry in enumerate(_entries(ports_doc, "ports.yml", "rows"))
    )

    req_doc = _mapping(documents.get("requirements.yml"), "requirements.yml")
    requirements = tuple(
        _parse(
            Requirement,
            entry,
            _label("requirements.yml", "requirements", i, entry, "id"),
        )
        for i, entry in enumerate(_entries(req_doc, "requirements.yml", "requirements"))
    )
    _unique("requirements.yml", "id", (r.id for r in requirements))

    for r in rules:
        _known(f"rules.yml: {r.vuln_id}", "role", r.roles, roles)
        _known(f"rules.yml: {r.vuln_id}", "input", r.inputs, inputs)
    _check_ports(ports, legend, roles)
    rule_ids = {r.vuln_id for r in rules}
    for q in requirements:
        where = f"requirements.yml: {q.id}"
        _known(where, "role", q.roles, roles)
        _known(where, "rule", q.covered_by, rule_ids)
        _known(where, "input", q.inputs, inputs)
    _check_input_users(inputs, rules, requirements, ports)

    return Catalog(benchmark, roles, rules, inputs, legend, ports, requirements)


def _check_ports(
    ports: tuple[PortRow, ...], legend: Mapping[int, str], roles: Mapping[str, str]
) -> None:
    _unique("ports.yml", "id", (p.id for p in ports))
    numbers: dict[str, int] = {}
    for row in ports:
        where = f"ports.yml: {row.id}"
        # Ids count up from 01 in table order, so a row left out shows up.
        prefix, number = row.id.split("-")
        numbers[prefix] = numbers.get(prefix, 0) + 1
        if int(number) != numbers[prefix]:
            raise CatalogError(f"{where}: expected {prefix}-{numbers[prefix]:02d} here")
        _known(
            where,
            "legend number",
            (str(n) for n in row.legend),
            (str(n) for n in legend),
        )
        if row.conditions != tuple(legend[n] for n in row.legend):
            raise CatalogError(f"{where}: conditions differ from the legend texts")
        _known(where, "role", row.source_roles + row.target_roles, roles)


def _check_input_users(
    inputs: Mapping[str, OrgInput],
    rules: tuple[Rule, ...],
    requirements: tuple[Requirement, ...],
    ports: tuple[PortRow, ...] = (),
) -> None:
    users: dict[str, set[str]] = {name: set() for name in inputs}
    for row in ports:
        for name in row.inputs:
            if name not in users:
                raise CatalogError(f"ports.yml: {row.id}: unknown input {name!r}")
            users[name].add(row.id)
    for r in rules:
        for name in r.inputs:
            users[name].add(r.vuln_id)
    for q in requirements:
        for name in q.inputs:
            users[name].add(q.id)
    for name, org_input in inputs.items():
        declared = set(org_input.used_by)
        if declared != users[name]:
            raise CatalogError(
                f"rules.yml: inputs.{name}: used_by lists {sorted(declared)}, "
                f"but the entries naming it are {sorted(users[name])}"
            )


def _read(file: str) -> Any:
    text = resources.files(__name__).joinpath(file).read_text(encoding="utf-8")
    try:
        return yamlfile.parse(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{file}: not valid YAML: {exc}") from None


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalog, read and checked once per process."""
    return build_catalog({file: _read(file) for file in FILES})


def load_rules() -> tuple[Rule, ...]:
    """The rules in benchmark order."""
    return load_catalog().rules


@functools.cache
def _rules_by_id() -> dict[str, Rule]:
    return {r.vuln_id: r for r in load_rules()}


def rule(vuln_id: str) -> Rule:
    """The rule with this V-ID (e.g. ``V-224762``)."""
    try:
        return _rules_by_id()[vuln_id]
    except KeyError:
        raise KeyError(f"no rule {vuln_id!r} in the catalog") from None


def load_inputs() -> dict[str, OrgInput]:
    """The organisation inputs by name (a fresh dict; the models are frozen)."""
    return dict(load_catalog().inputs)


def load_ports() -> tuple[PortRow, ...]:
    """Every row of both port tables, Table 1-1 first, in table order."""
    return load_catalog().ports


def load_port_legend() -> dict[int, str]:
    """The port-table legend: number to text, in our words."""
    return dict(load_catalog().legend)


def load_requirements() -> tuple[Requirement, ...]:
    """The overview's authentication, certificate and remote-agent requirements."""
    return load_catalog().requirements


def load_roles() -> dict[str, str]:
    """Host roles and what they mean."""
    return dict(load_catalog().roles)


def load_benchmark() -> Benchmark:
    return load_catalog().benchmark


# ROLES and BENCHMARK are built on first access, not at import, so that
# importing this package (or sphere_stig.catalog.xccdf, which the ID
# extraction script needs while rules.yml is being edited) never fails on a
# broken catalog file. The annotations declare their types without binding.
ROLES: dict[str, str]
BENCHMARK: Benchmark
_LAZY = {"ROLES": load_roles, "BENCHMARK": load_benchmark}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _LAZY[name]()
    globals()[name] = value
    return value
