"""A run of two hosts, built in memory, that every exporter test writes out.

sphere01 carries one result of each kind an exporter must handle: a pass, a
fail whose evidence holds XML markup, control characters and a secret, a fail
with 40,000 characters of evidence, an error, a not-applicable rule, a manual
rule a reviewer answered, a failing rule under a valid waiver and a port-table
row (which no checklist may show). sphere02 has a pass and a failing rule
whose waiver has expired. Every other catalog rule has no result: the
checklists must list it as not reviewed, not run in this session.
"""

from __future__ import annotations

import datetime as dt

from sphere_stig import catalog
from sphere_stig.exporters.checklist import ChecklistAsset
from sphere_stig.official import OfficialBenchmark, OfficialRule
from sphere_stig.outcome import Evidence, Status
from sphere_stig.results import Result

GENERATED = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
STAMP = "20250304T050607Z"
SECRET = "Winrm-Pa55word!"
MARKUP = "<&>\"'"
CONTROL = "bell\x07 nul\x00 esc\x1b vt\x0b crlf\r\nlone-surrogate\ud800 end"
LONG_EVIDENCE = "x" * 40_000

# The status each rule must have in sphere01's checklist.
SPHERE01_STATUS = {
    "V-224760": "NotAFinding",
    "V-224761": "Open",
    "V-224762": "Open",
    "V-224763": "Not_Reviewed",  # error: never Open, never NotAFinding
    "V-224766": "Not_Applicable",
    "V-224764": "NotAFinding",  # manual, answered by a reviewer
    "V-224770": "Open",  # waived: still Open
}


def ev(item, observed, expected, source="server.xml", ok=None):
    return Evidence(
        item=item, observed=observed, expected=expected, source=source, ok=ok
    )


def stig(host, vuln_id, status, summary, *evidence, **extra):
    return Result(
        kind="stig",
        id=vuln_id,
        host=host,
        status=status,
        summary=summary,
        evidence=tuple(evidence),
        severity=catalog.rule(vuln_id).severity,
        title=catalog.rule(vuln_id).title,
        stig_id=catalog.rule(vuln_id).stig_id,
        rule_id=catalog.rule(vuln_id).rule_id,
        ccis=catalog.rule(vuln_id).ccis,
        nodeid=f"tests_infra/test_rules.py::test_rule[{host}-{vuln_id}]",
        duration=0.25,
        **extra,
    )


def sphere01_results():
    return [
        stig(
            "sphere01",
            "V-224760",
            Status.PASS,
            "maxConnections and maxThreads are set to the site limits",
            ev("Connector 443 maxConnections", "1000", "1000", ok=True),
            ev("Connector 443 maxThreads", "150", "150", ok=True),
        ),
        stig(
            "sphere01",
            "V-224761",
            Status.FAIL,
            f"session timeout is 30 minutes {MARKUP}",
            ev("session-timeout", f"30 {MARKUP}", "1 to 15", "web.xml", ok=False),
            ev("control characters", CONTROL, "none", "web.xml", ok=None),
            ev("winrm password", f"password={SECRET}", "never shown", "log", ok=None),
        ),
        stig(
            "sphere01",
            "V-224762",
            Status.FAIL,
            "TLS 1.0 is accepted, should be refused",
            ev(
                "accepted protocols", LONG_EVIDENCE, "TLSv1.2, TLSv1.3", "sslyze", False
            ),
        ),
        stig(
            "sphere01",
            "V-224763",
            Status.ERROR,
            "sphere01: WinRM https://127.0.0.2:5986: connection refused",
        ),
        stig(
            "sphere01",
            "V-224766",
            Status.NOT_APPLICABLE,
            "logs go to a central server that the site manages elsewhere",
        ),
        stig(
            "sphere01",
            "V-224764",
            Status.PASS,
            "reviewer answer: compliant",
            answer={
                "status": "NotAFinding",
                "explanation": "Checked in the console.\nBanner text matches.",
                "reviewer": "J. Auditor",
                "date": "2025-03-01",
                "expires": "2025-09-01",
                "evidence": "TICKET-12 screenshot",
            },
        ),
        stig(
            "sphere01",
            "V-224770",
            Status.FAIL,
            "the server certificate is not issued by a DoD CA",
            ev("certificate issuer", "CN=Lab CA", "a DoD CA", "tls scan", ok=False),
            waiver={
                "justification": "Lab certificate until the DoD one arrives",
                "approver": "ISSM",
                "ticket": "POAM-7",
                "expires": "2025-12-31",
                "state": "valid",
            },
        ),
        Result(
            kind="port",
            id="LST-01",
            host="sphere01",
            status=Status.FAIL,
            summary="port 8005 answers",
        ),
    ]


def sphere02_results():
    return [
        stig(
            "sphere02",
            "V-224760",
            Status.PASS,
            "limits set",
            ev("Connector 443 maxConnections", "1000", "1000", ok=True),
        ),
        stig(
            "sphere02",
            "V-224770",
            Status.FAIL,
            "the server certificate is not issued by a DoD CA",
            ev("certificate issuer", "CN=Lab CA", "a DoD CA", "tls scan", ok=False),
            waiver={
                "justification": "old exception",
                "approver": "ISSM",
                "expires": "2024-12-31",
                "state": "expired",
            },
        ),
    ]


def all_results():
    return sphere01_results() + sphere02_results()


def make_assets():
    return [
        ChecklistAsset(
            host_name="sphere01",
            ip="127.0.0.2",
            mac="02:00:7f:00:00:02",
            fqdn="sphere01.lab.example",
        ),
        ChecklistAsset(
            host_name="sphere02",
            ip="127.0.0.12",
            mac="02:00:7f:00:00:0c",
            fqdn="sphere02.lab.example",
            comment="drifted lab host",
        ),
    ]


def make_official():
    """A stand-in for the DISA XCCDF: invented text, the catalog's identifiers."""
    rules = {
        r.vuln_id: OfficialRule(
            vuln_id=r.vuln_id,
            rule_id=r.rule_id,
            stig_id=r.stig_id,
            severity=r.severity,
            title=f"Official title of {r.vuln_id} & <more>",
            discussion=f"Official discussion of {r.vuln_id}.",
            check_content=f"Official check of {r.vuln_id}.",
            fix_text=f"Official fix of {r.vuln_id}.",
            ccis=r.ccis,
            legacy_ids=r.legacy_ids,
            srg=r.srg,
        )
        for r in catalog.load_rules()
    }
    return OfficialBenchmark(
        id="xccdf_mil.disa.stig_benchmark_ISEC7_Sphere",
        title="ISEC7 Sphere Security Technical Implementation Guide",
        version="3",
        release_info="Release: 1 Benchmark Date: 24 Oct 2024",
        filename="U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml",
        description="Invented benchmark description for the tests.",
        rules=rules,
    )


def make_meta():
    return {
        "inventory": "lab",
        "hosts": ["sphere01", "sphere02"],
        "started": "2025-03-04T05:06:07+00:00",
        "finished": "2025-03-04T05:08:07+00:00",
        "suite_version": "0.1.0",
        "run_by": "auditor@scanner",
        "benchmark": {"id": "ISEC7_Sphere", "version": 3, "release": 1},
    }
