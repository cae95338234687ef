"""CKL and CKLB writing: names, statuses, texts, escaping, limits, agreement."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sample_run import (
    CONTROL,
    GENERATED,
    MARKUP,
    SECRET,
    SPHERE01_STATUS,
    STAMP,
    make_assets,
    sphere01_results,
)

from sphere_stig import catalog, redact
from sphere_stig.exporters import content
from sphere_stig.exporters.checklist import (
    VULN_ATTRIBUTES,
    ChecklistAsset,
    build_ckl,
    build_cklb,
    write_checklists,
)
from sphere_stig.exporters.validate import validate_ckl, validate_cklb, validate_pair
from sphere_stig.inventory import load
from sphere_stig.outcome import Status
from sphere_stig.results import Result

RULE_IDS = {r.rule_id for r in catalog.load_rules()}
INVENTORIES = Path(__file__).resolve().parents[2] / "inventories"


def vulns(ckl: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(ckl)
    return {_attr(v, "Vuln_Num")[0]: v for v in root.iter("VULN")}


def _attr(vuln: ET.Element, name: str) -> list[str]:
    return [
        sd.findtext("ATTRIBUTE_DATA") or ""
        for sd in vuln.findall("STIG_DATA")
        if sd.findtext("VULN_ATTRIBUTE") == name
    ]


def cklb_rules(cklb: bytes) -> dict[str, dict]:
    return {r["group_id"]: r for r in json.loads(cklb)["stigs"][0]["rules"]}


@pytest.fixture
def sphere01(results):
    asset = make_assets()[0]
    return (
        build_ckl(asset, results, generated=GENERATED),
        build_cklb(asset, results, generated=GENERATED),
    )


def test_write_checklists_names_and_validates_every_file(tmp_path, assets, results):
    # Given two assets and a run with results for both
    # When the checklists are written
    paths = write_checklists(
        tmp_path, assets, results, stamp=STAMP, generated=GENERATED
    )

    # Then there is one CKL and one CKLB per host, named host_benchmark_stamp
    assert [p.name for p in paths] == [
        "sphere01_ISEC7_Sphere_V3R1_20250304T050607Z.ckl",
        "sphere01_ISEC7_Sphere_V3R1_20250304T050607Z.cklb",
        "sphere02_ISEC7_Sphere_V3R1_20250304T050607Z.ckl",
        "sphere02_ISEC7_Sphere_V3R1_20250304T050607Z.cklb",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    # And every file passes the validator with no error and no warning
    for path in paths:
        check = validate_ckl if path.suffix == ".ckl" else validate_cklb
        assert check(path.read_bytes(), RULE_IDS, release=True) == [], path.name
    # And each pair agrees
    for ckl, cklb in (paths[0:2], paths[2:4]):
        assert validate_pair(ckl.read_bytes(), cklb.read_bytes()) == []


def test_every_catalog_rule_is_present_in_benchmark_order(sphere01):
    ckl, cklb = sphere01
    order = [r.vuln_id for r in catalog.load_rules()]
    assert list(vulns(ckl)) == order
    assert list(cklb_rules(cklb)) == order
    assert json.loads(cklb)["stigs"][0]["size"] == 34


def test_statuses_are_exact_in_both_formats(sphere01):
    ckl, cklb = sphere01
    by_vuln = {v: e.findtext("STATUS") for v, e in vulns(ckl).items()}
    rules = cklb_rules(cklb)
    for vuln_id, status in SPHERE01_STATUS.items():
        assert by_vuln[vuln_id] == status, vuln_id
    expected_cklb = {
        "NotAFinding": "not_a_finding",
        "Open": "open",
        "Not_Applicable": "not_applicable",
        "Not_Reviewed": "not_reviewed",
    }
    for vuln_id, status in by_vuln.items():
        assert rules[vuln_id]["status"] == expected_cklb[status]
    # Rules without a result are not reviewed, and say why
    unrun = set(by_vuln) - set(SPHERE01_STATUS)
    assert len(unrun) == 27
    for vuln_id in unrun:
        assert by_vuln[vuln_id] == "Not_Reviewed"
        assert content.NOT_RUN in vulns(ckl)[vuln_id].findtext("FINDING_DETAILS")


def test_port_results_never_reach_a_checklist(sphere01):
    ckl, cklb = sphere01
    assert b"LST-01" not in ckl and b"LST-01" not in cklb


def test_finding_details_carry_header_hash_and_escaped_evidence(sphere01, results):
    ckl, cklb = sphere01
    details = vulns(ckl)["V-224761"].findtext("FINDING_DETAILS")
    lines = details.splitlines()

    # The header names the tool, the verdict, the host and the time
    assert lines[0] == (
        "sphere-stig 0.1.0 found this to be OPEN on sphere01 (2025-03-04 05:06:07 UTC)"
    )
    assert lines[1] == "Test: tests_infra/test_rules.py::test_rule[sphere01-V-224761]"
    assert lines[2].startswith("ResultHash: ")
    assert lines[3] == "~~~~~"
    body = "\n".join(lines[4:])
    assert lines[2] == f"ResultHash: {hashlib.sha1(body.encode()).hexdigest()}"

    # Markup survives the round trip unchanged
    assert f"[FAIL] session-timeout: observed 30 {MARKUP}; expected 1 to 15" in details
    # Control characters are shown as their pictures, CRLF becomes LF, and
    # the lone surrogate becomes the replacement character
    assert (
        "bell\u2407 nul\u2400 esc\u241b vt\u240b crlf\nlone-surrogate\ufffd end"
        in details
    )
    assert not any(ch in details for ch in "\x00\x07\x0b\x1b\r\ud800")
    # The secret never appears
    assert SECRET not in details and redact.MASK in details
    assert SECRET.encode() not in ckl and SECRET.encode() not in cklb
    # The CKLB carries exactly the same text
    assert cklb_rules(cklb)["V-224761"]["finding_details"] == details


def test_markup_is_escaped_in_the_raw_xml(sphere01):
    ckl, _ = sphere01
    assert b"30 &lt;&amp;&gt;\"'" in ckl
    assert CONTROL.encode("utf-8", "surrogatepass") not in ckl


def test_long_evidence_is_cut_with_a_marker_and_the_full_hash(sphere01):
    ckl, cklb = sphere01
    details = vulns(ckl)["V-224762"].findtext("FINDING_DETAILS")
    assert len(details) <= content.TEXT_LIMIT
    assert details.endswith("the full text is in results.json]")
    assert "[TRUNCATED by sphere-stig: the text has 40," in details
    full = content.evidence_body(sphere01_results()[2])
    assert f"ResultHash: {content.evidence_hash(full)}" in details
    assert cklb_rules(cklb)["V-224762"]["finding_details"] == details


@pytest.mark.parametrize(
    "observed",
    ["&" * 40_000, "<>" * 20_000, "\U0001f600" * 20_000, "\x07" * 40_000],
    ids=["ampersands", "angle-brackets", "astral", "control"],
)
def test_truncation_never_breaks_an_escape(observed):
    # Given evidence whose every character needs escaping (or two UTF-16 units)
    result = sphere01_results()[0]
    result = type(result)(**{**result.__dict__, "summary": observed})
    asset = make_assets()[0]

    # When it is written
    ckl = build_ckl(asset, [result], generated=GENERATED)
    cklb = build_cklb(asset, [result], generated=GENERATED)

    # Then both files parse, stay in the limit and agree
    details = vulns(ckl)["V-224760"].findtext("FINDING_DETAILS")
    assert content.text_length(details) <= content.TEXT_LIMIT
    assert "TRUNCATED" in details
    assert cklb_rules(cklb)["V-224760"]["finding_details"] == details
    assert validate_pair(ckl, cklb) == []


def test_error_is_not_reviewed_and_says_it_was_not_evaluated(sphere01):
    ckl, _ = sphere01
    details = vulns(ckl)["V-224763"].findtext("FINDING_DETAILS")
    assert details.splitlines()[0].startswith(
        "sphere-stig 0.1.0 could not evaluate this rule on sphere01"
    )
    assert (
        "ERROR: sphere01: WinRM https://127.0.0.2:5986: connection refused" in details
    )
    assert "The rule was not evaluated" in details


def test_comments_hold_answer_and_waiver(sphere01, results):
    ckl, cklb = sphere01
    answer = vulns(ckl)["V-224764"].findtext("COMMENTS")
    assert answer == (
        "Reviewer answer (manual rule)\n"
        "Status: NotAFinding\n"
        "Explanation: Checked in the console.\n"
        "  Banner text matches.\n"
        "Reviewer: J. Auditor\n"
        "Reviewed on: 2025-03-01\n"
        "Expires: 2025-09-01\n"
        "Evidence: TICKET-12 screenshot"
    )
    waiver = vulns(ckl)["V-224770"].findtext("COMMENTS")
    assert waiver.splitlines()[0].startswith("Waiver (valid): the finding stays Open")
    assert "Justification: Lab certificate until the DoD one arrives" in waiver
    assert "Approver: ISSM\nTicket: POAM-7\nExpires: 2025-12-31\nState: valid" in waiver
    assert cklb_rules(cklb)["V-224770"]["comments"] == waiver

    sphere02 = build_ckl(make_assets()[1], results, generated=GENERATED)
    expired = vulns(sphere02)["V-224770"]
    assert expired.findtext("STATUS") == "Open"
    assert expired.findtext("COMMENTS").startswith(
        "Waiver (expired): it no longer covers this finding"
    )


def test_ckl_layout(sphere01):
    ckl, _ = sphere01
    assert ckl.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<!-- sphere-stig :: 0.1.0 :: 2025-03-04T05:06:07Z -->\n<CHECKLIST>"
    )
    root = ET.fromstring(ckl)
    asset = root.find("ASSET")
    assert [c.tag for c in asset] == [
        "ROLE",
        "ASSET_TYPE",
        "MARKING",
        "HOST_NAME",
        "HOST_IP",
        "HOST_MAC",
        "HOST_FQDN",
        "TARGET_COMMENT",
        "TECH_AREA",
        "TARGET_KEY",
        "WEB_OR_DATABASE",
        "WEB_DB_SITE",
        "WEB_DB_INSTANCE",
    ]
    assert {c.tag: c.text or "" for c in asset} == {
        "ROLE": "Member Server",
        "ASSET_TYPE": "Computing",
        "MARKING": "CUI",
        "HOST_NAME": "sphere01",
        "HOST_IP": "127.0.0.2",
        "HOST_MAC": "02:00:7f:00:00:02",
        "HOST_FQDN": "sphere01.lab.example",
        "TARGET_COMMENT": "",
        "TECH_AREA": "Mobility",
        "TARGET_KEY": "",
        "WEB_OR_DATABASE": "false",
        "WEB_DB_SITE": "",
        "WEB_DB_INSTANCE": "",
    }
    si = [
        (s.findtext("SID_NAME"), s.findtext("SID_DATA")) for s in root.iter("SI_DATA")
    ]
    assert si == [
        ("version", "3"),
        ("classification", "UNCLASSIFIED"),
        ("customname", None),
        ("stigid", "ISEC7_Sphere"),
        ("description", None),
        ("filename", "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"),
        ("releaseinfo", "Release: 1 Benchmark Date: 24 Oct 2024"),
        ("title", "ISEC7 Sphere Security Technical Implementation Guide"),
        ("uuid", si[8][1]),
        ("notice", "terms-of-use"),
        ("source", "STIG.DOD.MIL"),
    ]
    vuln = vulns(ckl)["V-224772"]
    names = [sd.findtext("VULN_ATTRIBUTE") for sd in vuln.findall("STIG_DATA")]
    assert names == [*VULN_ATTRIBUTES[:-2], "LEGACY_ID", "LEGACY_ID", *["CCI_REF"] * 4]
    assert [c.tag for c in vuln][-5:] == [
        "STATUS",
        "FINDING_DETAILS",
        "COMMENTS",
        "SEVERITY_OVERRIDE",
        "SEVERITY_JUSTIFICATION",
    ]
    assert _attr(vuln, "Rule_ID") == ["SV-224772r1013830_rule"]
    assert _attr(vuln, "STIGRef") == [
        "ISEC7 Sphere Security Technical Implementation Guide :: Version 3, "
        "Release: 1 Benchmark Date: 24 Oct 2024"
    ]
    assert _attr(vuln, "STIG_UUID") == [si[8][1]]
    # A rule without legacy IDs still has all 27 attributes (one empty LEGACY_ID)
    no_legacy = vulns(ckl)["V-225096"]
    names = [sd.findtext("VULN_ATTRIBUTE") for sd in no_legacy.findall("STIG_DATA")]
    assert names == list(VULN_ATTRIBUTES)
    assert _attr(no_legacy, "LEGACY_ID") == [""]


def test_cklb_layout(sphere01):
    _, cklb = sphere01
    document = json.loads(cklb)
    assert document["cklb_version"] == "1.0"
    assert document["target_data"] == {
        "target_type": "Computing",
        "host_name": "sphere01",
        "ip_address": "127.0.0.2",
        "mac_address": "02:00:7f:00:00:02",
        "fqdn": "sphere01.lab.example",
        "comments": "",
        "role": "Member Server",
        "is_web_database": False,
        "technology_area": "Mobility",
        "web_db_site": "",
        "web_db_instance": "",
        "classification": "CUI",
    }
    stig = document["stigs"][0]
    assert stig["stig_id"] == "ISEC7_Sphere"
    assert stig["version"] == "3"
    rule = cklb_rules(cklb)["V-225096"]
    assert rule["rule_id"] == "SV-225096r1013891"
    assert rule["rule_id_src"] == "SV-225096r1013891_rule"
    assert rule["legacy_ids"] == []
    assert rule["ccis"] == list(catalog.rule("V-225096").ccis)
    assert rule["overrides"] == {}
    assert rule["stig_uuid"] == stig["uuid"]
    assert rule["group_tree"][0]["title"] == catalog.rule("V-225096").srg


def test_uuids_are_stable_across_runs(results):
    asset = make_assets()[0]
    first = build_ckl(asset, results, generated=GENERATED)
    again = build_ckl(asset, results, generated=GENERATED)
    assert first == again
    other = build_cklb(make_assets()[1], results, generated=GENERATED)
    mine = build_cklb(asset, results, generated=GENERATED)
    assert json.loads(other)["id"] != json.loads(mine)["id"]


def test_official_text_replaces_the_catalog_wording(official, results):
    asset = make_assets()[0]
    ckl = build_ckl(asset, results, official, generated=GENERATED)
    cklb = build_cklb(asset, results, official, generated=GENERATED)
    vuln = vulns(ckl)["V-224760"]
    assert _attr(vuln, "Rule_Title") == ["Official title of V-224760 & <more>"]
    assert _attr(vuln, "Vuln_Discuss") == ["Official discussion of V-224760."]
    assert _attr(vuln, "Fix_Text") == ["Official fix of V-224760."]
    # Identifiers stay the catalog's; the header comes from the XCCDF
    assert _attr(vuln, "Rule_ID") == ["SV-224760r1013798_rule"]
    root = ET.fromstring(ckl)
    si = {s.findtext("SID_NAME"): s.findtext("SID_DATA") for s in root.iter("SI_DATA")}
    assert si["stigid"] == "ISEC7_Sphere"
    assert si["description"] == "Invented benchmark description for the tests."
    assert (
        cklb_rules(cklb)["V-224760"]["check_content"] == "Official check of V-224760."
    )
    assert validate_ckl(ckl, RULE_IDS) == [] and validate_cklb(cklb, RULE_IDS) == []
    assert validate_pair(ckl, cklb) == []


def test_asset_from_inventory_host():
    inventory = load("lab", INVENTORIES, catalog.load_roles())
    asset = ChecklistAsset.from_host(inventory.host("sphere02"))
    assert asset == ChecklistAsset(
        host_name="sphere02",
        ip="127.0.0.12",
        mac="02:00:7f:00:00:0c",
        fqdn="sphere02.lab.example",
        role="Member Server",
        marking="CUI",
        tech_area="Mobility",
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"role": ""}, "role"),
        ({"host_name": " "}, "host name"),
        ({"tech_area": "Phones"}, "tech area"),
        ({"target_key": "abc"}, "target key"),
    ],
)
def test_asset_rejects_values_stig_viewer_refuses(change, message):
    fields = {"host_name": "h1"} | change
    with pytest.raises(ValueError, match=message):
        ChecklistAsset(**fields)


def test_comments_from_answer_file_records():
    # Given records shaped as sphere_stig.answers writes them
    base = sphere01_results()[0]
    answer = {
        "rule": "V-224760",
        "hosts": "sphere*",
        "status": "NotAFinding",
        "explanation": "Limits documented in the SSP.",
        "reviewer": "J. Auditor",
        "date": "2024-01-01",
        "expires": "2024-06-30",
        "evidence": "SSP 4.2",
        "file": "answers.yml",
        "entry": "answers[0]",
        "state": "expired",
    }
    waiver = {
        "ticket": "POAM-9",
        "granted": "2025-01-01",
        "state": "valid",
        "unused": "true",
    }
    result = type(base)(**{**base.__dict__, "answer": answer, "waiver": waiver})

    # When its comments are written
    text = content.comments(result)

    # Then the labels come first, in their order, and the other keys follow
    assert text == (
        "Reviewer answer (expired): it no longer decides this rule\n"
        "Status: NotAFinding\n"
        "Explanation: Limits documented in the SSP.\n"
        "Reviewer: J. Auditor\n"
        "Reviewed on: 2024-01-01\n"
        "Expires: 2024-06-30\n"
        "State: expired\n"
        "Evidence: SSP 4.2\n"
        "Entry: answers[0]\n"
        "File: answers.yml\n"
        "Hosts: sphere*\n"
        "Rule: V-224760\n"
        "\n"
        "Waiver (valid): not needed, nothing is open\n"
        "Ticket: POAM-9\n"
        "Granted: 2025-01-01\n"
        "State: valid\n"
        "Unused: true"
    )


@pytest.mark.parametrize(
    ("kind", "heading"),
    [
        ("answer", "Reviewer answer (not yet in force): it is dated after this run"),
        ("waiver", "Waiver (not yet in force): granted for a day after this run"),
    ],
)
def test_entries_dated_after_the_run_are_headed_as_not_in_force(kind, heading):
    result = Result(
        kind="stig",
        id="V-224764",
        host="sphere01",
        status=Status.NOT_REVIEWED if kind == "answer" else Status.FAIL,
        summary="s",
        **{kind: {"state": "not yet in force", "ticket": "T-1"}},
    )

    assert content.comments(result).splitlines()[0] == heading
