"""``pytest --inventory lab`` against the running lab: every verdict, exactly.

The lab's hardened host (sphere01) must pass every rule, the drifted host
(sphere02) must fail every automated rule, and both must leave valid
checklists, HDF files and reports. The suite runs once for the module.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from sphere_stig import catalog
from sphere_stig.exporters.validate import validate_ckl, validate_cklb, validate_pair
from tests.integration.labrun import REPO, require_lab, run_suite, statuses

NAF, OPEN, NR, NA = "NotAFinding", "Open", "Not_Reviewed", "Not_Applicable"
MANUAL = {r.vuln_id for r in catalog.load_rules() if r.manual}

# sphere01 answers every manual rule (inventories/lab.answers.yml); sphere02
# has one expired answer (V-224767) and no others, so its manual rules stay
# not reviewed, and every automated rule is open for a field reason.
EXPECTED_STIG = {
    **{(r.vuln_id, "sphere01"): NAF for r in catalog.load_rules()},
    **{(r.vuln_id, "sphere02"): NR if r.manual else OPEN for r in catalog.load_rules()},
}

EXPECTED_OTHER = {
    ("LST-01", "sphere01"): NAF,
    ("LST-01", "sphere02"): NAF,
    ("LST-07", "sphere01"): NAF,
    ("LST-07", "sphere02"): OPEN,  # Monitor service stopped
    ("LST-08", "sphere01"): NAF,
    ("LST-08", "sphere02"): NAF,
    ("LST-17", "sphere01"): NR,
    ("LST-17", "sphere02"): NR,  # trap receiver: not probed
    ("LST-24", "sphere01"): NAF,
    ("LST-24", "sphere02"): NAF,
    ("LST-41", "sphere01"): NAF,
    ("LST-41", "sphere02"): NAF,
    ("AUTH-01", "sphere01"): NR,
    ("AUTH-01", "sphere02"): NR,
    ("AUTH-03", "sphere01"): NR,
    ("AUTH-03", "sphere02"): NR,
    ("AUTH-04", "sphere01"): NR,
    ("AUTH-04", "sphere02"): NR,
    ("CERT-01", "sphere01"): NAF,
    ("CERT-01", "sphere02"): OPEN,
    ("CERT-02", "sphere01"): NAF,
    ("CERT-02", "sphere02"): OPEN,
}


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    require_lab()
    reports = tmp_path_factory.mktemp("reports")
    proc, run_dir = run_suite(reports, "--inventory=lab", "--limit=sphere01,sphere02")
    return proc, run_dir, statuses(run_dir)


def test_every_stig_verdict_is_exact(lab_run):
    _, _, got = lab_run
    observed = {key: r["ckl_status"] for key, r in got.items() if r["kind"] == "stig"}
    assert observed == EXPECTED_STIG


def test_port_and_requirement_verdicts(lab_run):
    _, _, got = lab_run
    for key, expected in EXPECTED_OTHER.items():
        assert got[key]["ckl_status"] == expected, (key, got[key]["summary"])


def test_no_result_is_an_error_and_every_verdict_has_evidence(lab_run):
    _, _, got = lab_run
    assert not [k for k, r in got.items() if r["status"] == "error"]
    for key, r in got.items():
        if r["ckl_status"] in (NAF, OPEN) and not r.get("answer"):
            assert r["evidence"], key
            assert any(e["ok"] is not None for e in r["evidence"]), key


def test_answers_and_waivers_reach_the_results(lab_run):
    _, _, got = lab_run
    answered = got[("V-224767", "sphere01")]
    assert (
        answered["answer"]["state"] == "valid"
        and "reviewer's answer" in answered["summary"]
    )
    expired = got[("V-224767", "sphere02")]
    assert expired["answer"]["state"] == "expired" and "expired" in expired["summary"]
    waived = got[("V-224781", "sphere02")]
    assert waived["ckl_status"] == OPEN and waived["waiver"]["state"] == "valid"
    lapsed = got[("V-224784", "sphere02")]
    assert lapsed["ckl_status"] == OPEN and lapsed["waiver"]["state"] == "expired"


def test_gate_fails_the_run_and_says_why(lab_run):
    proc, run_dir, _ = lab_run
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].startswith(
        "sphere-stig: gate FAILED (fail-on cat1,cat2,error,ports,requirements): "
    )
    assert "; 1 waived" in lines[-2]
    assert lines[-1].endswith(f"reports in {run_dir}/")


def test_checklists_are_valid_and_agree_with_the_results(lab_run):
    _, run_dir, got = lab_run
    for host in ("sphere01", "sphere02"):
        (ckl,) = (run_dir / "checklists").glob(f"{host}_*.ckl")
        (cklb,) = (run_dir / "checklists").glob(f"{host}_*.cklb")
        rule_ids = {r.rule_id for r in catalog.load_rules()}
        assert validate_ckl(ckl.read_bytes(), rule_ids) == []
        assert validate_cklb(cklb.read_bytes(), rule_ids) == []
        assert validate_pair(ckl.read_bytes(), cklb.read_bytes()) == []
        root = ET.fromstring(ckl.read_bytes())
        statuses_in_ckl = {
            vuln.find(
                "STIG_DATA[VULN_ATTRIBUTE='Vuln_Num']/ATTRIBUTE_DATA"
            ).text: vuln.findtext("STATUS")
            for vuln in root.iter("VULN")
        }
        assert statuses_in_ckl == {
            v: got[(v, host)]["ckl_status"] for v, h in EXPECTED_STIG if h == host
        }
        data = json.loads(cklb.read_text(encoding="utf-8"))
        assert data["target_data"]["host_name"] == host
        assert len(data["stigs"][0]["rules"]) == 34


def test_reports_are_written_and_hold_no_secret(lab_run):
    _, run_dir, _ = lab_run
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "report.html",
        "junit.xml",
        "results.json",
        "results.jsonl",
        "allure-results",
        "checklists",
        "hdf",
    } <= names
    assert len(list((run_dir / "hdf").glob("*.json"))) == 2
    secrets = [
        p.read_text().strip()
        for p in (REPO / "lab/.run/secrets").glob("*")
        if p.is_file()
    ]
    assert secrets, "the lab's secret files were expected"
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for secret in secrets:
                assert secret not in text, f"a lab secret leaked into {path}"
    # The tomcat-users.xml digest of sphere01 must not be printed either.
    assert not re.search(
        r"[0-9a-f]{32,}\$\d+\$[0-9a-f]{32,}", (run_dir / "report.html").read_text()
    )
