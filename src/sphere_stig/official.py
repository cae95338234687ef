"""The official DISA text of the rules, from an XCCDF file the user supplies.

The suite ships rule identifiers and titles in its own words. The STIG's own
wording (titles, discussion, check and fix text) reaches reports and
checklists only through ``--stig-xccdf PATH``, read here at run time.

:func:`load_official` takes the "Manual" XCCDF as DISA publishes it, or the
zip it comes in (also when the XCCDF sits in a folder of the zip, or in a zip
inside the zip). The identifiers are read by :mod:`sphere_stig.catalog.xccdf`,
the one reader of them; this module adds the texts. :func:`revision_changes`
says where the supplied benchmark and the catalog disagree, which is what
happens when DISA publishes a new release.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from xml.etree.ElementTree import Element
from xml.sax.saxutils import unescape

from defusedxml import ElementTree
from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from sphere_stig.catalog import Rule, load_benchmark, xccdf

__all__ = [
    "MAX_BYTES",
    "MAX_ZIP_DEPTH",
    "OfficialBenchmark",
    "OfficialRule",
    "OfficialTextError",
    "RevisionChange",
    "load_official",
    "revision_changes",
]

XCCDF_NAMESPACE = "http://checklists.nist.gov/xccdf/1.1"
# The largest DISA Manual XCCDF is a few megabytes. The limit applies to the
# file, to each member of a zip and to everything a zip expands to, so that a
# zip bomb is refused before it fills the memory.
MAX_BYTES = 64 * 1024 * 1024
# A STIG zip may arrive inside another zip (a bundle of several STIGs, or a
# download re-zipped by a proxy). Zips nested deeper than this are not
# searched: nesting is the usual shape of a zip bomb.
MAX_ZIP_DEPTH = 3
_WHAT = "the DISA Manual XCCDF (U_..._Manual-xccdf.xml) or the zip it is published in"
_DISCUSSION = re.compile(r"<VulnDiscussion>(.*?)</VulnDiscussion>", re.DOTALL)


class OfficialTextError(Exception):
    """The official text cannot be read; the message names the path and the fix."""


@dataclass(frozen=True)
class OfficialRule:
    vuln_id: str
    rule_id: str
    stig_id: str
    severity: str
    title: str
    discussion: str
    check_content: str
    fix_text: str
    check_content_ref: str = "M"
    ccis: tuple[str, ...] = ()
    legacy_ids: tuple[str, ...] = ()
    srg: str = ""


@dataclass(frozen=True)
class OfficialBenchmark:
    id: str
    title: str
    version: str
    release_info: str
    filename: str
    description: str = ""
    rules: dict[str, OfficialRule] = field(default_factory=dict)


def load_official(path: Path) -> OfficialBenchmark:
    """The benchmark header and every rule's official text, by Vuln ID."""
    where, name, data = _xccdf_bytes(Path(path))
    root = _parse(data, where)
    return _benchmark(root, where, name)


