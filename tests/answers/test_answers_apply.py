"""apply(): how answers and waivers change, or leave, a rule's verdict."""

from datetime import date
from pathlib import Path

import pytest

from sphere_stig import catalog, gate
from sphere_stig.answers import (
    EXPIRED,
    VALID,
    Answer,
    AnswerBook,
    Applied,
    apply,
    load_answers,
    load_waivers,
)
from sphere_stig.outcome import Evidence, Status, Verdict, failed, not_reviewed, passed
from sphere_stig.results import Result

ANSWERS = """
answers:
  - rule: V-224767
    hosts: [sphere01]
    status: NotAFinding
    explanation: Admin exists; "Log in disabled" is ticked.
    reviewer: J. Alvarez
    date: 2026-11-24
    expires: 2030-12-31
    evidence: LAB-REV-0103
  - rule: V-224767
    hosts: [sphere02]
    status: NotAFinding
    explanation: Admin exists; "Log in disabled" is ticked.
    reviewer: J. Alvarez
    date: 2025-05-12
    expires: 2025-11-12
    evidence: LAB-REV-0042
  - rule: V-224764
    hosts: [sphere01]
    status: Open
    explanation: Help Desk User has no member.
    reviewer: M. Chen
    date: 2026-11-30
    expires: 2027-02-28
    evidence: LAB-REV-0110
  - rule: V-224773
    hosts: [sphere01]
    status: Not_Applicable
    explanation: Console logon is disabled; only the agent API is used.
    reviewer: M. Chen
    date: 2026-11-30
    expires: 2027-11-30
    evidence: LAB-REV-0111
"""

WAIVERS = """
waivers:
  - rule: V-224781
    hosts: [sphere02]
    justification: Sample apps stay until the vendor upgrade.
    approver: R. Okafor
    ticket: LAB-POAM-0007
    granted: 2026-11-26
    expires: 2030-12-31
  - rule: V-224784
    hosts: [sphere02]
    justification: Lockout disabled during a directory migration.
    approver: R. Okafor
    ticket: LAB-POAM-0003
    granted: 2025-03-03
    expires: 2025-09-01
  - rule: V-224764
    hosts: [sphere01]
    justification: A help desk member is being hired.
    approver: R. Okafor
    ticket: LAB-POAM-0011
    granted: 2026-12-01
    expires: 2027-03-01
  - rule: V-224762
    hosts: ["*"]
    justification: Old clients needed TLS 1.1 during the move.
    approver: R. Okafor
    ticket: LAB-POAM-0001
    granted: 2026-01-05
    expires: 2026-06-30
"""

MANUAL_SUMMARY = "Manual check: look at the console."


@pytest.fixture
def answers(write):
    return load_answers(write(ANSWERS, "lab.answers.yml"))


@pytest.fixture
def waivers(write):
    return load_waivers(write(WAIVERS, "lab.waivers.yml"))


def manual_verdict() -> Verdict:
    """What evaluate_rule returns for a manual rule nobody has answered."""
    return not_reviewed(
        MANUAL_SUMMARY,
        Evidence("reviewer answer", "none recorded", "the result", "manual procedure"),
    )


def webapps_failure() -> Verdict:
    return failed(
        "webapps holds more than manager and host-manager",
        Evidence("webapps", "ROOT, docs, examples", "manager, host-manager", "WinRM"),
    )


def as_result(rule: catalog.Rule, host: str, applied: Applied) -> Result:
    """The result the pytest glue records from an applied verdict."""
    v = applied.verdict
    return Result(
        kind="stig",
        id=rule.vuln_id,
        host=host,
        status=v.status,
        summary=v.summary,
        evidence=v.evidence,
        answer=applied.answer,
        waiver=applied.waiver,
    )


# Answers on manual rules.


