"""Answers and waivers files: what they hold, which entry applies, every error."""

import re
from datetime import date

import pytest
import yaml

from sphere_stig import catalog
from sphere_stig.answers import (
    EXPIRED,
    VALID,
    AnswersError,
    load_answers,
    load_waivers,
)
from sphere_stig.inventory import load

ANSWERS = """
description: answers for the test site
answers:
  - rule: V-224767
    hosts: [app01, app02]
    status: NotAFinding
    explanation: Admin exists and its logon is disabled.
    reviewer: A. Reviewer
    date: 2026-11-24
    expires: 2027-11-24
    evidence: CHG-4711
  - rule: V-225096
    status: Open
    explanation: Release 7.1 left vendor support in March.
    reviewer: B. Reviewer
    date: '2026-10-01'
    expires: '2027-04-01'
    evidence: vendor list saved 2026-10-01
"""

WAIVERS = """
waivers:
  - rule: V-224781
    hosts: [app0*]
    justification: Sample apps stay until the vendor upgrade.
    approver: C. Approver
    ticket: 20417
    granted: 2026-11-26
    expires: 2030-12-31
"""

ANSWER_KEYS = """
    status: NotAFinding
    explanation: looked at it
    reviewer: A. Reviewer
    date: 2026-11-24
    expires: 2027-11-24
    evidence: CHG-1
"""


def answer_entry(rule: str, hosts: str = "") -> str:
    """One answers entry for a rule, with optional hosts, as YAML list text."""
    lines = f"  - rule: {rule}\n"
    if hosts:
        lines += f"    hosts: {hosts}\n"
    return lines + ANSWER_KEYS.lstrip("\n")


# Reading valid files.


def test_answers_file_is_read_in_file_order(write):
    # Given an answers file with two entries, the second without hosts
    path = write(ANSWERS)

    # When it is loaded
    book = load_answers(path)

    # Then both entries are there, typed, and hosts default to every host
    first, second = book.entries
    assert book.path == path
    assert (first.rule, first.hosts, first.status) == (
        "V-224767",
        ("app01", "app02"),
        "NotAFinding",
    )
    assert (first.date, first.expires) == (date(2026, 11, 24), date(2027, 11, 24))
    assert second.hosts == ("*",)
    # Quoted and unquoted dates read the same.
    assert (second.date, second.expires) == (date(2026, 10, 1), date(2027, 4, 1))
    assert second.explanation == "Release 7.1 left vendor support in March."


def test_waivers_file_is_read_and_numbers_become_text(write):
    # Given a waivers file whose ticket YAML reads as a number
    path = write(WAIVERS, "site.waivers.yml")

    # When it is loaded
    book = load_waivers(path)

    # Then the waiver is there with its ticket as text
    (waiver,) = book.entries
    assert (waiver.rule, waiver.hosts, waiver.ticket) == (
        "V-224781",
        ("app0*",),
        "20417",
    )
    assert (waiver.granted, waiver.expires) == (date(2026, 11, 26), date(2030, 12, 31))


def test_an_empty_list_is_an_empty_book(write):
    book = load_answers(write("answers: []\n"))

    assert book.entries == ()
    assert book.find("V-224767", "app01") is None


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (date(2027, 11, 23), VALID),
        (date(2027, 11, 24), EXPIRED),
        (date(2031, 1, 1), EXPIRED),
    ],
)
def test_an_entry_has_expired_from_its_expires_day_on(write, day, state):
    # Given an answer that expires on 2027-11-24
    (answer, _) = load_answers(write(ANSWERS)).entries

    # Then it counts up to the day before and not from that day on
    assert answer.state(day) == state


# Which entry applies to a host.


def test_exact_name_beats_glob_beats_star(write):
    # Given three answers for one rule: for every host, for a glob, for a name
    path = write(
        "answers:\n"
        + answer_entry("V-224767", '["*"]')
        + answer_entry("V-224767", "[sphere*]")
        + answer_entry("V-224767", "[sphere02]")
    )

    # When each host looks up its answer
    book = load_answers(path)
    found = {h: book.find("V-224767", h) for h in ("sphere02", "sphere01", "dc01")}

    # Then the most specific entry wins for each
    assert (found["sphere02"].index, found["sphere02"].pattern) == (2, "sphere02")
    assert (found["sphere01"].index, found["sphere01"].pattern) == (1, "sphere*")
    assert (found["dc01"].index, found["dc01"].pattern) == (0, "*")


