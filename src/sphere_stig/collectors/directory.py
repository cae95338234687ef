"""Active Directory facts for the ActiveSync agent requirements (AGENT-04..06).

A remote Sphere agent that parses Exchange ActiveSync logs runs as a
service account that must belong to "View-Only Organization Management",
and that group must be able to read every organisational unit holding user
accounts, down to the last object below it. This collector reads, from one
domain controller over the host's LDAP session:

* the group, and every member it has directly or through nested groups;
* the distinguished name of the agent account (input
  ``activesync_agent_account``, ``DOMAIN\\name`` or a UPN);
* for each OU of input ``user_account_ous``, the entries of its DACL that
  name the group, read from ``nTSecurityDescriptor``.

The security descriptor is requested with the SD-flags control set to
owner, group and DACL (0x07). Without it a directory server also asks for
the SACL, which only administrators may read, and an ordinary read-only
account then gets no descriptor at all.
"""

from __future__ import annotations

import atexit
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sphere_stig.collectors.cache import FactCache, fact_source
from sphere_stig.inventory import Host
from sphere_stig.outcome import CollectionError
from sphere_stig.transports import ldap as ldap_transport

if TYPE_CHECKING:
    import ldap3

log = logging.getLogger(__name__)

AGENT_GROUP = "View-Only Organization Management"
# Owner, group and DACL; not the SACL (see the module docstring).
SD_FLAGS = 0x07
# Nested membership is walked one member at a time; a group this large is
# not an Exchange role group any more, and the walk stops there.
MAX_MEMBERS = 2000

# Access mask bits of directory objects, with their SDDL abbreviations.
ACCESS_RIGHTS: tuple[tuple[int, str], ...] = (
    (0x80000000, "GR"),
    (0x40000000, "GW"),
    (0x20000000, "GX"),
    (0x10000000, "GA"),
    (0x00080000, "WO"),
    (0x00040000, "WD"),
    (0x00020000, "RC"),
    (0x00010000, "SD"),
    (0x00000100, "CR"),
    (0x00000080, "LO"),
    (0x00000040, "DT"),
    (0x00000020, "WP"),
    (0x00000010, "RP"),
    (0x00000008, "SW"),
    (0x00000004, "LC"),
    (0x00000002, "DC"),
    (0x00000001, "CC"),
)
ACE_FLAGS: tuple[tuple[int, str], ...] = (
    (0x01, "OI"),
    (0x02, "CI"),
    (0x04, "NP"),
    (0x08, "IO"),
    (0x10, "ID"),
)


def rights(mask: int) -> str:
    """``0x20094`` as ``RC|LO|RP|LC``; bits without a name stay in hex."""
    names = [name for bit, name in ACCESS_RIGHTS if mask & bit]
    rest = mask & ~sum(bit for bit, _ in ACCESS_RIGHTS)
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "none"


def flag_names(flags: int) -> str:
    """ACE flags in SDDL letters (``CI|ID``), or ``none``."""
    return "|".join(name for bit, name in ACE_FLAGS if flags & bit) or "none"


@dataclass(frozen=True)
class Ace:
    """One entry of an OU's DACL that names the agent group."""

    allow: bool
    mask: int
    # OI, CI, NP, IO, ID bits (the audit bits do not occur in a DACL).
    flags: int
    # GUID of the one property, property set or child class the entry is
    # limited to; None grants on the whole object.
    object_type: str | None = None
    # GUID of the only class of descendants the entry is inherited by.
    inherited_object_type: str | None = None

    @property
    def rights(self) -> str:
        return rights(self.mask)

    @property
    def flag_names(self) -> str:
        return flag_names(self.flags)

    def describe(self) -> str:
        kind = "allow" if self.allow else "deny"
        text = f"{kind} {self.mask:#x} ({self.rights}), flags {self.flag_names}"
        if self.object_type:
            text += f", only object type {self.object_type}"
        if self.inherited_object_type:
            text += f", inherited only by class {self.inherited_object_type}"
        return text