def test_valid_answer_decides_a_manual_rule(answers, today):
    # Given the manual rule V-224767, unanswered by the check, on sphere01
    rule = catalog.rule("V-224767")

    # When the answers are applied on 2026-12-03
    applied = apply(rule, "sphere01", manual_verdict(), answers, None, today)

    # Then the reviewer's NotAFinding decides it, with the answer as evidence
    verdict = applied.verdict
    assert verdict.status is Status.PASS
    assert verdict.summary == (
        "Decided by a reviewer's answer: NotAFinding, given by J. Alvarez on "
        '2026-11-24, expires on 2030-12-31. Admin exists; "Log in disabled" is '
        "ticked."
    )
    assert verdict.evidence == (
        Evidence(
            item="reviewer answer",
            observed='NotAFinding: Admin exists; "Log in disabled" is ticked.',
            expected=rule.record.strip(),
            source="lab.answers.yml answers[0]; evidence: LAB-REV-0103",
            ok=True,
        ),
    )
    assert applied.answer == {
        "rule": "V-224767",
        "hosts": "sphere01",
        "matched": "sphere01",
        "status": "NotAFinding",
        "explanation": 'Admin exists; "Log in disabled" is ticked.',
        "reviewer": "J. Alvarez",
        "date": "2026-11-24",
        "expires": "2030-12-31",
        "evidence": "LAB-REV-0103",
        "file": "lab.answers.yml",
        "entry": "answers[0]",
        "state": "valid",
    }
    assert applied.waiver is None


@pytest.mark.parametrize(
    ("vuln_id", "status", "ok"),
    [
        ("V-224764", Status.FAIL, False),
        ("V-224773", Status.NOT_APPLICABLE, None),
    ],
)
def test_open_and_not_applicable_answers_map_to_fail_and_na(
    answers, today, vuln_id, status, ok
):
    applied = apply(
        catalog.rule(vuln_id), "sphere01", manual_verdict(), answers, None, today
    )

    assert applied.verdict.status is status
    assert applied.verdict.evidence[0].ok is ok
    assert applied.answer["state"] == "valid"


def test_expired_answer_leaves_the_rule_not_reviewed(answers, today):
    # Given sphere02's answer for V-224767, which expired on 2025-11-12
    rule = catalog.rule("V-224767")

    # When the answers are applied
    applied = apply(rule, "sphere02", manual_verdict(), answers, None, today)

    # Then the rule is not reviewed, and the summary says whose answer expired
    verdict = applied.verdict
    assert verdict.status is Status.NOT_REVIEWED
    assert verdict.summary == (
        "Answer by J. Alvarez expired on 2025-11-12; review the rule again and "
        f"renew the entry in lab.answers.yml. {MANUAL_SUMMARY}"
    )
    assert verdict.evidence == (
        Evidence(
            item="reviewer answer",
            observed="NotAFinding by J. Alvarez on 2025-05-12, expired on 2025-11-12",
            expected="an answer that has not expired",
            source="lab.answers.yml answers[1]; evidence: LAB-REV-0042",
            ok=None,
        ),
    )
    assert applied.answer["state"] == "expired"
    assert applied.answer["entry"] == "answers[1]"


def test_answer_counts_until_the_day_before_it_expires(answers):
    rule = catalog.rule("V-224764")

    last_day = apply(
        rule, "sphere01", manual_verdict(), answers, None, date(2027, 2, 27)
    )
    expiry = apply(rule, "sphere01", manual_verdict(), answers, None, date(2027, 2, 28))

    assert last_day.verdict.status is Status.FAIL
    assert expiry.verdict.status is Status.NOT_REVIEWED


