"""The validator: each rule of §4 fires on a checklist broken in that one way.

Every case starts from a checklist the writer produced (which validates
clean), breaks one thing, and expects exactly that rule's code at its level.
``data/foreign.ckl`` is a hand-written checklist with several problems at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sample_run import GENERATED, STAMP, make_assets

from sphere_stig import catalog
from sphere_stig.exporters.checklist import build_ckl, build_cklb, write_checklists
from sphere_stig.exporters.validate import (
    main,
    normalize_status,
    validate_ckl,
    validate_cklb,
    validate_pair,
)

DATA = Path(__file__).parent / "data"
HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- test -->\n'
RULE_IDS = {r.rule_id for r in catalog.load_rules()}


@pytest.fixture
def ckl(results):
    return build_ckl(make_assets()[0], results, generated=GENERATED)


@pytest.fixture
def cklb(results):
    return build_cklb(make_assets()[0], results, generated=GENERATED)


def codes(problems):
    return sorted({f"{p.level} {p.code}" for p in problems})


def edit_ckl(data: bytes, change) -> bytes:
    root = ET.fromstring(data)
    change(root)
    return HEADER + ET.tostring(root, encoding="utf-8")


def first_vuln(root):
    return root.find("STIGS/iSTIG/VULN")


def attribute(vuln, name):
    for stig_data in vuln.findall("STIG_DATA"):
        if stig_data.findtext("VULN_ATTRIBUTE") == name:
            return stig_data.find("ATTRIBUTE_DATA")
    raise KeyError(name)


def set_text(path, value):
    def change(root):
        root.find(path).text = value

    return change


def set_attribute(name, value):
    def change(root):
        attribute(first_vuln(root), name).text = value

    return change


def remove(path):
    def change(root):
        parent = root.find(path.rsplit("/", 1)[0]) if "/" in path else root
        parent.remove(root.find(path))

    return change


def set_si(name, value):
    def change(root):
        for si in root.iter("SI_DATA"):
            if si.findtext("SID_NAME") == name:
                data = si.find("SID_DATA")
                if data is None:
                    data = ET.SubElement(si, "SID_DATA")
                data.text = value

    return change


def rename_si(old, new):
    def change(root):
        for si in root.iter("SI_DATA"):
            if si.findtext("SID_NAME") == old:
                si.find("SID_NAME").text = new

    return change


def set_vuln(tag, value):
    def change(root):
        first_vuln(root).find(tag).text = value

    return change


def duplicate_first_vuln(root):
    istig = root.find("STIGS/iSTIG")
    istig.append(ET.fromstring(ET.tostring(first_vuln(root))))


def add_attribute(root):
    stig_data = ET.Element("STIG_DATA")
    ET.SubElement(stig_data, "VULN_ATTRIBUTE").text = "Bogus"
    ET.SubElement(stig_data, "ATTRIBUTE_DATA").text = "x"
    first_vuln(root).insert(0, stig_data)


def swap_asset_children(root):
    asset = root.find("ASSET")
    role = asset.find("ROLE")
    asset.remove(role)
    asset.append(role)


def test_the_writer_output_is_clean(ckl, cklb):
    assert validate_ckl(ckl, RULE_IDS) == []
    assert validate_cklb(cklb, RULE_IDS) == []
    assert validate_pair(ckl, cklb) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (set_text("ASSET/ROLE", ""), ["E C3"]),
        (set_text("ASSET/ROLE", "Server"), ["E C3"]),
        (set_text("ASSET/ASSET_TYPE", "Phone"), ["E C4"]),
        (set_text("ASSET/TECH_AREA", "Mobile"), ["E C4"]),
        (set_text("ASSET/HOST_NAME", ""), ["E C5"]),
        (set_text("ASSET/WEB_OR_DATABASE", "yes"), ["E C6"]),
        (set_text("ASSET/WEB_OR_DATABASE", "true"), ["W C6"]),
        (remove("ASSET/HOST_FQDN"), ["E C2"]),
        (swap_asset_children, ["E C2"]),
        (set_si("stigid", ""), ["E C7"]),
        (rename_si("customname", "custom_name"), ["E C7"]),
        (add_attribute, ["E C8"]),
        (set_attribute("Rule_ID", ""), ["E C8", "W C13"]),
        (set_attribute("Severity", "critical"), ["E C8"]),
        (set_vuln("STATUS", "Exception"), ["E C9"]),
        (remove("STIGS/iSTIG/VULN/SEVERITY_JUSTIFICATION"), ["E C10"]),
        (set_vuln("SEVERITY_OVERRIDE", "critical"), ["E C10", "W C18"]),
        (set_attribute("CCI_REF", "CCI-000054, CCI-000055"), ["E C11"]),
        (set_attribute("Vuln_Num", "224760"), ["W C12"]),
        (set_attribute("Rule_ID", "SV-224760_rule"), ["W C12", "W C13"]),
        (set_si("releaseinfo", "Release 1 of 24 Oct 2024"), ["W C14"]),
        (set_attribute("STIGRef", "Some other STIG"), ["W C14"]),
        (duplicate_first_vuln, ["W C15"]),
        (set_vuln("FINDING_DETAILS", "x" * 40_000), ["W C16"]),
        (set_text("ASSET/HOST_IP", "127.0.0.300"), ["W C17"]),
        (set_text("ASSET/HOST_MAC", "02:00:7f"), ["W C17"]),
        (set_text("ASSET/HOST_FQDN", "bad_name..example"), ["W C17"]),
        (remove("ASSET/MARKING"), ["W C19"]),
        (set_attribute("TargetKey", "2910"), ["W C20"]),
    ],
)
def test_each_ckl_rule_fires(ckl, change, expected):
    broken = edit_ckl(ckl, change)
    assert codes(validate_ckl(broken, RULE_IDS)) == expected


def test_open_without_details_is_a_warning(ckl):
    def change(root):
        first_vuln(root).find("STATUS").text = "Open"
        first_vuln(root).find("FINDING_DETAILS").text = ""

    assert codes(validate_ckl(edit_ckl(ckl, change))) == ["W C18"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not xml", "not well-formed"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><CHECKLIST/>', "not UTF-8"),
        (b"<CHECKLIST><ASSET/><STIGS/>\xff</CHECKLIST>", "not valid UTF-8"),
        (b'<CHECKLIST xmlns="urn:x"><ASSET/><STIGS/></CHECKLIST>', "namespace"),
        (b"<CHECKLISTS/>", "root element"),
        (b"<CHECKLIST><STIGS/></CHECKLIST>", "ASSET then STIGS"),
        (
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><CHECKLIST>&a;</CHECKLIST>',
            "forbidden",
        ),
    ],
)
def test_c1_rejects_what_is_not_a_checklist(data, message):
    problems = validate_ckl(data)
    assert [(p.level, p.code) for p in problems] == [("E", "C1")]
    assert message in problems[0].message


def test_c13_is_an_error_for_release_builds(ckl):
    expected = RULE_IDS | {"SV-999999r1_rule"}
    assert codes(validate_ckl(ckl, expected)) == ["W C13"]
    assert codes(validate_ckl(ckl, expected, release=True)) == ["E C13"]


def test_c19_without_generator_comment(ckl):
    bare = ckl.replace(b"<!-- sphere-stig :: 0.1.0 :: 2025-03-04T05:06:07Z -->\n", b"")
    assert codes(validate_ckl(bare)) == ["W C19"]


def test_foreign_checklist_reports_every_problem():
    problems = validate_ckl((DATA / "foreign.ckl").read_bytes())
    assert codes(problems) == ["E C11", "E C3", "E C9", "W C12", "W C14", "W C19"]
    by_code = {p.code: p for p in problems}
    assert by_code["C9"].location == "iSTIG[1]/VULN[1] (V-1)"
    assert "Exception" in by_code["C9"].message


def edit_cklb(data: bytes, change) -> bytes:
    document = json.loads(data)
    change(document)
    return json.dumps(document).encode()


def rule0(document):
    return document["stigs"][0]["rules"][0]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d.update(cklb_version="2.0"), ["E B1"]),
        (lambda d: d["target_data"].update(host_name=""), ["E B2"]),
        (lambda d: d.pop("target_data"), ["E B2"]),
        (lambda d: d.update(stigs=[]), ["E B3"]),
        (lambda d: d["stigs"][0].update(stig_id=""), ["E B3"]),
        (lambda d: d["stigs"][0].update(rules=[]), ["E B3", "W B8"]),
        (lambda d: rule0(d).pop("rule_id_src"), ["E B4", "W B8"]),
        (lambda d: rule0(d).update(status="Open"), ["E B4"]),
        (lambda d: rule0(d).update(severity="CAT II"), ["E B4"]),
        (lambda d: rule0(d).update(ccis=None), ["E B5"]),
        (lambda d: rule0(d).update(group_tree=None), ["E B5"]),
        (lambda d: rule0(d).update(overrides=[]), ["E B5"]),
        (lambda d: d["stigs"][0].update(size=33), ["W B6"]),
        (lambda d: rule0(d).update(rule_id="SV-1"), ["W B6"]),
        (lambda d: rule0(d).update(stig_uuid="other"), ["W B6"]),
        (lambda d: d["target_data"].update(role="Server"), ["W B7"]),
        (lambda d: d["target_data"].update(is_web_database="false"), ["W B7"]),
        (lambda d: d["target_data"].update(is_web_database=True), ["W B7"]),
        (lambda d: d["target_data"].update(web_db_site="site"), ["W B7"]),
        (lambda d: d["target_data"].update(ip_address="::g"), ["W B7"]),
        (lambda d: rule0(d).update(comments="x" * 32_768), ["W B8"]),
        (lambda d: d["stigs"][0].update(release_info="R1"), ["W B8"]),
    ],
)
def test_each_cklb_rule_fires(cklb, change, expected):
    assert codes(validate_cklb(edit_cklb(cklb, change), RULE_IDS)) == expected


def test_b1_rejects_what_is_not_json():
    assert codes(validate_cklb(b"[1]")) == ["E B1"]
    assert codes(validate_cklb(b"{")) == ["E B1"]


def test_cklb_with_byte_order_mark_is_read(cklb):
    assert validate_cklb(b"\xef\xbb\xbf" + cklb) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: rule0(d).update(status="open"), "E X4"),
        (lambda d: rule0(d).update(finding_details="other"), "E X5"),
        (lambda d: rule0(d).update(comments="other"), "E X5"),
        (lambda d: rule0(d).update(severity="high"), "E X6"),
        (lambda d: d["target_data"].update(host_name="sphere02"), "E X1"),
        (
            lambda d: d["stigs"][0].update(release_info="Release: 2 Benchmark Date: x"),
            "E X2",
        ),
        (lambda d: d["stigs"][0]["rules"].pop(), "E X3"),
    ],
)
def test_pair_differences(ckl, cklb, change, expected):
    assert codes(validate_pair(ckl, edit_cklb(cklb, change))) == [expected]


def test_pair_normalises_status_spelling(ckl, cklb):
    # A reader's spelling ("Not_A_Finding") is the same status for the pair
    # check, even though B4 would flag it in the CKLB itself.
    def respell(document):
        for rule in document["stigs"][0]["rules"]:
            if rule["status"] == "not_a_finding":
                rule["status"] = "Not_A_Finding"

    assert validate_pair(ckl, edit_cklb(cklb, respell)) == []


def test_pair_of_unreadable_files():
    assert codes(validate_pair(b"<x", b"{}")) == ["E X0"]


@pytest.mark.parametrize(
    "spelling, status",
    [
        ("NotAFinding", "not_a_finding"),
        ("not_a_finding", "not_a_finding"),
        ("Not Reviewed", "not_reviewed"),
        ("OPEN", "open"),
        ("Not_Applicable", "not_applicable"),
        ("No_Data", None),
        (None, None),
    ],
)
def test_normalize_status(spelling, status):
    assert normalize_status(spelling) == status


def test_cli(tmp_path, assets, results, capsys):
    paths = write_checklists(
        tmp_path, assets, results, stamp=STAMP, generated=GENERATED
    )
    assert main([str(p) for p in paths] + ["--expect-catalog", "--strict"]) == 0
    assert capsys.readouterr().out == "0 error(s), 0 warning(s) in 4 file(s)\n"

    # A CKL and a CKLB of one stem are compared: a status edited in one shows
    cklb = paths[1]
    cklb.write_bytes(
        cklb.read_bytes().replace(b'"status": "open"', b'"status": "not_reviewed"', 1)
    )
    assert main([str(paths[0]), str(cklb)]) == 1
    out = capsys.readouterr().out
    assert f"{paths[0]} + .cklb: E X4 " in out

    # Warnings fail only with --strict
    foreign = tmp_path / "warn.ckl"
    data = (
        paths[2].read_bytes().replace(b"<HOST_IP>127.0.0.12<", b"<HOST_IP>not-an-ip<")
    )
    foreign.write_bytes(data)
    assert main([str(foreign)]) == 0
    assert main([str(foreign), "--strict"]) == 1
    assert (
        "W C17 ASSET: host IP 'not-an-ip' is not an IP address"
        in capsys.readouterr().out
    )

    assert main([str(tmp_path / "missing.ckl")]) == 1
    assert "E IO " in capsys.readouterr().out
