"""HDF: the exec-JSON shape Heimdall loads, one document per host."""

from __future__ import annotations

import json

import pytest
from sample_run import SECRET, SPHERE01_STATUS, STAMP

from sphere_stig import catalog
from sphere_stig.exporters.hdf import to_hdf, write_hdf, write_hdf_reports

# The keys the exec-json schema (mitre/heimdall2 schemas/exec-json.json) requires.
REQUIRED = {
    "root": {"platform", "profiles", "statistics", "version"},
    "platform": {"name", "release"},
    "profile": {"name", "sha256", "supports", "attributes", "groups", "controls"},
    "control": {
        "id",
        "title",
        "desc",
        "impact",
        "refs",
        "tags",
        "code",
        "source_location",
        "results",
    },
    "result": {"code_desc", "run_time", "start_time"},
}

# The checklist status each Heimdall status stands for.
HEIMDALL_TO_CKL = {
    "Passed": "NotAFinding",
    "Failed": "Open",
    "Not Applicable": "Not_Applicable",
    "Not Reviewed": "Not_Reviewed",
    "Profile Error": "Not_Reviewed",
}


def heimdall_status(control: dict) -> str:
    """The status Heimdall derives from a control's results (inspecjs's order)."""
    statuses = [r["status"] for r in control["results"]]
    waived = control.get("waiver_data", {}).get("skipped_due_to_waiver")
    if not statuses or "error" in statuses:
        return "Profile Error"
    if waived or control["impact"] == 0:
        return "Not Applicable"
    if "failed" in statuses:
        return "Failed"
    if "passed" in statuses:
        return "Passed"
    return "Not Reviewed"


@pytest.fixture
def sphere01(meta, results):
    return to_hdf(meta, results, host="sphere01")


def controls(document):
    return {c["id"]: c for c in document["profiles"][0]["controls"]}


def test_document_has_the_shape_heimdall_requires(sphere01):
    # The document survives JSON and holds every required key at every level
    document = json.loads(json.dumps(sphere01))
    assert REQUIRED["root"] <= set(document)
    assert REQUIRED["platform"] <= set(document["platform"])
    profile = document["profiles"][0]
    assert REQUIRED["profile"] <= set(profile)
    for control in profile["controls"]:
        assert REQUIRED["control"] <= set(control), control["id"]
        assert {"ref", "line"} <= set(control["source_location"])
        assert control["results"], control["id"]
        for result in control["results"]:
            assert REQUIRED["result"] <= set(result)
            assert result["status"] in ("passed", "failed", "skipped", "error")


def test_one_control_per_rule_for_one_host(sphere01):
    assert sphere01["platform"] == {
        "name": "sphere-stig",
        "release": "0.1.0",
        "target_id": "sphere01",
    }
    assert list(controls(sphere01)) == [r.vuln_id for r in catalog.load_rules()]
    assert {c["tags"]["host"] for c in controls(sphere01).values()} == {"sphere01"}
    profile = sphere01["profiles"][0]
    assert profile["name"] == "ISEC7_Sphere"
    assert profile["version"] == "V3R1"
    assert sum(len(g["controls"]) for g in profile["groups"]) == 34


def test_heimdall_derives_the_checklist_status(sphere01):
    for vuln_id, control in controls(sphere01).items():
        derived = HEIMDALL_TO_CKL[heimdall_status(control)]
        assert derived == SPHERE01_STATUS.get(vuln_id, "Not_Reviewed"), vuln_id
        assert control["tags"]["checklist_status"] == derived
    # The error is a Profile Error, not a failure
    assert heimdall_status(controls(sphere01)["V-224763"]) == "Profile Error"


def test_statistics_count_the_controls(sphere01):
    assert sphere01["statistics"] == {
        "duration": 120.0,
        "controls": {
            "passed": {"total": 2},
            "failed": {"total": 3},
            "skipped": {"total": 28},
            "error": {"total": 1},
        },
    }


def test_control_fields(sphere01):
    fail = controls(sphere01)["V-224761"]
    assert fail["impact"] == 0.5
    assert {
        k: fail["tags"][k] for k in ("gid", "rid", "stig_id", "cci", "severity")
    } == {
        "gid": "V-224761",
        "rid": "SV-224761r1013800_rule",
        "stig_id": "ISEC-06-000030",
        "cci": ["CCI-000057"],
        "severity": "medium",
    }
    first = fail["results"][0]
    assert first["status"] == "failed"
    assert first["code_desc"] == "session-timeout: expected 1 to 15"
    assert first["message"] == "observed 30 <&>\"' (source: web.xml)"
    assert first["start_time"] == "2025-03-04T05:06:07Z"
    assert fail["source_location"] == {"ref": "tests_infra/test_rules.py", "line": 0}
    assert SECRET not in json.dumps(fail)

    assert controls(sphere01)["V-224766"]["impact"] == 0.0
    assert controls(sphere01)["V-225096"]["impact"] == 0.7
    not_run = controls(sphere01)["V-224789"]["results"]
    assert not_run[0]["status"] == "skipped"
    assert "not run in this session" in not_run[0]["skip_message"]


def test_waiver_keeps_the_control_failed(sphere01):
    waived = controls(sphere01)["V-224770"]
    assert heimdall_status(waived) == "Failed"
    assert waived["waiver_data"] == {
        "run": True,
        "message": "waiver valid; the finding stays open",
        "justification": "Lab certificate until the DoD one arrives",
        "expiration_date": "2025-12-31",
    }


def test_official_text_reaches_the_descriptions(meta, results, official):
    document = to_hdf(meta, results, official, host="sphere01")
    control = controls(document)["V-224760"]
    assert control["title"] == "Official title of V-224760 & <more>"
    assert control["desc"] == "Official discussion of V-224760."
    labels = {d["label"]: d["data"] for d in control["descriptions"]}
    assert labels["check"] == "Official check of V-224760."
    assert labels["fix"] == "Official fix of V-224760."
    assert (
        document["profiles"][0]["summary"]
        == "Invented benchmark description for the tests."
    )


def test_several_hosts_need_a_choice(meta, results):
    with pytest.raises(ValueError, match="one host"):
        to_hdf(meta, results)


def test_write_one_file_per_host(tmp_path, meta, results):
    paths = write_hdf_reports(tmp_path, meta, results, stamp=STAMP)
    assert [p.name for p in paths] == [
        "sphere01_ISEC7_Sphere_V3R1_20250304T050607Z.hdf.json",
        "sphere02_ISEC7_Sphere_V3R1_20250304T050607Z.hdf.json",
    ]
    sphere02 = json.loads(paths[1].read_text(encoding="utf-8"))
    assert sphere02["platform"]["target_id"] == "sphere02"
    assert sphere02["statistics"]["controls"]["passed"] == {"total": 1}
    # An expired waiver is recorded but the control stays failed
    assert heimdall_status(controls(sphere02)["V-224770"]) == "Failed"

    single = write_hdf(tmp_path / "one.json", meta, results, host="sphere02")
    assert json.loads(single.read_text(encoding="utf-8")) == sphere02