def test_answer_dated_after_the_run_does_not_decide_yet(answers):
    # Given sphere01's Open answer for V-224764, dated 2026-11-30
    rule = catalog.rule("V-224764")

    # When a run judges the day before that date
    applied = apply(
        rule, "sphere01", manual_verdict(), answers, None, date(2026, 11, 29)
    )

    # Then the rule is not reviewed, and the result says why the answer waits
    verdict = applied.verdict
    assert verdict.status is Status.NOT_REVIEWED
    assert verdict.summary == (
        "Answer by M. Chen is dated 2026-11-30, after the day of the run, so it "
        "does not decide the rule yet; correct the date in lab.answers.yml if the "
        f"review has taken place. {MANUAL_SUMMARY}"
    )
    assert verdict.evidence == (
        Evidence(
            item="reviewer answer",
            observed="Open by M. Chen dated 2026-11-30, not in force until then",
            expected="an answer dated on or before the day of the run (2026-11-29)",
            source="lab.answers.yml answers[2]; evidence: LAB-REV-0110",
            ok=None,
        ),
    )
    # And the record stays for the checklist comments, marked as waiting
    assert applied.answer["state"] == "not yet in force"
    assert applied.answer["date"] == "2026-11-30"


def test_answer_counts_from_its_own_date(answers):
    rule = catalog.rule("V-224764")

    on_the_day = apply(
        rule, "sphere01", manual_verdict(), answers, None, date(2026, 11, 30)
    )

    assert on_the_day.verdict.status is Status.FAIL
    assert on_the_day.answer["state"] == "valid"


def test_host_without_an_answer_keeps_the_verdict(answers, today):
    verdict = manual_verdict()

    applied = apply(catalog.rule("V-224764"), "sphere02", verdict, answers, None, today)

    assert applied == Applied(verdict, None, None)


def test_answer_never_decides_an_automated_rule(today):
    # Given a book (built in code, since loading refuses it) that answers the
    # automated rule V-224781
    entry = Answer(
        rule="V-224781",
        status="NotAFinding",
        explanation="looks fine",
        reviewer="someone",
        date=date(2026, 11, 1),
        expires=date(2030, 1, 1),
        evidence="none",
    )
    book = AnswerBook(Path("odd.answers.yml"), (entry,))
    verdict = webapps_failure()

    # When it is applied to the check's failure
    applied = apply(catalog.rule("V-224781"), "sphere02", verdict, book, None, today)

    # Then the check's verdict stands, and the answer shows only as unused
    assert (applied.verdict.status, applied.verdict.summary) == (
        verdict.status,
        verdict.summary,
    )
    assert applied.answer is None and applied.waiver is None
    assert applied.verdict.evidence[:-1] == verdict.evidence
    note = applied.verdict.evidence[-1]
    assert note.item == "reviewer answer (not used)" and note.ok is None
    assert note.observed == "NotAFinding by someone on 2026-11-01 (none)"
    assert note.source == "odd.answers.yml answers[0]"


def test_answer_on_a_manual_rule_its_comparison_decided_is_shown_unused(
    repo_root, today
):
    # Given the lab's answer for V-225096 on sphere01, and the rule's version
    # comparison that judged the host anyway
    answers = load_answers(repo_root / "inventories" / "lab.answers.yml")
    judged = failed(
        "Sphere 6.6.1.204 is older than the oldest supported release 7.4.0",
        Evidence("installed Sphere release", "6.6.1.204", "7.4.0 or later", "WinRM"),
    )

    applied = apply(catalog.rule("V-225096"), "sphere01", judged, answers, None, today)

    # Then the comparison's verdict stands, with the answer as context
    assert applied.verdict.status is Status.FAIL
    assert applied.answer is None
    assert [e.item for e in applied.verdict.evidence] == [
        "installed Sphere release",
        "reviewer answer (not used)",
    ]


# Waivers.


