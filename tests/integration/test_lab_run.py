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

# sphere01 answers the manual rules (inventories/lab.answers.yml) and runs a
# supported release; sphere02 has one expired answer (V-224767) and no
# others, so its manual rules stay not reviewed, while V-225096 compares its
# release (6.6.1) with the inventory's minimum_sphere_version and every
# automated rule is open for a field reason.
EXPECTED_STIG = {
    **{(r.vuln_id, "sphere01"): NAF for r in catalog.load_rules()},
    **{
        (r.vuln_id, "sphere02"): NR if r.check == catalog.MANUAL else OPEN
        for r in catalog.load_rules()
    },
}

EXPECTED_OTHER = {
    # The Sphere servers' port rows and overview requirements.
    **{
        (row, h): NAF
        for row in ("LST-01", "LST-08", "LST-24", "LST-41")
        for h in ("sphere01", "sphere02")
    },
    ("LST-07", "sphere01"): NAF,
    ("LST-07", "sphere02"): OPEN,  # the Monitor service (agent port) is stopped
    # The trap receiver (UDP 1620), as the host lists its UDP endpoints.
    ("LST-17", "sphere01"): NAF,
    ("LST-17", "sphere02"): OPEN,  # the stopped Monitor receives no traps
    **{
        (req, h): NR
        for req in ("AUTH-01", "AUTH-03", "AUTH-04")
        for h in ("sphere01", "sphere02")
    },
    # The lab's answer decides the manual requirement on sphere01.
    ("AUTH-01", "sphere01"): NAF,
    ("AUTH-02", "sphere01"): NAF,
    ("AUTH-02", "sphere02"): NAF,
    ("CERT-01", "sphere01"): NAF,
    ("CERT-01", "sphere02"): OPEN,
    ("CERT-02", "sphere01"): NAF,
    ("CERT-02", "sphere02"): OPEN,
    # The other lab hosts: directory, DNS, mail, SNMP, SQL, a monitored server.
    ("LST-02", "sql1"): NAF,
    ("LST-21", "sql1"): NAF,
    ("LST-03", "sql1"): NAF,  # legend 5 applies: an instance name is configured
    ("LST-16", "sql1"): NA,  # their legend conditions are off in the inventory
    ("LST-22", "sql1"): NA,
    ("LST-04", "dc1"): NAF,
    ("LST-05", "dc1"): NAF,
    ("LST-06", "mail1"): NAF,
    ("LST-09", "snmp1"): NAF,
    ("LST-12", "win01"): NAF,
    ("LST-13", "win01"): NAF,
    **{
        (row, h): NAF
        for row in ("LST-10", "LST-11")
        for h in ("dc1", "snmp1", "mail1", "win01", "sql1")
    },
    ("AGENT-01", "win01"): NAF,
    ("AGENT-02", "win01"): OPEN,  # not in Performance Monitor Users
    ("AGENT-03", "win01"): NAF,
    ("AGENT-04", "dc1"): NAF,
    ("AGENT-05", "dc1"): NAF,
    ("AGENT-06", "dc1"): OPEN,  # the Field OU's grant is not inherited below it
}


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    require_lab()
    reports = tmp_path_factory.mktemp("reports")
    proc, run_dir = run_suite(reports, "--inventory=lab")
    return proc, run_dir, statuses(run_dir)


def test_every_stig_verdict_is_exact(lab_run):
    _, _, got = lab_run
    observed = {key: r["ckl_status"] for key, r in got.items() if r["kind"] == "stig"}
    assert observed == EXPECTED_STIG


def test_every_port_and_requirement_verdict_is_exact(lab_run):
    _, _, got = lab_run
    observed = {k: r["ckl_status"] for k, r in got.items() if r["kind"] != "stig"}
    assert observed == EXPECTED_OTHER


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
    # A port row can be waived too: still Open, kept out of the gate
    row = got[("LST-17", "sphere02")]
    assert row["ckl_status"] == OPEN and row["waiver"]["ticket"] == "LAB-POAM-0015"
    answered = got[("AUTH-01", "sphere01")]
    assert answered["answer"]["evidence"].startswith("LAB-REV-0120")
    lapsed = got[("V-224784", "sphere02")]
    assert lapsed["ckl_status"] == OPEN and lapsed["waiver"]["state"] == "expired"


def test_gate_fails_the_run_and_says_why(lab_run):
    proc, run_dir, _ = lab_run
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].startswith(
        "sphere-stig: gate FAILED (fail-on cat1,cat2,error,ports,requirements): "
    )
    assert (
        "; 2 waived, so not counted (1 open CAT II finding, 1 open port row)"
        in (lines[-2])
    )
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