def test_order_in_the_file_does_not_change_precedence(write):
    # Given the exact name first and the catch-all last
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "[sphere02]")
        + answer_entry("V-224767", '["*"]')
    )

    # Then the exact name still wins for its host, "*" for the others
    book = load_answers(path)
    assert book.find("V-224767", "sphere02").index == 0
    assert book.find("V-224767", "sphere01").index == 1


def test_among_globs_more_fixed_characters_win_then_the_earlier_entry(write):
    # Given two globs of different precision and two level ones
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "[sphere*]")
        + answer_entry("V-224767", "['sphere0?']")
        + answer_entry("V-224764", "[sphere0*]")
        + answer_entry("V-224764", "['sphere?1']")
    )

    # When sphere01 looks up both rules
    book = load_answers(path)

    # Then "sphere0?" (7 fixed characters) beats "sphere*" (6), and of the
    # level "sphere0*" and "sphere?1" (7 each) the earlier entry wins
    assert book.find("V-224767", "sphere01").pattern == "sphere0?"
    assert book.find("V-224764", "sphere01").pattern == "sphere0*"


def test_one_entry_matches_by_its_most_specific_pattern(write):
    # Given one entry with a glob and an exact name, and a competing glob
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "[sphere*]")
        + answer_entry("V-224767", "[dc*, sphere02]")
    )

    # Then the second entry applies to sphere02 through its exact name
    found = load_answers(path).find("V-224767", "sphere02")
    assert (found.index, found.pattern) == (1, "sphere02")


def test_host_names_match_without_regard_to_case(write):
    path = write("answers:\n" + answer_entry("V-224767", "[Sphere02, APP*]"))

    book = load_answers(path)

    assert book.find("V-224767", "SPHERE02").pattern == "Sphere02"
    assert book.find("V-224767", "app01").pattern == "APP*"
    assert book.find("V-224767", "dc01") is None
    assert book.find("V-224764", "sphere02") is None


# Errors: the message names the file, the entry, the key and the remedy.


def test_unknown_rule_is_refused(write):
    path = write(ANSWERS.replace("V-225096", "V-999999"))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[1] (V-999999): key rule: V-999999 is not a rule of the "
        "catalog; check the Vuln ID against the STIG (V-nnnnnn)"
    )


def test_answer_for_an_automated_rule_is_refused(write):
    # Given an answer for V-224762, which the tls_protocols check decides
    path = write("answers:\n" + answer_entry("V-224762", "[sphere02]"))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[0] (V-224762): key rule: V-224762 is checked "
        "automatically (check tls_protocols), so an answer cannot decide it; "
        "remove the entry, or record an accepted open finding in a waivers file"
    )


def test_waiver_for_an_automated_rule_is_accepted(write):
    book = load_waivers(write(WAIVERS.replace("V-224781", "V-224762")))

    assert book.entries[0].rule == "V-224762"


def test_answer_expiring_before_its_date_is_refused(write):
    path = write(ANSWERS.replace("expires: 2027-11-24", "expires: 2026-01-31"))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[0] (V-224767): expires 2026-01-31 is before date "
        "2026-11-24, so the entry would never be in force; set expires to the "
        "first day it no longer counts"
    )


def test_answer_expiring_on_its_date_is_refused(write):
    path = write(ANSWERS.replace("expires: 2027-11-24", "expires: 2026-11-24"))

    with pytest.raises(AnswersError, match="is the same day as date 2026-11-24"):
        load_answers(path)


def test_waiver_expiring_before_it_was_granted_is_refused(write):
    path = write(WAIVERS.replace("2030-12-31", "2026-01-01"), "w.yml")

    with pytest.raises(AnswersError) as info:
        load_waivers(path)

    assert str(info.value).startswith(
        f"{path}: waivers[0] (V-224781): expires 2026-01-01 is before granted "
        "2026-11-26"
    )


def test_missing_key_is_named(write):
    path = write(ANSWERS.replace("    reviewer: B. Reviewer\n", ""))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[1] (V-225096): key reviewer: missing; add it"
    )


def test_missing_waiver_keys_are_each_named(write):
    path = write(
        WAIVERS.replace("    approver: C. Approver\n", "").replace(
            "    ticket: 20417\n", ""
        )
    )

    with pytest.raises(AnswersError) as info:
        load_waivers(path)

    assert str(info.value).splitlines() == [
        f"{path}: waivers[0] (V-224781): key approver: missing; add it",
        f"{path}: waivers[0] (V-224781): key ticket: missing; add it",
    ]


