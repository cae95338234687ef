"""Comparing two runs: every kind of change, both renderings, the command line."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sample_run import ev, make_meta, sphere01_results, sphere02_results, stig

from sphere_stig.exporters.compare import (
    compare,
    load_run,
    main,
    render_markdown,
    render_text,
)
from sphere_stig.outcome import Status
from sphere_stig.results import Result, write_json


def changed(result: Result, **fields) -> Result:
    return dataclasses.replace(result, **fields)


def by_id(results):
    return {(r.host, r.id): r for r in results}


@pytest.fixture
def runs():
    """An old run and a new one that differ in every way the diff reports."""
    old = sphere01_results() + sphere02_results()
    current = by_id(old)
    new = [
        # V-224760 passed and now fails: a new finding
        changed(
            current["sphere01", "V-224760"],
            status=Status.FAIL,
            summary="maxThreads is 400",
            evidence=(ev("Connector 443 maxThreads", "400", "150", ok=False),),
        ),
        # V-224761 failed and now passes: fixed
        changed(current["sphere01", "V-224761"], status=Status.PASS, summary="15 min"),
        # V-224762 failed and now errors: not fixed, another change
        changed(
            current["sphere01", "V-224762"], status=Status.ERROR, summary="refused"
        ),
        # V-224770 still fails, with different evidence
        changed(
            current["sphere01", "V-224770"],
            evidence=(
                ev("certificate issuer", "CN=Other CA", "a DoD CA", "tls", ok=False),
            ),
        ),
        # V-224763 (error) and V-224766 (n/a) unchanged; V-224764 dropped
        current["sphere01", "V-224763"],
        current["sphere01", "V-224766"],
        current["sphere01", "LST-01"],
        # A rule run for the first time, passing, and one failing
        stig("sphere01", "V-224789", Status.PASS, "no shutdown port"),
        stig("sphere01", "V-224790", Status.FAIL, "ACL too wide"),
        # sphere02 unchanged; sphere03 is new with a finding
        *sphere02_results(),
        stig("sphere03", "V-224760", Status.FAIL, "no limits"),
    ]
    new_meta = make_meta() | {
        "hosts": ["sphere01", "sphere02", "sphere03"],
        "started": "2025-03-05T05:06:07+00:00",
    }
    return (make_meta(), old), (new_meta, new)


def ids(changes):
    return [c.id for c in changes]


def test_each_kind_of_change_is_found(runs):
    diff = compare(*runs)
    sphere01, sphere02, sphere03 = diff.hosts

    assert sphere01.host == "sphere01"
    assert ids(sphere01.new_findings) == ["V-224760", "V-224790"]
    assert sphere01.new_findings[1].old is None
    assert ids(sphere01.fixed) == ["V-224761"]
    assert ids(sphere01.status_changes) == ["V-224762"]
    assert sphere01.status_changes[0].transition == "Open -> error (Not_Reviewed)"
    assert ids(sphere01.evidence_changes) == ["V-224770"]
    change = sphere01.evidence_changes[0]
    assert change.waived
    assert change.removed_lines == (
        "[FAIL] certificate issuer: observed CN=Lab CA; "
        "expected a DoD CA (source: tls scan)",
    )
    assert change.added_lines == (
        "[FAIL] certificate issuer: observed CN=Other CA; "
        "expected a DoD CA (source: tls)",
    )
    assert ids(sphere01.added) == ["V-224789"]
    assert ids(sphere01.removed) == ["V-224764"]

    assert not sphere02.changed
    assert sphere03.new_host and ids(sphere03.new_findings) == ["V-224760"]
    assert diff.hosts_added == ("sphere03",)
    assert diff.hosts_removed == ()
    assert ids(diff.new_findings) == ["V-224760", "V-224790", "V-224760"]


def test_removed_host_and_revision_note(runs):
    (old_meta, old), (new_meta, new) = runs
    new = [r for r in new if r.host != "sphere02"]
    new_meta = new_meta | {
        "hosts": ["sphere01", "sphere03"],
        "benchmark": {"id": "ISEC7_Sphere", "version": 3, "release": 2},
    }
    diff = compare((old_meta, old), (new_meta, new))
    assert diff.hosts_removed == ("sphere02",)
    assert diff.notes == (
        "benchmark revision changed from ISEC7_Sphere V3R1 to ISEC7_Sphere V3R2; "
        "rule IDs may have changed with it",
    )


def test_render_text(runs):
    text = render_text(compare(*runs))
    assert text.splitlines()[0] == (
        "Compared lab 2025-03-04T05:06:07+00:00 -> lab 2025-03-05T05:06:07+00:00"
    )
    assert "Hosts added: sphere03" in text
    assert (
        "  New findings (2):\n"
        "    V-224760 Connector caps connections and worker threads at site-set "
        "limits: NotAFinding -> Open\n"
        "    V-224790 Only needed accounts have rights on server.xml: not run -> Open\n"
    ) in text
    assert (
        "  Fixed findings (1):\n"
        "    V-224761 Idle console sessions end after 15 minutes or less: "
        "Open -> NotAFinding\n"
    ) in text
    assert ": Open -> Open (waived)\n" in text
    assert "      - [FAIL] certificate issuer: observed CN=Lab CA" in text
    assert "sphere02: no changes" in text
    assert "sphere03 (new host)" in text
    assert text.rstrip().endswith(
        "Summary: 3 new findings, 1 fixed, 1 other status changes, "
        "1 evidence changes, 1 added, 1 removed; 1 host(s) added, 0 removed"
    )


def test_render_markdown(runs):
    markdown = render_markdown(compare(*runs))
    assert markdown.startswith("# Run comparison\n")
    assert "## sphere01\n" in markdown
    assert "### New findings (2)\n\n| Rule | Title | Before | Now |\n" in markdown
    assert (
        "| V-224760 | Connector caps connections and worker threads at site-set "
        "limits | NotAFinding | Open |"
    ) in markdown
    assert "mutual authentication rule) | Open | Open (waived) |" in markdown
    assert "```diff\n- [FAIL] certificate issuer: observed CN=Lab CA" in markdown
    assert "## sphere02\n\nNo changes." in markdown


def save(tmp_path, name, run):
    folder = tmp_path / name
    folder.mkdir()
    meta, results = run
    write_json(list(results), folder / "results.json", dict(meta))
    return folder


def test_cli_on_run_folders(tmp_path, runs, capsys):
    old = save(tmp_path, "old", runs[0])
    new = save(tmp_path, "new", runs[1])

    assert main([str(old), str(new)]) == 0
    assert "New findings (2)" in capsys.readouterr().out
    assert main([str(old), str(new), "--fail-on-new"]) == 1
    assert main([str(old / "results.json"), str(old), "--fail-on-new"]) == 0
    capsys.readouterr()
    assert main([str(old), str(new), "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Run comparison")


def test_cli_reads_an_interrupted_run(tmp_path, runs):
    folder = tmp_path / "interrupted"
    folder.mkdir()
    lines = [json.dumps(r.to_json()) for r in runs[1][1]]
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta, results = load_run(folder)
    assert meta == {} and len(results) == len(runs[1][1])


@pytest.mark.parametrize("content", [None, "not json", '{"meta": {}}'])
def test_cli_unreadable_run(tmp_path, runs, capsys, content):
    good = save(tmp_path, "good", runs[0])
    bad = tmp_path / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "results.json").write_text(content, encoding="utf-8")
    assert main([str(good), str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}")


def test_a_lapsed_waiver_makes_the_finding_new_again(tmp_path):
    # Given an Open finding waived in the old run, and its waiver expired now
    finding = next(r for r in sphere01_results() if r.status is Status.FAIL)
    waiver = {"ticket": "POAM-7", "state": "valid", "expires": "2026-12-01"}
    then = changed(finding, waiver=waiver)
    now = changed(finding, waiver={**waiver, "state": "expired"})
    old = save(tmp_path, "old", (make_meta(), [then]))
    new = save(tmp_path, "new", (make_meta(), [now]))

    diff = compare(load_run(old), load_run(new))

    # Then it is a new finding, said to be no longer waived, and CI can stop
    (change,) = diff.new_findings
    assert (change.id, change.waiver_lapsed) == (finding.id, True)
    assert f"{finding.id}" in render_text(diff)
    assert "Open -> Open (no longer waived)" in render_text(diff)
    assert main([str(old), str(new), "--fail-on-new"]) == 1


def test_partial_runs_are_named_in_the_notes():
    old_meta = {**make_meta(), "limit": "sphere01"}
    new_meta = {**make_meta(), "interrupted": True}

    diff = compare((old_meta, sphere01_results()), (new_meta, sphere01_results()[:2]))

    assert "the old run was limited to sphere01" in diff.notes
    assert any(n.startswith("the new run was interrupted") for n in diff.notes)