def test_valid_waiver_keeps_the_finding_open(waivers, today):
    # Given the webapps failure on sphere02 and a waiver until 2030
    rule = catalog.rule("V-224781")
    verdict = webapps_failure()

    # When the waivers are applied
    applied = apply(rule, "sphere02", verdict, None, waivers, today)

    # Then the rule still fails, the summary names the waiver, the evidence
    # is the check's
    assert applied.verdict.status is Status.FAIL
    assert applied.verdict.summary == (
        "webapps holds more than manager and host-manager. Waiver LAB-POAM-0007 "
        "approved by R. Okafor accepts this open finding until it expires on "
        "2030-12-31; the finding stays open."
    )
    assert applied.verdict.evidence == verdict.evidence
    assert applied.waiver == {
        "rule": "V-224781",
        "hosts": "sphere02",
        "matched": "sphere02",
        "justification": "Sample apps stay until the vendor upgrade.",
        "approver": "R. Okafor",
        "ticket": "LAB-POAM-0007",
        "granted": "2026-11-26",
        "expires": "2030-12-31",
        "file": "lab.waivers.yml",
        "entry": "waivers[0]",
        "state": "valid",
    }
    assert applied.answer is None
    # And the result the glue records counts as waived, and stays Open
    result = as_result(rule, "sphere02", applied)
    assert result.waived is True
    assert result.ckl_status == "Open"


def test_expired_waiver_is_stated_and_waives_nothing(waivers, today):
    rule = catalog.rule("V-224784")
    verdict = failed("lockOutTime is not set")

    applied = apply(rule, "sphere02", verdict, None, waivers, today)

    assert applied.verdict.status is Status.FAIL
    assert applied.verdict.summary == (
        "lockOutTime is not set. Waiver LAB-POAM-0003 approved by R. Okafor expired "
        "on 2025-09-01; the finding is open and no longer waived."
    )
    assert applied.waiver["state"] == "expired"
    assert "unused" not in applied.waiver
    assert as_result(rule, "sphere02", applied).waived is False


def test_waiver_granted_after_the_run_waives_nothing(waivers):
    # Given the help desk waiver for V-224764 on sphere01, granted 2026-12-01
    rule = catalog.rule("V-224764")
    verdict = failed("Help Desk User has no member")

    # When a run judges the day before it was granted
    applied = apply(rule, "sphere01", verdict, None, waivers, date(2026, 11, 30))

    # Then the finding is open, not waived, and the summary says from when
    assert applied.verdict.status is Status.FAIL
    assert applied.verdict.summary == (
        "Help Desk User has no member. Waiver LAB-POAM-0011 approved by R. Okafor "
        "is granted on 2026-12-01, not in force until then; the finding is open "
        "and not waived."
    )
    assert applied.waiver["state"] == "not yet in force"
    assert "unused" not in applied.waiver
    assert as_result(rule, "sphere01", applied).waived is False


def test_waiver_counts_from_the_day_it_is_granted(waivers):
    rule = catalog.rule("V-224764")
    verdict = failed("Help Desk User has no member")

    applied = apply(rule, "sphere01", verdict, None, waivers, date(2026, 12, 1))

    assert applied.waiver["state"] == "valid"
    assert as_result(rule, "sphere01", applied).waived is True


@pytest.mark.parametrize(
    "verdict",
    [
        passed("only TLS 1.2 and 1.3 are enabled"),
        not_reviewed("organisation input not set: max_threads"),
    ],
)
def test_waiver_on_a_rule_that_did_not_fail_is_kept_as_unused(waivers, today, verdict):
    # Given a catch-all waiver for V-224762 (expired in June), which did not fail
    applied = apply(catalog.rule("V-224762"), "sphere01", verdict, None, waivers, today)

    # Then the verdict is untouched and the waiver is recorded as unused
    assert applied.verdict == verdict
    assert applied.waiver["state"] == "expired"
    assert applied.waiver["unused"] == "true"
    assert applied.waiver["matched"] == "*"


def test_unused_waiver_in_force_is_recorded_as_valid(waivers):
    applied = apply(
        catalog.rule("V-224762"),
        "sphere01",
        passed("only TLS 1.2 and 1.3"),
        None,
        waivers,
        date(2026, 3, 1),
    )

    assert (applied.waiver["state"], applied.waiver["unused"]) == ("valid", "true")