@dataclass(frozen=True)
class OuAcl:
    """What the DACL of one organisational unit grants the agent group."""

    dn: str
    exists: bool
    # False when the server returned the OU but no descriptor (the audit
    # account lacks Read Permissions on it).
    readable: bool = True
    aces: tuple[Ace, ...] = ()
    # Entries of the whole DACL, for the evidence.
    dacl_size: int = 0


@dataclass(frozen=True)
class GroupMember:
    dn: str
    name: str
    is_group: bool
    # Names of the nested groups between the agent group and this member,
    # outermost first; empty for a direct member.
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectoryFacts:
    """The ActiveSync agent's standing in one domain, as one DC reports it."""

    host: str
    # "LDAP ldaps://127.0.0.3:636 as svc-stig-scan@lab.example"
    source: str
    base_dn: str
    netbios_domain: str | None
    group_name: str
    group_dn: str | None
    group_sid: str | None
    # Direct and nested members; complete unless MAX_MEMBERS was reached.
    members: tuple[GroupMember, ...]
    members_complete: bool
    # The input as the inventory gives it, and what it resolved to.
    account: str | None
    account_dn: str | None
    # Why the account was not looked up or not found, for the evidence.
    account_note: str | None
    ous: tuple[OuAcl, ...]

    def member(self, dn: str | None) -> GroupMember | None:
        if dn is None:
            return None
        wanted = dn.lower()
        return next((m for m in self.members if m.dn.lower() == wanted), None)


@fact_source("directory")
def gather_directory(cache: FactCache, host: Host) -> DirectoryFacts:
    """The fact source ``directory``: one DC's view, over the run's LDAP session."""
    pool = cache.pools.get("ldap")
    if pool is None:
        # Outside the pytest glue (which hands in a session-scoped pool)
        # the cache keeps one of its own, closed when the process ends.
        pool = cache.pools["ldap"] = ldap_transport.LdapPool()
        atexit.register(pool.close)
    conn = pool.session(host)
    ous = host.inputs.get("user_account_ous") or ()
    if isinstance(ous, str):
        ous = [ous]
    return read_directory(
        conn,
        host.name,
        base_dn=host.connections.ldap.base_dn,
        account=host.inputs.get("activesync_agent_account"),
        ous=tuple(str(ou) for ou in ous),
        user=host.connections.ldap.user,
    )


def read_directory(
    conn: ldap3.Connection,
    host: str,
    *,
    base_dn: str | None,
    account: str | None,
    ous: tuple[str, ...],
    group_name: str = AGENT_GROUP,
    user: str | None = None,
) -> DirectoryFacts:
    """Read the agent group, the account and the OUs' DACLs over ``conn``."""
    reader = _Reader(conn, host)
    root = reader.root_dse()
    base_dn = base_dn or _first(root, "defaultNamingContext")
    if not base_dn:
        raise CollectionError(
            host,
            reader.source,
            "the server names no default naming context; set connections.ldap.base_dn",
        )
    netbios = reader.netbios_name(_first(root, "configurationNamingContext"), base_dn)

    group = reader.find_group(base_dn, group_name)
    group_dn = group["dn"] if group else None
    group_sid = _sid(group, "objectSid") if group else None
    members, complete = reader.members(group) if group else ((), True)

    account_dn, note = reader.find_account(base_dn, account, netbios)
    acls = tuple(reader.ou_acl(dn, group_sid) for dn in ous)
    return DirectoryFacts(
        host=host,
        source=f"{reader.source} as {user}" if user else reader.source,
        base_dn=base_dn,
        netbios_domain=netbios,
        group_name=group_name,
        group_dn=group_dn,
        group_sid=group_sid,
        members=members,
        members_complete=complete,
        account=account,
        account_dn=account_dn,
        account_note=note,
        ous=acls,
    )


