"""revision_changes(): where a supplied benchmark and the catalog disagree."""

import dataclasses

from sphere_stig import catalog
from sphere_stig.official import RevisionChange, load_official, revision_changes

MINI_RULES = ("V-224760", "V-224762", "V-224767")


def test_real_benchmark_matches_the_catalog(real_xccdf):
    # The catalog was built from V3R1: nothing differs
    assert revision_changes(load_official(real_xccdf), catalog.load_rules()) == []


def test_changed_revision_is_reported(mini_xccdf):
    # Given the test benchmark, whose V-224760 carries revision r999, and the
    # catalog entries of its three rules
    bench = load_official(mini_xccdf)
    rules = [catalog.rule(v) for v in MINI_RULES]

    # When they are compared
    changes = revision_changes(bench, rules)

    # Then exactly that rule is reported, with both Rule IDs
    assert changes == [
        RevisionChange(
            vuln_id="V-224760",
            kind="revision",
            in_catalog="SV-224760r1013798_rule",
            in_official="SV-224760r999_rule",
        )
    ]
    assert changes[0].describe() == (
        "V-224760: Rule ID is SV-224760r999_rule in the official text but "
        "SV-224760r1013798_rule in the catalog; checklist reviews keyed on one do "
        "not match the other"
    )


def test_every_kind_of_change_is_found_and_described(mini_xccdf):
    # Given the test benchmark with V-224767 lowered to medium and a rule the
    # catalog lacks, against catalog rules that include one it lacks
    bench = load_official(mini_xccdf)
    rules = dict(bench.rules)
    rules["V-224767"] = dataclasses.replace(rules["V-224767"], severity="medium")
    rules["V-299999"] = dataclasses.replace(
        rules["V-224762"], vuln_id="V-299999", rule_id="SV-299999r1_rule"
    )
    bench = dataclasses.replace(bench, rules=rules)
    ours = [catalog.rule(v) for v in (*MINI_RULES, "V-224793")]

    # When they are compared
    changes = revision_changes(bench, ours)

    # Then each difference has one line, benchmark order first
    assert [c.describe() for c in changes] == [
        "V-224760: Rule ID is SV-224760r999_rule in the official text but "
        "SV-224760r1013798_rule in the catalog; checklist reviews keyed on one do "
        "not match the other",
        "V-224767: severity is medium in the official text but high in the catalog",
        "V-299999: SV-299999r1_rule is in the official text but not in the catalog; "
        "the suite has no test for it",
        "V-224793: SV-224793r1013888_rule is in the catalog but not in the official "
        "text; this release may have dropped it",
    ]
    assert [c.kind for c in changes] == [
        "revision",
        "severity",
        "only_official",
        "only_catalog",
    ]


def test_revision_and_severity_change_together_give_two_lines(mini_xccdf):
    bench = load_official(mini_xccdf)
    rules = dict(bench.rules)
    rules["V-224760"] = dataclasses.replace(rules["V-224760"], severity="low")

    changes = revision_changes(
        dataclasses.replace(bench, rules=rules), [catalog.rule("V-224760")]
    )

    assert [(c.kind, c.in_catalog, c.in_official) for c in changes] == [
        ("revision", "SV-224760r1013798_rule", "SV-224760r999_rule"),
        ("severity", "medium", "low"),
        ("only_official", "", "SV-224762r1013803_rule"),
        ("only_official", "", "SV-224767r1013815_rule"),
    ]