def test_manual_rule_answered_open_can_be_waived(answers, waivers, today):
    # Given V-224764 answered Open on sphere01 and waived there
    rule = catalog.rule("V-224764")

    applied = apply(rule, "sphere01", manual_verdict(), answers, waivers, today)

    # Then it fails by the answer, carries both records, and counts as waived
    assert applied.verdict.status is Status.FAIL
    assert applied.verdict.summary.startswith(
        "Decided by a reviewer's answer: Open, given by M. Chen on 2026-11-30"
    )
    assert applied.verdict.summary.endswith(
        "Waiver LAB-POAM-0011 approved by R. Okafor accepts this open finding "
        "until it expires on 2027-03-01; the finding stays open."
    )
    assert applied.answer["status"] == "Open"
    assert applied.waiver["ticket"] == "LAB-POAM-0011"
    assert as_result(rule, "sphere01", applied).waived is True


# Errors are never touched.


@pytest.mark.parametrize(
    ("vuln_id", "host"),
    [("V-224767", "sphere01"), ("V-224781", "sphere02"), ("V-224764", "sphere01")],
)
def test_error_verdict_is_never_changed(answers, waivers, today, vuln_id, host):
    # Given an error where an answer, a waiver or both would match
    verdict = Verdict(Status.ERROR, "sphere02: WinRM: connection refused")

    applied = apply(catalog.rule(vuln_id), host, verdict, answers, waivers, today)

    # Then the error and nothing else comes back
    assert applied == Applied(verdict, None, None)
    assert applied.verdict is verdict


def test_without_books_nothing_changes(today):
    verdict = manual_verdict()

    assert apply(catalog.rule("V-224767"), "sphere01", verdict, None, None, today) == (
        Applied(verdict)
    )


# The shipped lab files, end to end.


def test_lab_files_on_sphere02(repo_root, today):
    answers = load_answers(repo_root / "inventories" / "lab.answers.yml")
    waivers = load_waivers(repo_root / "inventories" / "lab.waivers.yml")

    def run(vuln_id: str, verdict: Verdict) -> Applied:
        rule = catalog.rule(vuln_id)
        return apply(rule, "sphere02", verdict, answers, waivers, today)

    admin = run("V-224767", manual_verdict())
    webapps = run("V-224781", webapps_failure())
    lockout = run("V-224784", failed("lockOutTime is not set"))
    roles = run("V-224764", manual_verdict())

    assert admin.verdict.status is Status.NOT_REVIEWED
    assert admin.verdict.summary.startswith(
        "Answer by J. Alvarez (ISSO) expired on 2025-11-12"
    )
    assert (webapps.verdict.status, webapps.waiver["state"]) == (Status.FAIL, "valid")
    assert (lockout.verdict.status, lockout.waiver["state"]) == (Status.FAIL, "expired")
    assert roles == Applied(manual_verdict())


# Requirements and port-table rows go through the same logic.

OVERVIEW_ANSWERS = """
answers:
  - rule: AUTH-01
    hosts: [sphere01]
    status: NotAFinding
    explanation: Every console account comes from the directory.
    reviewer: M. Chen
    date: 2026-11-30
    expires: 2027-11-30
    evidence: LAB-REV-0120
"""

OVERVIEW_WAIVERS = """
waivers:
  - rule: LST-07
    hosts: ["*"]
    justification: The agents move to 443 with the next release.
    approver: R. Okafor
    ticket: LAB-POAM-0020
    granted: 2026-11-01
    expires: 2027-05-01
  - rule: AGENT-01
    hosts: [sphere02]
    justification: DCOM rights are granted by a group policy in review.
    approver: R. Okafor
    ticket: LAB-POAM-0021
    granted: 2026-11-01
    expires: 2026-12-01
"""


def port_row(row_id: str) -> catalog.PortRow:
    (row,) = (r for r in catalog.load_ports() if r.id == row_id)
    return row


def requirement(req_id: str) -> catalog.Requirement:
    (req,) = (q for q in catalog.load_requirements() if q.id == req_id)
    return req


