"""The pytest plugin seen from outside: options, generated ids, outcomes, errors.

Each test builds a small project with pytester (the repository's user tests,
an inventory and a conftest that swaps the network collectors for canned
facts) and runs pytest on it in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from sphere_stig import catalog
from tests.plugin.conftest import REPO, results, run


def test_ids_name_rule_and_host(project):
    result = run(project, "--inventory", "t", "--collect-only", "-q", "-m", "stig")
    lines = [ln for ln in result.outlines if "::test_stig[" in ln]

    assert len(lines) == 34 * 3
    assert "tests_infra/test_stig.py::test_stig[V-224762-good01]" in lines


def test_markers_and_keywords_select(project):
    cat1 = run(project, "--inventory", "t", "--collect-only", "-q", "-m", "cat1")
    one = run(project, "--inventory", "t", "--collect-only", "-q", "-k", "V-224762")
    ports = run(project, "--inventory", "t", "--collect-only", "-q", "-m", "ports")

    assert sum("test_stig[" in ln for ln in cat1.outlines) == 2 * 3
    assert {ln for ln in one.outlines if "test_stig[" in ln} == {
        f"tests_infra/test_stig.py::test_stig[V-224762-{h}]"
        for h in ("good01", "bad01", "down01")
    }
    assert all("test_port[" in ln for ln in ports.outlines if "::" in ln)


def test_limit_selects_by_group(project):
    result = run(project, "--inventory", "t", "--limit", "red", "--collect-only", "-q")
    hosts = {
        ln.rsplit("-", 1)[1].rstrip("]") for ln in result.outlines if "test_stig[" in ln
    }
    assert hosts == {"bad01", "down01"}


def test_outcomes_map_once_to_checklist_statuses(project):
    # When the suite runs on three hosts: one good, one drifted, one down
    result = run(project, "--inventory", "t", "-m", "stig")

    # Then a finding fails the run and every result is on disk
    assert result.ret == 1
    got = results(project)
    assert got[("V-224782", "good01")]["ckl_status"] == "NotAFinding"
    assert got[("V-224782", "bad01")]["ckl_status"] == "Open"
    (evidence,) = got[("V-224782", "bad01")]["evidence"]
    assert (evidence["observed"], evidence["expected"], evidence["ok"]) == (
        "absent",
        "present",
        False,
    )
    down = got[("V-224782", "down01")]
    assert down["status"] == "error" and down["ckl_status"] == "Not_Reviewed"
    assert "down01" in down["summary"] and "connection refused" in down["summary"]
    manual = got[("V-224767", "good01")]
    assert (
        manual["ckl_status"] == "Not_Reviewed" and "Manual check" in manual["summary"]
    )
    pending = got[("V-224762", "good01")]
    assert pending["ckl_status"] == "Not_Reviewed"
    assert "check not implemented yet" in pending["summary"]
    assert len(got) == 34 * 3
    # And pytest itself agrees: errors for the unreachable host, failures for drift
    outcomes = result.parseoutcomes()
    assert (
        outcomes["passed"] == 2 and outcomes["failed"] == 2 and outcomes["errors"] == 2
    )


def test_terminal_ends_with_where_the_reports_are(project):
    result = run(project, "--inventory", "t", "-m", "stig", "-k", "V-224782")

    (run_dir,) = (project.path / "out" / "t").iterdir()
    assert result.outlines[-1] == (
        "sphere-stig: 1 Error, 1 NotAFinding, 1 Open; "
        f"reports in {run_dir.relative_to(project.path)}/"
    )
    assert (
        "ERROR tests_infra/test_stig.py::test_stig[V-224782-down01] - down01: WinRM"
        in (result.stdout.str())
    )
    assert {p.name for p in run_dir.iterdir()} >= {
        "report.html",
        "junit.xml",
        "results.json",
        "results.jsonl",
        "allure-results",
    }


@pytest.mark.parametrize(
    ("inventory", "message"),
    [
        ("nope", "unknown inventory 'nope'"),
        ("broken", "not valid YAML"),
        ("role", "unknown role 'sphere'"),
    ],
)
def test_bad_inventory_is_a_usage_error_before_any_test(project, inventory, message):
    inv = project.path / "inventories"
    (inv / "broken.yml").write_text("hosts: [unclosed\n")
    (inv / "role.yml").write_text(
        "hosts:\n  a: {address: 127.0.0.1, roles: [sphere]}\n"
    )

    result = run(project, "--inventory", inventory)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


def test_user_tests_without_inventory_say_how_to_run_them(project):
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "run pytest --inventory NAME" in result.stderr.str()


def test_xdist_keeps_each_host_on_one_worker_and_loses_no_result(project):
    # When the run is spread over two workers
    result = run(
        project,
        "--inventory",
        "t",
        "-m",
        "stig",
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "-v",
    )

    # Then every test of a host ran on the same worker (one session per host)
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        if line.startswith("[gw") and "test_stig[" in line:
            worker = line.split("]")[0].lstrip("[")
            host = line.rsplit("-", 1)[1].split("]")[0]
            workers.setdefault(host, set()).add(worker)
    assert set(workers) == {"good01", "bad01", "down01"}
    assert all(len(w) == 1 for w in workers.values()), workers
    # And the controller gathered every worker's results
    got = results(project)
    assert len(got) == 34 * 3
    assert got[("V-224782", "bad01")]["ckl_status"] == "Open"


XCCDF = REPO.parent / "shared" / "stig" / "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"


@pytest.mark.skipif(
    not XCCDF.exists(), reason="the DISA XCCDF is not beside the repository"
)
def test_official_text_reaches_results_and_revision_changes_are_named(
    project, tmp_path
):
    # Given the official benchmark with one rule revision changed
    changed = tmp_path / "changed-xccdf.xml"
    changed.write_bytes(
        XCCDF.read_bytes().replace(b"SV-224782r1013858_rule", b"SV-224782r1099999_rule")
    )

    result = run(
        project, "--inventory", "t", "-k", "V-224782", f"--stig-xccdf={changed}"
    )

    got = results(project)
    # The official title replaces the suite's own wording
    from sphere_stig.official import load_official

    official_title = load_official(changed).rules["V-224782"].title
    assert got[("V-224782", "good01")]["title"] == official_title
    assert official_title != catalog.rule("V-224782").title
    # And the terminal says which rule changed revision against the catalog
    assert any(
        "XCCDF differs from the catalog" in ln and "V-224782" in ln
        for ln in result.outlines
    )


def test_bad_answers_file_is_a_usage_error_naming_it(project, tmp_path):
    answers = tmp_path / "answers.yml"
    answers.write_text(
        "answers:\n  - rule: V-224782\n    status: NotAFinding\n    explanation: x\n"
        "    reviewer: r\n    date: 2026-01-01\n    expires: 2027-01-01\n    evidence: e\n"
    )
    result = run(project, "--inventory", "t", f"--answers={answers}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert str(answers) in err and "V-224782" in err


def test_answers_file_decides_manual_rules(project, tmp_path):
    answers = tmp_path / "answers.yml"
    answers.write_text(
        "answers:\n  - rule: V-224767\n    hosts: [good01]\n    status: NotAFinding\n"
        "    explanation: Admin login is disabled\n    reviewer: A. Reviewer\n"
        "    date: 2026-01-01\n    expires: 2099-01-01\n    evidence: CHG-1\n"
    )
    run(project, "--inventory", "t", "-k", "V-224767", f"--answers={answers}")
    got = results(project)
    assert got[("V-224767", "good01")]["ckl_status"] == "NotAFinding"
    assert got[("V-224767", "good01")]["answer"]["reviewer"] == "A. Reviewer"
    assert got[("V-224767", "bad01")]["ckl_status"] == "Not_Reviewed"


def test_port_row_waiver_and_requirement_answer_reach_gate_and_results(
    project, tmp_path
):
    # Given LST-07 (TCP 13657) open on every host, waived everywhere, and a
    # reviewer's answer for the manual requirement AUTH-01 on good01
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "waivers:\n  - rule: LST-07\n    justification: Agents move to 443 in Q1\n"
        "    approver: A. Approver\n    ticket: POAM-7\n"
        "    granted: 2026-01-01\n    expires: 2099-01-01\n"
    )
    answers = tmp_path / "answers.yml"
    answers.write_text(
        "answers:\n  - rule: AUTH-01\n    hosts: [good01]\n    status: NotAFinding\n"
        "    explanation: Console logons come from the directory only\n"
        "    reviewer: A. Reviewer\n    date: 2026-01-01\n    expires: 2099-01-01\n"
        "    evidence: CHG-2\n"
    )
    selected = ("--inventory", "t", "-k", "LST-07 or AUTH-01")
    unwaived = run(project, *selected)
    assert unwaived.ret == 1
    shutil.rmtree(project.path / "out")

    # When the run reads both files
    result = run(project, *selected, f"--waivers={waivers}", f"--answers={answers}")

    # Then the open port rows are waived, so the default gate passes
    assert result.ret == 0
    assert result.outlines[-2] == (
        "sphere-stig: gate passed (fail-on cat1,cat2,error,ports,requirements): "
        "nothing open outside waivers; 3 waived, so not counted (3 open port rows)"
    )
    # And results.json carries the waiver beside the open finding
    got = results(project)
    row = got[("LST-07", "bad01")]
    assert row["ckl_status"] == "Open"
    assert (row["waiver"]["ticket"], row["waiver"]["state"]) == ("POAM-7", "valid")
    assert "Waiver POAM-7 approved by A. Approver" in row["summary"]
    # And the answer decides AUTH-01 on good01 only
    assert got[("AUTH-01", "good01")]["ckl_status"] == "NotAFinding"
    assert got[("AUTH-01", "good01")]["answer"]["evidence"] == "CHG-2"
    assert got[("AUTH-01", "bad01")]["ckl_status"] == "Not_Reviewed"
    # And the HTML report's row shows the waiver
    (run_dir,) = (project.path / "out" / "t").iterdir()
    assert "Waiver POAM-7 (valid): approved by A. Approver" in (
        run_dir / "report.html"
    ).read_text(encoding="utf-8")


def test_fail_on_sets_the_exit_status(project):
    strict = run(project, "--inventory", "t", "-k", "V-224782 and not down01")
    lenient = run(
        project,
        "--inventory",
        "t",
        "-k",
        "V-224782 and not down01",
        "--fail-on",
        "cat1",
    )
    assert strict.ret == 1 and lenient.ret == 0
    assert lenient.outlines[-2] == (
        "sphere-stig: gate passed (fail-on cat1): not gated: 1 open CAT II finding"
    )


def test_interrupted_run_keeps_the_results_it_has(project):
    # Given a check that is interrupted (Ctrl-C) when it reaches bad01
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + """

def interrupting(facts, inputs):
    if facts.host == "bad01":
        raise KeyboardInterrupt
    return fake_check(facts, inputs)


checks.REGISTRY["lockout_failure_count"] = Check("lockout_failure_count", ("windows",), interrupting)
"""
    )

    result = run(project, "--inventory", "t", "-m", "stig", "-p", "no:randomly")

    # Then pytest reports the interruption, and what ran before it is on disk
    assert result.ret == pytest.ExitCode.INTERRUPTED
    got = results(project)
    assert got[("V-224782", "good01")]["ckl_status"] == "NotAFinding"
    assert ("V-224783", "bad01") not in got
    (run_dir,) = (project.path / "out" / "t").iterdir()
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(got)
    # And the checklists still list all 34 rules, the unrun ones not reviewed
    (ckl,) = (run_dir / "checklists").glob("bad01_*.ckl")
    text = ckl.read_text()
    assert text.count("<VULN>") == 34
    assert "not run in this session" in text
    # And the terminal, the HTML report and results.json say the run is partial
    assert any(
        line.startswith("sphere-stig: INTERRUPTED: ") and "run again" in line
        for line in result.outlines
    )
    assert any(
        line.startswith("sphere-stig: no verdict; among the results it has, gate")
        for line in result.outlines
    )
    html = (run_dir / "report.html").read_text()
    assert 'id="gate-verdict" class="interrupted"' in html
    assert "No verdict; among these, gate" in html
    meta = json.loads((run_dir / "results.json").read_text())["meta"]
    assert meta["interrupted"] is True and meta["selected"] > len(got)


def test_informational_options_need_no_inventory_and_leave_no_reports(project):
    result = run(project, "--markers")

    assert result.ret == pytest.ExitCode.OK
    assert "@pytest.mark.cat1" in result.stdout.str()
    assert not (project.path / "out").exists()


def test_path_options_outside_the_repository_are_explained(project, tmp_path_factory):
    # Given a benchmark downloaded outside the project, named after a space
    elsewhere = tmp_path_factory.mktemp("downloads") / "benchmark.xml"
    elsewhere.write_text("<not-a-benchmark/>")

    two_words = run(project, "--inventory", "t", "--stig-xccdf", str(elsewhere))
    with_equals = run(project, "--inventory", "t", f"--stig-xccdf={elsewhere}")

    # Then pytest, which took the path for a folder to test, is explained
    assert two_words.ret == pytest.ExitCode.USAGE_ERROR
    err = two_words.stderr.str()
    assert "found no pyproject.toml" in err
    assert f"--stig-xccdf={elsewhere}" in err and "(with '=')" in err
    # And the form with '=' reaches the suite, which reads the file
    assert with_equals.ret == pytest.ExitCode.USAGE_ERROR
    assert "--stig-xccdf:" in with_equals.stderr.str()


def test_no_test_selected_gives_no_verdict(project):
    result = run(project, "--inventory", "t", "-k", "no-such-rule")

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert any(
        line.startswith("sphere-stig: no test selected") for line in result.outlines
    )
    assert "gate passed" not in result.stdout.str()


def test_kinds_that_fit_no_selected_host_are_deselected_not_skipped(project):
    (project.path / "inventories" / "dc.yml").write_text(
        "hosts:\n  dc9: {address: 127.0.0.64, roles: [domain_controller]}\n"
    )

    result = run(project, "--inventory", "dc", "--collect-only", "-q")

    out = result.stdout.str()
    assert "empty parameter set" not in out
    assert "test_stig" not in out
    assert "test_port[" in out


def test_inventory_outside_the_repository_says_where_to_run(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--inventory",
            "lab",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "run pytest from the suite's repository" in result.stderr