def test_every_problem_of_the_file_is_reported_one_per_line(write):
    # Given an answers file with three broken entries and a good one between
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "[sphere01]").replace(
            "    reviewer: A. Reviewer\n", ""
        )
        + answer_entry("V-224764", "[sphere01]")
        + answer_entry("V-224762")
        + answer_entry("V-224764", "[SPHERE01]")
    )

    # When it is loaded
    with pytest.raises(AnswersError) as info:
        load_answers(path)

    # Then each problem has its own line, naming file, entry and key
    assert str(info.value).splitlines() == [
        f"{path}: answers[0] (V-224767): key reviewer: missing; add it",
        f"{path}: answers[2] (V-224762): key rule: V-224762 is checked "
        "automatically (check tls_protocols), so an answer cannot decide it; "
        "remove the entry, or record an accepted open finding in a waivers file",
        f"{path}: answers[3] (V-224764): key hosts: 'SPHERE01' is already used for "
        "V-224764 by answers[1]; keep one entry per rule and host pattern",
    ]


# Host patterns against the inventory's hosts.

HOSTS = ["sphere-app01", "sphere-app02", "sphere-db01"]


def test_a_pattern_that_matches_no_host_of_the_inventory_is_refused(write):
    # Given a waiver whose host name has a typo
    path = write(WAIVERS.replace("hosts: [app0*]", "hosts: [sphere-ap01]"))

    # When it is loaded for an inventory's hosts
    with pytest.raises(AnswersError) as info:
        load_waivers(path, hosts=HOSTS)

    # Then the entry, the pattern and the inventory's hosts are named
    assert str(info.value) == (
        f"{path}: waivers[0] (V-224781): key hosts: 'sphere-ap01' matches no host "
        "of the inventory; did you mean sphere-app01? hosts: sphere-app01, "
        "sphere-app02, sphere-db01; fix the name or remove it"
    )


def test_an_entry_for_hosts_its_rule_never_runs_on_is_refused(write):
    # Given a waiver of a STIG rule (Sphere servers only) for the database host
    path = write(WAIVERS.replace("hosts: [app0*]", "hosts: [sphere-db01]"))
    roles = {
        "sphere-app01": ("sphere_server",),
        "sphere-app02": ("sphere_server",),
        "sphere-db01": ("database_server",),
    }

    with pytest.raises(AnswersError) as info:
        load_waivers(path, hosts=roles)

    # Then it is named, instead of loading and never showing anywhere
    assert str(info.value) == (
        f"{path}: waivers[0] (V-224781): V-224781 applies to hosts with the role "
        "sphere_server, and none of sphere-db01 has it, so the entry would never "
        "be used; fix its hosts or remove it"
    )
    # And the same entry for a Sphere server loads
    fixed = write(WAIVERS.replace("hosts: [app0*]", "hosts: [sphere-app0*]"))
    assert load_waivers(fixed, hosts=roles).entries


def test_each_pattern_of_an_entry_must_match_a_host(write):
    # Given an answer for two hosts, the second misspelt beyond a close match
    path = write("answers:\n" + answer_entry("V-224767", "[sphere-app01, mail9]"))

    with pytest.raises(AnswersError) as info:
        load_answers(path, hosts=HOSTS)

    assert str(info.value) == (
        f"{path}: answers[0] (V-224767): key hosts: 'mail9' matches no host of "
        "the inventory; hosts: sphere-app01, sphere-app02, sphere-db01; fix the "
        "name or remove it"
    )


def test_globs_star_and_case_match_the_inventory_hosts(write):
    # Given entries for a glob, for every host and for a name in capitals
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "['sphere-app*']")
        + answer_entry("V-224764")
        + answer_entry("V-225096", "[SPHERE-DB01]")
    )

    # Then they all match a host of the inventory
    book = load_answers(path, hosts=HOSTS)
    assert [a.rule for a in book.entries] == ["V-224767", "V-224764", "V-225096"]


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (
            "status: Open",
            "status: Pass",
            "answers[1] (V-225096): key status: Input should be 'NotAFinding', "
            "'Open' or 'Not_Applicable' (got 'Pass')",
        ),
        (
            "date: '2026-10-01'",
            "date: 20261001",
            "answers[1] (V-225096): key date: 20261001 is not a date; "
            "write it as YYYY-MM-DD",
        ),
        (
            "date: '2026-10-01'",
            "date: 2026-10-01 09:30:00",
            "key date: 2026-10-01 09:30:00 has a time of day; write the date only",
        ),
        (
            "rule: V-225096",
            "rule: V225096",
            "answers[1] (V225096): key rule: 'V225096' is not a catalog ID; write "
            "a Vuln ID (V-nnnnnn), a requirement ID (AUTH-nn, CERT-nn, AGENT-nn) "
            "or a port row ID (LST-nn, OUT-nn)",
        ),
        (
            "hosts: [app01, app02]",
            "hosts: app01",
            "answers[0] (V-224767): key hosts: write a list of host names or "
            "globs, e.g. [app01]",
        ),
        (
            "hosts: [app01, app02]",
            "hosts: []",
            "answers[0] (V-224767): key hosts: give at least one host name or "
            "glob, or leave the key out to cover every host",
        ),
        (
            "    evidence: CHG-4711\n",
            "    evidence: CHG-4711\n    comment: typo for explanation\n",
            "answers[0] (V-224767): key comment: not a known key; check its spelling",
        ),
        (
            "explanation: Release 7.1 left vendor support in March.",
            "explanation: '  '",
            "answers[1] (V-225096): key explanation: String should have at least "
            "1 character",
        ),
    ],
)
def test_bad_values_are_named_with_their_key(write, old, new, fragment):
    path = write(ANSWERS.replace(old, new))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_repeated_rule_and_pattern_is_refused(write):
    path = write(
        "answers:\n"
        + answer_entry("V-224767", "[sphere01]")
        + answer_entry("V-224767", "[sphere02, SPHERE01]")
    )

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[1] (V-224767): key hosts: 'SPHERE01' is already used for "
        "V-224767 by answers[0]; keep one entry per rule and host pattern"
    )