def test_answer_decides_a_manual_requirement(write, today):
    # Given the manual requirement AUTH-01, answered for sphere01
    answers = load_answers(write(OVERVIEW_ANSWERS, "lab.answers.yml"))
    req = requirement("AUTH-01")
    unanswered = not_reviewed("Manual requirement: directory accounts only.")

    # When the answers are applied on both hosts
    applied = apply(req, "sphere01", unanswered, answers, None, today)
    elsewhere = apply(req, "sphere02", unanswered, answers, None, today)

    # Then the answer decides sphere01, with the statement as what was asked
    assert applied.verdict.status is Status.PASS
    assert applied.verdict.summary.startswith(
        "Decided by a reviewer's answer: NotAFinding, given by M. Chen on 2026-11-30"
    )
    (evidence,) = applied.verdict.evidence
    assert evidence.expected == (
        "the reviewer's result for: Sphere administrators sign in with accounts "
        "from the enterprise directory (Active Directory), not with accounts local "
        "to the console."
    )
    assert (applied.answer["rule"], applied.answer["state"]) == ("AUTH-01", "valid")
    # And sphere02 stays not reviewed
    assert elsewhere == Applied(unanswered)


def test_valid_waiver_on_an_open_port_row_keeps_it_open_and_ungated(write, today):
    # Given LST-07 open on sphere01 and a waiver for it on every host
    waivers = load_waivers(write(OVERVIEW_WAIVERS, "lab.waivers.yml"))
    row = port_row("LST-07")
    refused = failed(
        "sphere01 does not answer as 13657 (TCP/IP) requires",
        Evidence("TCP/IP tcp/13657", "refused", "accepting", "probe"),
    )

    # When the waivers are applied
    applied = apply(row, "sphere01", refused, None, waivers, today)

    # Then the finding stays open, with the waiver named in the summary
    assert applied.verdict.status is Status.FAIL
    assert applied.verdict.summary == (
        "sphere01 does not answer as 13657 (TCP/IP) requires. Waiver "
        "LAB-POAM-0020 approved by R. Okafor accepts this open finding until it "
        "expires on 2027-05-01; the finding stays open."
    )
    assert applied.verdict.evidence == refused.evidence
    assert (applied.waiver["entry"], applied.waiver["state"]) == ("waivers[0]", VALID)
    # And the gate counts it as waived, not as an open port row
    result = Result(
        kind="port",
        id="LST-07",
        host="sphere01",
        status=Status.FAIL,
        summary=applied.verdict.summary,
        waiver=applied.waiver,
    )
    assert result.waived and gate.token(result) == "ports"
    decision = gate.decide([result], gate.parse(gate.DEFAULT))
    assert not decision.failed and decision.waived_by == {"ports": 1}


def test_expired_waiver_on_an_open_requirement_gates_it_again(write, today):
    # Given AGENT-01 open on sphere02 and its waiver expired on 2026-12-01
    waivers = load_waivers(write(OVERVIEW_WAIVERS, "lab.waivers.yml"))
    open_finding = failed("Sphere's service account lacks DCOM rights.")

    # When the waivers are applied on 2026-12-03
    applied = apply(
        requirement("AGENT-01"), "sphere02", open_finding, None, waivers, today
    )

    # Then the requirement is open and no longer waived
    assert applied.verdict.summary.endswith(
        "Waiver LAB-POAM-0021 approved by R. Okafor expired on 2026-12-01; the "
        "finding is open and no longer waived."
    )
    assert applied.waiver["state"] == EXPIRED
    result = Result(
        kind="requirement",
        id="AGENT-01",
        host="sphere02",
        status=Status.FAIL,
        summary=applied.verdict.summary,
        waiver=applied.waiver,
    )
    assert not result.waived
    assert gate.decide([result], gate.parse(gate.DEFAULT)).blocking == {
        "requirements": 1
    }
