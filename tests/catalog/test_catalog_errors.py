"""A broken catalog fails with the file and the entry in the message."""

import pytest

from sphere_stig.catalog import CatalogError, build_catalog


def test_the_packaged_documents_build(documents):
    built = build_catalog(documents)

    assert len(built.rules) == 34 and len(built.ports) == 43


def rule_entry(documents, vuln_id):
    return next(r for r in documents["rules.yml"]["rules"] if r["vuln_id"] == vuln_id)


def row_entry(documents, row_id):
    return next(r for r in documents["ports.yml"]["rows"] if r["id"] == row_id)


def fails(documents, *fragments):
    with pytest.raises(CatalogError) as caught:
        build_catalog(documents)
    for fragment in fragments:
        assert fragment in str(caught.value)
    return str(caught.value)


def test_bad_severity_names_file_index_and_rule(documents):
    rule_entry(documents, "V-224763")["severity"] = "critical"

    fails(documents, "rules.yml: rules[3] (V-224763)", "severity")


def test_unknown_field_is_refused(documents):
    rule_entry(documents, "V-224760")["sevirity"] = "medium"

    fails(documents, "rules.yml: rules[0] (V-224760)", "sevirity", "Extra inputs")


def test_unknown_check_is_refused(documents):
    rule_entry(documents, "V-224781")["check"] = "webapps_gone"

    fails(documents, "(V-224781)", "check")


def test_manual_flag_must_match_check(documents):
    rule_entry(documents, "V-224764")["manual"] = False

    fails(documents, "(V-224764)", "manual")


def test_rule_naming_an_unknown_input(documents):
    rule_entry(documents, "V-224760")["inputs"].append("max_sessions")

    fails(documents, "rules.yml: V-224760", "unknown input max_sessions")


def test_input_used_by_must_match_the_rules(documents):
    documents["rules.yml"]["inputs"]["max_threads"]["used_by"] = ["V-224761"]

    fails(documents, "rules.yml: inputs.max_threads", "V-224760", "V-224761")


def test_input_example_must_fit_its_type(documents):
    documents["rules.yml"]["inputs"]["max_threads"]["example"] = "many"

    fails(documents, "rules.yml: inputs.max_threads", "example")


def test_duplicate_vuln_id(documents):
    entry = rule_entry(documents, "V-224761")
    entry["vuln_id"], entry["rule_id"] = "V-224760", "SV-224760r1_rule"

    fails(documents, "rules.yml", "vuln_id V-224760 appears twice")


def test_missing_port_row_is_noticed(documents):
    rows = documents["ports.yml"]["rows"]
    rows.remove(row_entry(documents, "LST-05"))

    fails(documents, "ports.yml: LST-06", "expected LST-05")


def test_ports_must_match_the_cell(documents):
    row_entry(documents, "LST-19")["ports"] = [18083]

    fails(documents, "ports.yml: rows[19] (LST-19)", "port_text")


def test_conditions_must_follow_the_legend(documents):
    row_entry(documents, "LST-03")["conditions"] = ["Needed on Tuesdays."]

    fails(documents, "ports.yml: LST-03", "legend")


def test_unknown_role_in_a_requirement(documents):
    documents["requirements.yml"]["requirements"][6]["roles"] = ["mainframe"]

    fails(documents, "requirements.yml: AGENT-01", "unknown role mainframe")


def test_missing_file_is_named(documents):
    del documents["roles.yml"]

    fails(documents, "roles.yml")