def test_a_key_written_twice_in_an_entry_names_both_lines(write):
    # Given an answer whose second date would silently replace the first
    path = write(
        "answers:\n"
        "  - rule: V-224767\n"
        "    status: NotAFinding\n"
        "    date: 2026-11-24\n"
        "    date: 2026-01-01\n"
    )

    # When the file is read
    with pytest.raises(AnswersError) as info:
        load_answers(path)

    # Then the entry, the key and both lines are named
    assert str(info.value) == (
        f"{path}: answers[0].date appears twice (lines 4 and 5); keep one"
    )


def test_a_top_level_key_written_twice_in_a_waivers_file_is_refused(write):
    # A second 'waivers:' would drop every entry of the first list.
    path = write("waivers: []\ndescription: site\nwaivers: []\n", "site.waivers.yml")

    with pytest.raises(AnswersError) as info:
        load_waivers(path)

    assert str(info.value) == (
        f"{path}: waivers appears twice (lines 1 and 3); keep one"
    )


def test_bad_yaml_names_line_and_column(write):
    path = write("answers:\n  - rule: V-224767\n    hosts: [sphere01\n")

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    message = str(info.value)
    assert message.startswith(f"{path}: line 4, column 1: not valid YAML (")
    assert message.endswith("); fix the syntax")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            "the file is empty; it needs a list under 'answers:' "
            "(write 'answers: []' for none)",
        ),
        ("- rule: V-224767\n", "expected a mapping with a list under 'answers:'"),
        (
            WAIVERS,
            "expected a mapping with a list under 'answers:' (it has "
            "'waivers:', so it looks like a waivers file)",
        ),
        (
            "answers: []\nwaiver: []\n",
            "unknown top-level key 'waiver'; an answers "
            "file holds 'answers:' and, optionally, 'description:'",
        ),
        (
            "answers: {rule: V-224767}\n",
            "key answers: expected a list of entries, each starting '- rule:'",
        ),
    ],
)
def test_wrong_file_shape_is_explained(write, text, message):
    path = write(text)

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == f"{path}: {message}"


def test_entry_that_is_not_a_mapping_is_refused(write):
    path = write("answers:\n  - V-224767\n")

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[0]: expected a mapping with the keys rule, hosts, "
        "expires, status, explanation, reviewer, date, evidence"
    )


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.waivers.yml"

    with pytest.raises(AnswersError) as info:
        load_waivers(path)

    assert str(info.value) == (
        f"{path}: no such waivers file; create it (docs/answers.md shows the "
        "format) or fix the path"
    )


# The files the repository ships.


def test_lab_examples_load_and_say_what_their_comments_say(repo_root, today):
    # Given the lab's answers and waivers
    answers = load_answers(repo_root / "inventories" / "lab.answers.yml")
    waivers = load_waivers(repo_root / "inventories" / "lab.waivers.yml")
    manual = ["V-224764", "V-224765", "V-224767", "V-224773", "V-224785", "V-225096"]

    # Then sphere01 has an answer in force for each manual rule, until 2030
    for rule in manual:
        found = answers.find(rule, "sphere01")
        assert found is not None and found.pattern == "sphere01"
        assert found.entry.state(today) == VALID
        assert found.entry.expires == date(2030, 12, 31)
    # And sphere02 has one answer, which has expired
    on_sphere02 = {r: answers.find(r, "sphere02") for r in manual}
    assert [r for r, f in on_sphere02.items() if f] == ["V-224767"]
    assert on_sphere02["V-224767"].entry.state(today) == EXPIRED
    # And sphere02 has a valid waiver for webapps and an expired one for lockout
    assert waivers.find("V-224781", "sphere02").entry.state(today) == VALID
    assert waivers.find("V-224784", "sphere02").entry.state(today) == EXPIRED
    assert waivers.find("V-224781", "sphere01") is None


