"""Security descriptors in SDDL, reduced to what an access check reads.

Windows prints a security descriptor as ``O:owner G:group D:flags(ace)...``
(Security Descriptor Definition Language). Only the owner, the group and the
DACL are parsed; a SACL (``S:``) is skipped. Each ACE keeps its type, its
flags, its access mask and its trustee, with the machine-independent SID
aliases (``BA``, ``AU``, ``NS``...) replaced by their SIDs. Aliases that
stand for a domain-relative SID (``DA``, ``DU``...) stay as written, because
the domain's SID is not in the string.

winacl (a dependency) has an SDDL reader, but it rejects rights written as
letters (``CCDCRP``), which is how every WMI namespace descriptor is
printed, and it resolves ``BA`` or ``NS`` as domain-relative RIDs. Hence
this small reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sphere_stig.outcome import CheckError

# ACE flags (SDDL letters to bits).
OBJECT_INHERIT = 0x01
CONTAINER_INHERIT = 0x02
NO_PROPAGATE_INHERIT = 0x04
INHERIT_ONLY = 0x08
INHERITED = 0x10

ACE_FLAGS = {
    "OI": OBJECT_INHERIT,
    "CI": CONTAINER_INHERIT,
    "NP": NO_PROPAGATE_INHERIT,
    "IO": INHERIT_ONLY,
    "ID": INHERITED,
    "SA": 0x40,
    "FA": 0x80,
}

# Access rights. The directory-service letters are the ones Windows uses
# for WMI namespaces, whose bits mean something else there (WP is Remote
# Enable); the meaning belongs to the check that reads the mask.
RIGHTS = {
    "CC": 0x1,
    "DC": 0x2,
    "LC": 0x4,
    "SW": 0x8,
    "RP": 0x10,
    "WP": 0x20,
    "DT": 0x40,
    "LO": 0x80,
    "CR": 0x100,
    "SD": 0x10000,
    "RC": 0x20000,
    "WD": 0x40000,
    "WO": 0x80000,
    "GA": 0x10000000,
    "GX": 0x20000000,
    "GW": 0x40000000,
    "GR": 0x80000000,
    "FA": 0x1F01FF,
    "FR": 0x120089,
    "FW": 0x120116,
    "FX": 0x1200A0,
    "KA": 0xF003F,
    "KR": 0x20019,
    "KW": 0x20006,
    "KX": 0x20019,
}

# SID aliases whose SID is the same on every machine.
WELL_KNOWN_SIDS = {
    "WD": "S-1-1-0",
    "CO": "S-1-3-0",
    "CG": "S-1-3-1",
    "OW": "S-1-3-4",
    "NU": "S-1-5-2",
    "IU": "S-1-5-4",
    "SU": "S-1-5-6",
    "AN": "S-1-5-7",
    "ED": "S-1-5-9",
    "PS": "S-1-5-10",
    "AU": "S-1-5-11",
    "RC": "S-1-5-12",
    "SY": "S-1-5-18",
    "LS": "S-1-5-19",
    "NS": "S-1-5-20",
    "WR": "S-1-5-33",
    "BA": "S-1-5-32-544",
    "BU": "S-1-5-32-545",
    "BG": "S-1-5-32-546",
    "PU": "S-1-5-32-547",
    "AO": "S-1-5-32-548",
    "SO": "S-1-5-32-549",
    "PO": "S-1-5-32-550",
    "BO": "S-1-5-32-551",
    "RE": "S-1-5-32-552",
    "RU": "S-1-5-32-554",
    "RD": "S-1-5-32-555",
    "NO": "S-1-5-32-556",
    "MU": "S-1-5-32-558",
    "LU": "S-1-5-32-559",
    "IS": "S-1-5-32-568",
    "CY": "S-1-5-32-569",
    "ER": "S-1-5-32-573",
    "CD": "S-1-5-32-574",
    "RA": "S-1-5-32-575",
    "ES": "S-1-5-32-576",
    "MS": "S-1-5-32-577",
    "HA": "S-1-5-32-578",
    "AA": "S-1-5-32-579",
    "RM": "S-1-5-32-580",
    "AC": "S-1-15-2-1",
    "LW": "S-1-16-4096",
    "ME": "S-1-16-8192",
    "HI": "S-1-16-12288",
    "SI": "S-1-16-16384",
}

ACE_TYPES = {
    "A": "allow",
    "D": "deny",
    "OA": "object allow",
    "OD": "object deny",
    "XA": "callback allow",
    "XD": "callback deny",
    "ZA": "callback object allow",
    "AU": "audit",
    "AL": "alarm",
    "ML": "mandatory label",
}

_SID = re.compile(r"S-1-\d+(?:-\d+)*", re.IGNORECASE)
_COMPONENT = re.compile(r"([OGDS]):")


@dataclass(frozen=True)
class Ace:
    """One access control entry: ``(type;flags;rights;object;inherit;sid)``."""

    kind: str  # "A", "D", ... as written (upper case)
    flags: int
    mask: int
    trustee: str  # a SID, or a domain-relative alias such as "DA"
    text: str

    @property
    def allows(self) -> bool:
        return self.kind == "A"

    @property
    def denies(self) -> bool:
        return self.kind in ("D", "OD", "XD")

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@dataclass(frozen=True)
class SecurityDescriptor:
    owner: str | None
    group: str | None
    dacl_flags: str
    dacl: tuple[Ace, ...]

    @property
    def protected(self) -> bool:
        """Inheritance from the parent is blocked (``D:P``)."""
        return "P" in self.dacl_flags.replace("NO_ACCESS_CONTROL", "")


def parse_sddl(text: str, source: str) -> SecurityDescriptor:
    """The owner, group and DACL of ``text``; ``source`` names it in errors."""
    parts = _components(text.strip(), source)
    if "D" not in parts:
        raise CheckError(f"{source}: the security descriptor {text!r} has no DACL")
    flags, aces = _split_acl(parts["D"], source)
    if "NO_ACCESS_CONTROL" in flags:
        raise CheckError(
            f"{source}: the DACL is NO_ACCESS_CONTROL (a null DACL grants everyone "
            "every right); set a DACL on it and run again"
        )
    return SecurityDescriptor(
        owner=_trustee(parts["O"], source) if "O" in parts else None,
        group=_trustee(parts["G"], source) if "G" in parts else None,
        dacl_flags=flags,
        dacl=tuple(_ace(ace, source) for ace in aces),
    )


def _components(text: str, source: str) -> dict[str, str]:
    # A component letter only starts a component outside parentheses; ACE
    # strings may hold anything.
    parts: dict[str, str] = {}
    depth, start, key = 0, 0, None
    index = 0
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise CheckError(f"{source}: unbalanced ')' in SDDL {text!r}")
        elif depth == 0 and (match := _COMPONENT.match(text, index)):
            if key is not None:
                parts[key] = text[start:index]
            elif index:
                raise CheckError(f"{source}: SDDL {text!r} starts with junk")
            key, start = match.group(1), match.end()
            if key in parts:
                raise CheckError(f"{source}: SDDL {text!r} repeats {key}:")
            index = match.end()
            continue
        index += 1
    if depth:
        raise CheckError(f"{source}: unbalanced '(' in SDDL {text!r}")
    if key is None:
        raise CheckError(f"{source}: {text!r} is not SDDL (no O:, G: or D: part)")
    parts[key] = text[start:]
    return parts


def _split_acl(text: str, source: str) -> tuple[str, list[str]]:
    head, paren, rest = text.partition("(")
    aces: list[str] = []
    depth, start = 0, 0
    body = paren + rest
    for index, char in enumerate(body):
        if char == "(":
            if depth == 0:
                start = index + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                aces.append(body[start:index])
        elif depth == 0 and not char.isspace():
            raise CheckError(f"{source}: text between ACEs in DACL {text!r}")
    return head.strip().upper(), aces


def _ace(text: str, source: str) -> Ace:
    fields = text.split(";", 6)
    if len(fields) < 6:
        raise CheckError(f"{source}: ACE ({text}) has {len(fields)} fields, not 6")
    kind = fields[0].strip().upper()
    if kind not in ACE_TYPES:
        raise CheckError(f"{source}: ACE ({text}) has the unknown type {kind!r}")
    return Ace(
        kind=kind,
        flags=_letters(fields[1], ACE_FLAGS, f"ACE ({text}) flags", source),
        mask=_mask(fields[2], text, source),
        trustee=_trustee(fields[5], source),
        text=f"({text})",
    )


def _mask(value: str, ace: str, source: str) -> int:
    value = value.strip()
    if value.lower().startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            raise CheckError(f"{source}: ACE ({ace}) has the mask {value!r}") from None
    if value.isdigit():
        return int(value)
    return _letters(value, RIGHTS, f"ACE ({ace}) rights", source)


def _letters(value: str, table: dict[str, int], what: str, source: str) -> int:
    value = value.strip().upper()
    if len(value) % 2:
        raise CheckError(f"{source}: {what} {value!r} are not pairs of letters")
    bits = 0
    for index in range(0, len(value), 2):
        pair = value[index : index + 2]
        if pair not in table:
            raise CheckError(f"{source}: {what} hold the unknown code {pair!r}")
        bits |= table[pair]
    return bits


def _trustee(value: str, source: str) -> str:
    value = value.strip()
    if _SID.fullmatch(value):
        return value.upper()
    alias = value.upper()
    if len(alias) == 2 and alias.isalpha():
        return WELL_KNOWN_SIDS.get(alias, alias)
    raise CheckError(f"{source}: {value!r} is neither a SID nor an SDDL alias")
