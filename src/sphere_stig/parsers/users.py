"""Tomcat's ``tomcat-users.xml``: users, their roles and how passwords are stored.

The password itself is never kept: each one is classified (cleartext, a hex
digest, the ``salt$iterations$digest`` form of Tomcat's credential handlers)
the moment it is read, and only the classification leaves this module.

The parsing follows Tomcat's ``MemoryUserDatabase``: a user is named by
``username`` (older files use ``name``), a role by ``rolename`` (or ``name``);
``roles`` and ``groups`` are comma-separated lists whose entries are trimmed
and whose empty entries are skipped. A user also holds the roles of the
groups it belongs to.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from sphere_stig.outcome import CheckError
from sphere_stig.parsers.xmlsafe import Element, children, local_name, parse_xml

# salt$iterations$digest, as written by Tomcat's digest tool and credential
# handlers (DigestCredentialHandlerBase). The salt may be empty.
_SALTED = re.compile(r"^([0-9a-fA-F]*)\$([0-9]+)\$([0-9a-fA-F]+)$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# {SHA}base64 and friends, accepted by MessageDigestCredentialHandler.
_PREFIXED = re.compile(r"^\{(MD5|SHA|SSHA)\}[A-Za-z0-9+/=]+$", re.IGNORECASE)
# Lengths (in hex digits) of the digests Tomcat's handlers produce:
# MD5, SHA-1, SHA-256, SHA-384, SHA-512.
_DIGEST_HEX_LENGTHS = frozenset({32, 40, 64, 96, 128})


class PasswordKind(enum.StrEnum):
    ABSENT = "absent"
    EMPTY = "empty"
    CLEARTEXT = "cleartext"
    HEX_DIGEST = "hex_digest"
    SALTED_DIGEST = "salted_digest"
    PREFIXED_DIGEST = "prefixed_digest"


@dataclass(frozen=True)
class PasswordForm:
    """How a password is stored, without the password."""

    kind: PasswordKind
    # Digest size in bits when it can be read from the stored form.
    digest_bits: int | None = None
    iterations: int | None = None

    @property
    def is_digest(self) -> bool:
        return self.kind in (
            PasswordKind.HEX_DIGEST,
            PasswordKind.SALTED_DIGEST,
            PasswordKind.PREFIXED_DIGEST,
        )

    def describe(self) -> str:
        if self.kind is PasswordKind.SALTED_DIGEST:
            return (
                f"salted digest ({self.digest_bits}-bit, {self.iterations} iterations)"
            )
        if self.kind is PasswordKind.HEX_DIGEST:
            return f"unsalted hex digest ({self.digest_bits}-bit)"
        return self.kind.value.replace("_", " ")


@dataclass(frozen=True)
class TomcatUser:
    name: str
    # Roles named on the user itself, then those inherited from its groups.
    roles: tuple[str, ...]
    password: PasswordForm
    groups: tuple[str, ...] = ()
    direct_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class TomcatUsers:
    source: str
    users: tuple[TomcatUser, ...]
    # Roles declared with <role rolename="..."/>.
    declared_roles: tuple[str, ...]

    def users_with_role(self, *roles: str) -> tuple[TomcatUser, ...]:
        wanted = set(roles)
        return tuple(u for u in self.users if wanted & set(u.roles))


def classify_password(value: str | None) -> PasswordForm:
    """Classify a stored password value; the value itself is not retained."""
    if value is None:
        return PasswordForm(PasswordKind.ABSENT)
    if value == "":
        return PasswordForm(PasswordKind.EMPTY)
    salted = _SALTED.match(value)
    if salted:
        return PasswordForm(
            PasswordKind.SALTED_DIGEST,
            digest_bits=len(salted.group(3)) * 4,
            iterations=int(salted.group(2)),
        )
    if _HEX.match(value) and len(value) in _DIGEST_HEX_LENGTHS:
        return PasswordForm(PasswordKind.HEX_DIGEST, digest_bits=len(value) * 4)
    if _PREFIXED.match(value):
        return PasswordForm(PasswordKind.PREFIXED_DIGEST)
    return PasswordForm(PasswordKind.CLEARTEXT)


def split_roles(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_tomcat_users(data: bytes, source: str) -> TomcatUsers:
    root = parse_xml(data, source)
    if local_name(root.tag) != "tomcat-users":
        raise CheckError(
            f"{source}: the root element is <{local_name(root.tag)}>, not "
            "<tomcat-users>; check that the inventory's sphere_root points at "
            "the Sphere install and that the file is Tomcat's user database"
        )
    group_roles = {
        _first(g, "groupname", "name"): split_roles(g.get("roles"))
        for g in children(root, "group")
    }
    users = tuple(_user(element, group_roles) for element in children(root, "user"))
    roles = tuple(
        name
        for name in (_first(r, "rolename", "name") for r in children(root, "role"))
        if name
    )
    return TomcatUsers(source=source, users=users, declared_roles=roles)


def _first(element: Element, *attributes: str) -> str:
    for attribute in attributes:
        value = element.get(attribute)
        if value is not None:
            return value
    return ""


def _user(element: Element, group_roles: dict[str, tuple[str, ...]]) -> TomcatUser:
    direct = split_roles(element.get("roles"))
    groups = split_roles(element.get("groups"))
    effective = list(direct)
    for group in groups:
        effective.extend(r for r in group_roles.get(group, ()) if r not in effective)
    return TomcatUser(
        name=_first(element, "username", "name"),
        roles=tuple(effective),
        password=classify_password(element.get("password")),
        groups=groups,
        direct_roles=direct,
    )