def test_lab_examples_name_only_lab_hosts(repo_root):
    # Given the lab inventory's hosts, the lab's files load against them
    lab = load("lab", repo_root / "inventories", catalog.ROLES)
    hosts = [h.name for h in lab.hosts]

    assert load_answers(
        repo_root / "inventories" / "lab.answers.yml", hosts=hosts
    ).entries
    assert load_waivers(
        repo_root / "inventories" / "lab.waivers.yml", hosts=hosts
    ).entries


def test_documented_examples_load(repo_root, write):
    # Given the YAML examples of docs/answers.md
    text = (repo_root / "docs" / "answers.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    answers_text, waivers_text = blocks

    # When each is loaded as a file of its kind
    answers = load_answers(write(answers_text, "doc.answers.yml"))
    waivers = load_waivers(write(waivers_text, "doc.waivers.yml"))

    # Then each holds one entry for the rule the text talks about
    assert [a.rule for a in answers.entries] == ["V-224767"]
    assert [w.rule for w in waivers.entries] == ["V-224781"]
    assert yaml.safe_load(answers_text)["answers"][0]["status"] == "NotAFinding"


# Requirements and port-table rows: rule: names them by their catalog ID.

WAIVER_KEYS = """
    justification: accepted for now
    approver: C. Approver
    ticket: POAM-9
    granted: 2026-11-26
    expires: 2027-11-26
"""


def waiver_entry(rule: str) -> str:
    return f"  - rule: {rule}\n" + WAIVER_KEYS.lstrip("\n")


def test_answer_may_name_a_manual_requirement(write):
    # Given answers for the manual requirements AUTH-01 and AUTH-04
    path = write("answers:\n" + answer_entry("AUTH-01") + answer_entry("AUTH-04"))

    # When the file is loaded
    book = load_answers(path)

    # Then both entries are kept and found by their requirement ID
    assert [e.rule for e in book.entries] == ["AUTH-01", "AUTH-04"]
    assert book.find("AUTH-01", "app01").index == 0


def test_waiver_may_name_a_requirement_or_a_port_row(write):
    # Given waivers for an automated requirement, a manual one and two port rows
    rules = ("AGENT-01", "AUTH-03", "LST-07", "OUT-01")
    path = write("waivers:\n" + "".join(map(waiver_entry, rules)), "w.yml")

    # When the file is loaded
    book = load_waivers(path)

    # Then each entry is found by its ID
    assert [e.rule for e in book.entries] == list(rules)
    assert book.find("LST-07", "app01").entry.ticket == "POAM-9"


@pytest.mark.parametrize(
    ("rule", "what"),
    [
        ("AUTH-02", "AUTH-02 is checked automatically (check password_field_masked)"),
        ("LST-07", "port-table row LST-07 is checked automatically (check tcp_port)"),
    ],
)
def test_answer_for_an_automated_requirement_or_port_row_is_refused(write, rule, what):
    path = write("answers:\n" + answer_entry(rule))

    with pytest.raises(AnswersError) as info:
        load_answers(path)

    assert str(info.value) == (
        f"{path}: answers[0] ({rule}): key rule: {what}, so an answer cannot "
        "decide it; remove the entry, or record an accepted open finding in a "
        "waivers file"
    )


def test_unknown_requirement_and_port_row_are_refused_with_a_hint(write):
    # Given waivers naming a requirement and a port row the catalog lacks
    path = write("waivers:\n" + waiver_entry("AUTH-09") + waiver_entry("LST-99"))

    # When the file is loaded
    with pytest.raises(AnswersError) as info:
        load_waivers(path)

    # Then each line names the entry, the close ID and the known ones
    requirements = ", ".join(q.id for q in catalog.load_requirements())
    ports = ", ".join(p.id for p in catalog.load_ports())
    first, second = str(info.value).splitlines()
    assert first == (
        f"{path}: waivers[0] (AUTH-09): key rule: AUTH-09 is not a requirement of "
        f"the catalog; did you mean AUTH-04? requirements: {requirements}"
    )
    assert second.startswith(
        f"{path}: waivers[1] (LST-99): key rule: LST-99 is not a port row of the "
        "catalog; did you mean LST-"
    )
    assert second.endswith(f"? port rows: {ports}")