class _Reader:
    """The searches of one collection, with ldap3's errors mapped."""

    def __init__(self, conn: ldap3.Connection, host: str) -> None:
        self.conn = conn
        self.host = host
        self.source = ldap_transport.source_of(conn)

    def search(
        self,
        base: str,
        ldap_filter: str,
        scope: str,
        attributes: list[str],
        controls: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Entries found; an empty list when ``base`` does not exist."""
        log.debug(
            "RUN search %s %s %s %s",
            scope,
            base or "(root DSE)",
            ldap_filter,
            attributes,
        )
        with ldap_transport.errors(self.host, self.source):
            self.conn.search(
                base, ldap_filter, scope, attributes=attributes, controls=controls
            )
        result = self.conn.result or {}
        description = result.get("description", "success")
        if description == "noSuchObject":
            return []
        if description not in ("success", "sizeLimitExceeded"):
            message = (result.get("message") or "").strip()
            raise CollectionError(
                self.host,
                self.source,
                f"search of {base or 'the root DSE'} failed: {description}"
                + (f" ({message})" if message else ""),
            )
        return [
            e for e in self.conn.response or () if e.get("type") == "searchResEntry"
        ]

    def root_dse(self) -> dict[str, Any]:
        entries = self.search(
            "",
            "(objectClass=*)",
            "BASE",
            ["defaultNamingContext", "configurationNamingContext"],
        )
        return entries[0] if entries else {}

    def netbios_name(self, configuration: str | None, base_dn: str) -> str | None:
        if not configuration:
            return None
        entries = self.search(
            f"CN=Partitions,{configuration}",
            f"(&(objectClass=crossRef)(nCName={_escape(base_dn)}))",
            "LEVEL",
            ["nETBIOSName"],
        )
        return _first(entries[0], "nETBIOSName") if entries else None

    def find_group(self, base_dn: str, name: str) -> dict[str, Any] | None:
        escaped = _escape(name)
        entries = self.search(
            base_dn,
            f"(&(objectClass=group)(|(sAMAccountName={escaped})(cn={escaped})))",
            "SUBTREE",
            ["sAMAccountName", "objectSid", "member"],
        )
        # sAMAccountName is unique in a domain, a cn only in its container.
        exact = [e for e in entries if (_first(e, "sAMAccountName") or "") == name]
        found = (exact or entries)[:1]
        return found[0] if found else None

    def members(self, group: dict[str, Any]) -> tuple[tuple[GroupMember, ...], bool]:
        """Direct and nested members, breadth first, each listed once.

        Membership through a user's primary group (primaryGroupID) is not in
        ``member`` and is not followed: a role group is never a primary group.
        """
        found: dict[str, GroupMember] = {}
        queue: list[tuple[dict[str, Any], tuple[str, ...]]] = [(group, ())]
        seen_groups = {group["dn"].lower()}
        while queue:
            current, via = queue.pop(0)
            for dn in _values(current, "member"):
                # A nested group may list the outer group again: a loop
                # Active Directory allows and the walk must step over.
                if dn.lower() in found or dn.lower() == group["dn"].lower():
                    continue
                if len(found) >= MAX_MEMBERS:
                    return tuple(found.values()), False
                entries = self.search(
                    dn,
                    "(objectClass=*)",
                    "BASE",
                    ["objectClass", "sAMAccountName", "member"],
                )
                entry = entries[0] if entries else {"dn": dn}
                classes = {c.lower() for c in _values(entry, "objectClass")}
                name = _first(entry, "sAMAccountName") or _rdn_value(dn)
                member = GroupMember(dn, name, "group" in classes, via)
                found[dn.lower()] = member
                if member.is_group and dn.lower() not in seen_groups:
                    seen_groups.add(dn.lower())
                    queue.append((entry, (*via, name)))
        return tuple(found.values()), True

    def find_account(
        self, base_dn: str, account: str | None, netbios: str | None
    ) -> tuple[str | None, str | None]:
        """The account's DN, or None and the reason it has none."""
        if not account:
            return None, "input activesync_agent_account is not set"
        domain, sep, name = account.partition("\\")
        if sep:
            if netbios and domain.upper() != netbios.upper():
                return None, (
                    f"{account} belongs to domain {domain}; this domain controller "
                    f"serves {netbios}"
                )
            ldap_filter = f"(sAMAccountName={_escape(name)})"
        elif "@" in account:
            ldap_filter = f"(userPrincipalName={_escape(account)})"
        else:
            ldap_filter = f"(sAMAccountName={_escape(account)})"
        entries = self.search(base_dn, ldap_filter, "SUBTREE", ["sAMAccountName"])
        if not entries:
            return None, f"no account matches {ldap_filter} under {base_dn}"
        return entries[0]["dn"], None

    def ou_acl(self, dn: str, group_sid: str | None) -> OuAcl:
        from ldap3.protocol.microsoft import security_descriptor_control

        entries = self.search(
            dn,
            "(objectClass=*)",
            "BASE",
            ["nTSecurityDescriptor"],
            controls=security_descriptor_control(sdflags=SD_FLAGS),
        )
        if not entries:
            return OuAcl(dn, exists=False)
        raw = (entries[0].get("raw_attributes") or {}).get("nTSecurityDescriptor")
        if not raw:
            return OuAcl(dn, exists=True, readable=False)
        try:
            aces, size = _group_aces(raw[0], group_sid)
        except Exception as exc:  # winacl raises whatever its parser meets
            raise CollectionError(
                self.host,
                self.source,
                f"the security descriptor of {dn} cannot be parsed ({exc})",
            ) from None
        return OuAcl(dn, exists=True, aces=aces, dacl_size=size)


def _group_aces(raw: bytes, group_sid: str | None) -> tuple[tuple[Ace, ...], int]:
    """The allow and deny entries of the DACL naming ``group_sid``."""
    from winacl.dtyp.ace import ACEType
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

    allow = {ACEType.ACCESS_ALLOWED_ACE_TYPE, ACEType.ACCESS_ALLOWED_OBJECT_ACE_TYPE}
    deny = {ACEType.ACCESS_DENIED_ACE_TYPE, ACEType.ACCESS_DENIED_OBJECT_ACE_TYPE}
    dacl = SECURITY_DESCRIPTOR.from_bytes(raw).Dacl
    if dacl is None:
        # A directory object always has a DACL; none means the bytes are
        # not a descriptor (a DACL that is truly absent would grant all).
        raise ValueError("it carries no DACL")
    entries = list(dacl.aces)
    found = []
    for ace in entries:
        if group_sid is None or str(ace.Sid) != group_sid:
            continue
        if ace.AceType not in allow | deny:
            continue
        object_type = getattr(ace, "ObjectType", None)
        inherited = getattr(ace, "InheritedObjectType", None)
        found.append(
            Ace(
                allow=ace.AceType in allow,
                mask=int(ace.Mask),
                flags=int(ace.AceFlags) & 0x1F,
                object_type=str(object_type) if object_type else None,
                inherited_object_type=str(inherited) if inherited else None,
            )
        )
    return tuple(found), len(entries)


def _escape(value: str) -> str:
    from ldap3.utils.conv import escape_filter_chars

    return escape_filter_chars(value)


def _values(entry: dict[str, Any], name: str) -> list[str]:
    """An attribute's values as text, from the raw bytes the server sent."""
    # ldap3 fetches every range of a long attribute (member;range=0-1499)
    # and files the values under the plain name.
    raw = (entry.get("raw_attributes") or {}).get(name) or []
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw]


def _first(entry: dict[str, Any], name: str) -> str | None:
    values = _values(entry, name)
    return values[0] if values else None


def _sid(entry: dict[str, Any], name: str) -> str | None:
    from ldap3.protocol.formatters.formatters import format_sid

    raw = (entry.get("raw_attributes") or {}).get(name)
    return format_sid(raw[0]) if raw else None


def _rdn_value(dn: str) -> str:
    match = re.match(r"^[^=]+=((?:\\.|[^,])*)", dn)
    return match.group(1).replace("\\", "") if match else dn