def _xccdf_bytes(path: Path) -> tuple[str, str, bytes]:
    """Where the XCCDF was found (for messages), its file name and its bytes."""
    if not path.exists():
        raise OfficialTextError(f"{path}: no such file; pass {_WHAT}")
    if not path.is_file():
        raise OfficialTextError(f"{path}: not a file; pass {_WHAT}")
    if path.stat().st_size > MAX_BYTES:
        raise OfficialTextError(
            f"{path}: larger than {MAX_BYTES // 2**20} MiB, far more than any DISA "
            f"benchmark; pass {_WHAT}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OfficialTextError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.suffix.lower() != ".zip" and not data.startswith(b"PK"):
        return str(path), path.name, data
    found = _find_in_zip(data, (str(path),), _Budget())
    if not found:
        raise OfficialTextError(
            f"{path}: the zip holds no XCCDF file (no member named *xccdf*.xml, "
            f"nor in a zip inside it); pass {_WHAT}"
        )
    if len(found) > 1:
        names = ", ".join(trail[-1] for trail, _ in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise OfficialTextError(
            f"{path}: the zip holds {len(found)} XCCDF files ({names}{more}); "
            f"extract the ISEC7 Sphere one and pass it"
        )
    trail, data = found[0]
    return " > ".join(trail), PurePosixPath(trail[-1]).name, data


class _Budget:
    """How many bytes the members of a zip may still expand to."""

    def __init__(self) -> None:
        self.left = MAX_BYTES


def _find_in_zip(
    data: bytes, trail: tuple[str, ...], budget: _Budget
) -> list[tuple[tuple[str, ...], bytes]]:
    """Every XCCDF in a zip and in the zips inside it, with the path to it."""
    where = " > ".join(trail)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise OfficialTextError(
            f"{where}: not a readable zip archive ({exc}); pass {_WHAT}"
        ) from None
    found: list[tuple[tuple[str, ...], bytes]] = []
    with archive:
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            # macOS archivers add "__MACOSX/._name" resource forks beside
            # every file; they carry the name but not the content.
            if info.is_dir() or "__MACOSX" in member.parts:
                continue
            lower = member.name.lower()
            if lower.endswith(".xml") and "xccdf" in lower:
                found.append(
                    ((*trail, info.filename), _read(archive, info, where, budget))
                )
            elif lower.endswith(".zip") and len(trail) <= MAX_ZIP_DEPTH:
                inner = _read(archive, info, where, budget)
                found.extend(_find_in_zip(inner, (*trail, info.filename), budget))
    return found


def _read(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: _Budget
) -> bytes:
    # The sizes in the zip directory are claims; the read is capped as well.
    limit = min(MAX_BYTES, budget.left)
    too_big = OfficialTextError(
        f"{where}: member {info.filename} expands to more than "
        f"{limit // 2**20} MiB, far more than any DISA benchmark; pass {_WHAT}"
    )
    if info.file_size > limit:
        raise too_big
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        # RuntimeError: the member is encrypted; NotImplementedError: an
        # unsupported compression method.
        raise OfficialTextError(
            f"{where}: member {info.filename} cannot be extracted ({exc}); "
            f"pass the XCCDF itself"
        ) from None
    if len(data) > limit:
        raise too_big
    budget.left -= len(data)
    return data


def _parse(data: bytes, where: str) -> Element:
    try:
        # A DISA benchmark has no document type declaration. Refusing any
        # DTD also refuses entity bombs and external entities outright.
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise OfficialTextError(
            f"{where}: refused: the XML declares a DTD or entities ({exc}), which a "
            f"DISA benchmark never does and which can expand without bound or "
            f"read other files; pass {_WHAT}"
        ) from None
    except DefusedXmlException as exc:
        raise OfficialTextError(f"{where}: refused: {exc}; pass {_WHAT}") from None
    except ElementTree.ParseError as exc:
        raise OfficialTextError(
            f"{where}: cannot be parsed as XML ({exc}); pass {_WHAT}"
        ) from None
    namespace, _, local = root.tag.removeprefix("{").rpartition("}")
    if local != "Benchmark" or namespace != XCCDF_NAMESPACE:
        found = f"<{local}>" + (f" in namespace {namespace}" if namespace else "")
        raise OfficialTextError(
            f"{where}: not an XCCDF 1.1 benchmark (the root element is {found}, "
            f"expected <Benchmark> in namespace {XCCDF_NAMESPACE}); pass {_WHAT}"
        )
    return root


def _benchmark(root: Element, where: str, filename: str) -> OfficialBenchmark:
    ns = f"{{{XCCDF_NAMESPACE}}}"
    try:
        # The identifier reader's own helpers, on the tree parsed here: one
        # reader of the identifiers, one parse of the file. They raise
        # ValueError for a header or group that is not shaped like DISA's.
        header = xccdf._benchmark(root, ns)
        groups = [(g, xccdf._rule_ids(g, ns)) for g in root.iter(f"{ns}Group")]
    except ValueError as exc:
        raise OfficialTextError(
            f"{where}: not a DISA benchmark: {exc}; pass {_WHAT}"
        ) from None
    if not groups:
        raise OfficialTextError(f"{where}: the benchmark holds no rules; pass {_WHAT}")
    ours = load_benchmark()
    if header.id != ours.id:
        # Another product's text over these rules would mislabel every checklist.
        raise OfficialTextError(
            f"{where}: this is the benchmark {header.id!r} ({header.title}), not "
            f"{ours.id!r} ({ours.title}); pass the {ours.title}'s Manual XCCDF "
            "or its zip"
        )
    rules: dict[str, OfficialRule] = {}
    for group, ids in groups:
        if ids.vuln_id in rules:
            raise OfficialTextError(
                f"{where}: {ids.vuln_id} appears twice; pass {_WHAT}"
            )
        rules[ids.vuln_id] = _rule(group, ids, ns)
    return OfficialBenchmark(
        id=header.id,
        title=header.title,
        version=str(header.version),
        release_info=header.release_info,
        filename=filename,
        description=_text(root.find(f"{ns}description")),
        rules=rules,
    )


def _rule(group: Element, ids: xccdf.XccdfRuleIds, ns: str) -> OfficialRule:
    rule = group.find(f"{ns}Rule")
    assert rule is not None  # _rule_ids has refused a group without one
    check = rule.find(f"{ns}check")
    ref = check.find(f"{ns}check-content-ref") if check is not None else None
    return OfficialRule(
        vuln_id=ids.vuln_id,
        rule_id=ids.rule_id,
        stig_id=ids.stig_id,
        severity=ids.severity,
        title=_text(rule.find(f"{ns}title")),
        discussion=_discussion(_text(rule.find(f"{ns}description"))),
        check_content=_text(
            check.find(f"{ns}check-content") if check is not None else None
        ),
        fix_text=_text(rule.find(f"{ns}fixtext")),
        check_content_ref=(ref.get("name") if ref is not None else None) or "M",
        ccis=ids.ccis,
        legacy_ids=ids.legacy_ids,
        srg=ids.srg,
    )


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _discussion(description: str) -> str:
    """The VulnDiscussion part of a rule description.

    DISA stores a second, pseudo-XML document inside the description element,
    escaped once: <VulnDiscussion>, <FalsePositives>, <Documentable> and so
    on. It is not well-formed (an ampersand inside it may stand bare), so it
    is cut apart with a pattern instead of being parsed. When a producer
    escaped the inner text a second time, the standard XML entities that are
    left are decoded. A description without the pseudo-tags is taken whole.
    """
    match = _DISCUSSION.search(description)
    text = match.group(1) if match else description
    return unescape(text, {"&quot;": '"', "&apos;": "'"}).strip()


@dataclass(frozen=True)
class RevisionChange:
    """One difference between the supplied benchmark and the catalog."""

    vuln_id: str
    # revision: the Rule ID differs (usually only its r-number);
    # severity: the severity differs;
    # only_official / only_catalog: the rule is on one side only.
    kind: Literal["revision", "severity", "only_official", "only_catalog"]
    in_catalog: str = ""
    in_official: str = ""

    def describe(self) -> str:
        v, ours, theirs = self.vuln_id, self.in_catalog, self.in_official
        if self.kind == "revision":
            return (
                f"{v}: Rule ID is {theirs} in the official text but {ours} in the "
                f"catalog; checklist reviews keyed on one do not match the other"
            )
        if self.kind == "severity":
            return (
                f"{v}: severity is {theirs} in the official text but {ours} in "
                f"the catalog"
            )
        if self.kind == "only_official":
            return (
                f"{v}: {theirs} is in the official text but not in the catalog; "
                f"the suite has no test for it"
            )
        return (
            f"{v}: {ours} is in the catalog but not in the official text; this "
            f"release may have dropped it"
        )


def revision_changes(
    official: OfficialBenchmark, rules: Iterable[Rule]
) -> list[RevisionChange]:
    """Where the official benchmark and the catalog rules disagree.

    Rules in both come first, in benchmark order; then rules only in the
    catalog, in catalog order. An empty list means the catalog was built for
    this release.
    """
    ours = {r.vuln_id: r for r in rules}
    changes: list[RevisionChange] = []
    for vuln_id, theirs in official.rules.items():
        rule = ours.get(vuln_id)
        if rule is None:
            changes.append(
                RevisionChange(vuln_id, "only_official", in_official=theirs.rule_id)
            )
            continue
        if rule.rule_id != theirs.rule_id:
            changes.append(
                RevisionChange(vuln_id, "revision", rule.rule_id, theirs.rule_id)
            )
        if rule.severity != theirs.severity:
            changes.append(
                RevisionChange(vuln_id, "severity", rule.severity, theirs.severity)
            )
    changes.extend(
        RevisionChange(vuln_id, "only_catalog", in_catalog=rule.rule_id)
        for vuln_id, rule in ours.items()
        if vuln_id not in official.rules
    )
    return changes
