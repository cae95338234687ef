"""The CI gate: what fails a run, and the one line that says why."""

from __future__ import annotations

import pytest

from sphere_stig import gate
from sphere_stig.outcome import Status
from sphere_stig.results import Result


def result(status, severity="medium", kind="stig", waiver=None, host="h") -> Result:
    return Result(
        kind=kind,
        id="V-1",
        host=host,
        status=status,
        summary="s",
        severity=severity,
        waiver=waiver,
    )


def test_default_fails_on_open_cat1_cat2_ports_requirements_and_errors():
    fail_on = gate.parse(gate.DEFAULT)
    assert fail_on == {"cat1", "cat2", "ports", "requirements", "error"}
    for r in (
        result(Status.FAIL, "high"),
        result(Status.FAIL, "medium"),
        result(Status.FAIL, kind="port", severity=""),
        result(Status.FAIL, kind="requirement", severity=""),
        result(Status.ERROR),
    ):
        assert gate.decide([r], fail_on).failed, r


def test_cat3_findings_and_non_findings_pass_the_default_gate():
    fail_on = gate.parse(gate.DEFAULT)
    decision = gate.decide(
        [
            result(Status.FAIL, "low"),
            result(Status.PASS),
            result(Status.NOT_REVIEWED),
            result(Status.NOT_APPLICABLE),
        ],
        fail_on,
    )
    assert not decision.failed
    assert decision.line(fail_on) == (
        "gate passed (fail-on cat1,cat2,error,ports,requirements): "
        "not gated: 1 open CAT III finding"
    )


def test_valid_waiver_lets_a_finding_through_until_it_expires():
    fail_on = gate.parse("cat2")
    valid = result(Status.FAIL, waiver={"state": "valid", "ticket": "CHG-1"})
    expired = result(Status.FAIL, waiver={"state": "expired", "ticket": "CHG-2"})

    alone = gate.decide([valid], fail_on)
    assert not alone.failed
    assert alone.line(fail_on) == (
        "gate passed (fail-on cat2): nothing open outside waivers; "
        "1 waived, so not counted (1 open CAT II finding)"
    )
    decision = gate.decide([valid, expired], fail_on)
    assert decision.failed
    assert decision.line(fail_on) == (
        "gate FAILED (fail-on cat2): 1 open CAT II finding on h (1); "
        "1 waived, so not counted (1 open CAT II finding)"
    )


def test_summary_counts_every_blocking_class():
    fail_on = gate.parse("cat1,cat2,error")
    decision = gate.decide(
        [
            result(Status.FAIL, "high"),
            result(Status.FAIL),
            result(Status.FAIL),
            result(Status.ERROR),
        ],
        fail_on,
    )
    assert decision.line(fail_on) == (
        "gate FAILED (fail-on cat1,cat2,error): "
        "1 open CAT I finding, 2 open CAT II findings, 1 error on h (4)"
    )


def test_a_failed_gate_names_the_hosts_and_what_it_let_through():
    fail_on = gate.parse("cat1")
    decision = gate.decide(
        [
            result(Status.FAIL, "high", host="app02"),
            result(Status.FAIL, "high", host="app01"),
            result(Status.FAIL, "high", host="app02"),
            result(Status.FAIL, "low", host="app01"),
        ],
        fail_on,
    )

    assert decision.line(fail_on) == (
        "gate FAILED (fail-on cat1): 3 open CAT I findings on app01 (1), "
        "app02 (2); not gated: 1 open CAT III finding"
    )


def test_none_is_report_only_and_unknown_tokens_are_usage_errors():
    assert gate.parse("none") == frozenset()
    assert not gate.decide([result(Status.ERROR)], frozenset()).failed
    with pytest.raises(gate.GateError, match="unknown cat4"):
        gate.parse("cat1,cat4")
    with pytest.raises(gate.GateError, match="did you mean error\\? use a comma"):
        gate.parse("errors")
