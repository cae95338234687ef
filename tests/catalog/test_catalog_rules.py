"""The 34 rules of rules.yml, their shared checks and the organisation inputs."""

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sphere_stig import catalog
from sphere_stig.catalog import MANUAL, RULE_CHECKS, load_inputs, load_rules, rule

# V-224787 of V2R1 was dropped in V3R1, so the range has one gap.
EXPECTED_IDS = [f"V-{n}" for n in range(224760, 224794) if n != 224787] + ["V-225096"]

# The shared tests of RULES.md ("Rules that share one test") and the one check
# per remaining rule, as the brief for this catalog assigns them.
EXPECTED_CHECKS = {
    "tls_protocols": {"V-224762", "V-224772", "V-224776"},
    "session_timeout": {"V-224761", "V-224774"},
    "dod_certificate": {"V-224770", "V-224777", "V-224778", "V-224779"},
    "https_connector": {"V-224786", "V-224792"},
    "lockout_realm_present": {"V-224782"},
    "lockout_failure_count": {"V-224783"},
    "lockout_time": {"V-224784"},
    "tomcat_users_hashed": {"V-224780"},
    "manager_role_user": {"V-224791"},
    "connection_limits": {"V-224760"},
    "login_banner": {"V-224763"},
    "log_destination": {"V-224766"},
    "dod_roots_installed": {"V-224768"},
    "cac_login": {"V-224769"},
    "windows_root_truststore": {"V-224771"},
    "keystore_windows_my": {"V-224775"},
    "webapps_minimal": {"V-224781"},
    "error_page": {"V-224788"},
    "shutdown_port": {"V-224789"},
    "server_xml_acl": {"V-224790"},
    "transport_security_constraints": {"V-224793"},
    MANUAL: {"V-224764", "V-224765", "V-224767", "V-224773", "V-224785"},
    "sphere_version_supported": {"V-225096"},
}


def test_all_34_rules_in_benchmark_order():
    assert [r.vuln_id for r in load_rules()] == EXPECTED_IDS


@pytest.mark.parametrize("field", ["vuln_id", "rule_id", "stig_id"])
def test_identifiers_are_unique(field):
    values = [getattr(r, field) for r in load_rules()]
    assert len(set(values)) == len(values) == 34


def test_severity_spread_is_2_31_1():
    counts = Counter(r.severity for r in load_rules())

    assert counts == {"high": 2, "medium": 31, "low": 1}
    assert {r.vuln_id for r in load_rules() if r.severity == "high"} == {
        "V-224767",
        "V-225096",
    }
    assert rule("V-224769").severity == "low"


@pytest.mark.parametrize(
    ("vuln_id", "cat", "marker"),
    [
        ("V-224767", "CAT I", "cat1"),
        ("V-224762", "CAT II", "cat2"),
        ("V-224769", "CAT III", "cat3"),
    ],
)
def test_category_and_marker(vuln_id, cat, marker):
    assert (rule(vuln_id).cat, rule(vuln_id).marker) == (cat, marker)


def test_every_check_is_allowed_and_shared_as_documented():
    grouped = defaultdict(set)
    for r in load_rules():
        grouped[r.check].add(r.vuln_id)

    assert set(grouped) <= RULE_CHECKS
    assert dict(grouped) == EXPECTED_CHECKS


def test_rules_sharing_a_check_share_an_area():
    areas = defaultdict(set)
    for r in load_rules():
        if r.check != MANUAL:
            areas[r.check].add(r.area)

    assert {check: a for check, a in areas.items() if len(a) > 1} == {}


def test_manual_rules_say_what_to_record():
    for r in load_rules():
        # A manual rule has no check, or one that compares a reviewer's
        # input (V-225096: the oldest supported release from the vendor).
        assert r.manual == (r.check in (MANUAL, *catalog.REVIEWER_INPUT_CHECKS))
        assert (r.record is not None) == r.manual, r.vuln_id


def test_every_rule_has_a_procedure_and_the_server_role():
    for r in load_rules():
        assert len(r.procedure.split()) >= 10, r.vuln_id
        assert "sphere_server" in r.roles
        assert set(r.roles) <= set(catalog.ROLES)


def test_legacy_ids_pair_an_old_vuln_with_an_old_rule():
    for r in load_rules():
        if r.vuln_id == "V-225096":
            assert r.legacy_ids == ()
        else:
            old_vuln, old_rule = r.legacy_ids
            assert old_vuln.startswith("V-") and old_rule.startswith("SV-")
    assert rule("V-224760").legacy_ids == ("V-97303", "SV-106407")


def test_multi_cci_rules():
    assert rule("V-224772").ccis == (
        "CCI-002418",
        "CCI-002420",
        "CCI-002421",
        "CCI-002422",
    )
    assert rule("V-224766").ccis == ("CCI-001348", "CCI-001851")


@pytest.mark.parametrize(
    ("vuln_id", "words"),
    [
        ("V-224789", ["shutdown", "port", "8005"]),
        ("V-224769", ["V-224792", "certificateVerification"]),
        ("V-224763", ["fix text", "session timeout"]),
        ("V-224792", ["finding", "V-224786"]),
        ("V-224780", ["SHA-1"]),
    ],
)
def test_notes_explain_the_known_stig_errors(vuln_id, words):
    notes = rule(vuln_id).notes or ""
    for word in words:
        assert word in notes


def test_rule_lookup_rejects_unknown_ids():
    with pytest.raises(KeyError, match="V-224787"):
        rule("V-224787")


def test_loaders_are_cached():
    assert load_rules() is load_rules()
    assert catalog.load_catalog() is catalog.load_catalog()


def test_models_are_frozen():
    with pytest.raises(Exception, match="frozen"):
        rule("V-224760").severity = "low"


def test_benchmark():
    b = catalog.BENCHMARK

    assert (b.id, b.version, b.release, b.version_release) == (
        "ISEC7_Sphere",
        3,
        1,
        "V3R1",
    )
    assert b.release_info == "Release: 1 Benchmark Date: 24 Oct 2024"
    assert b.title == "ISEC7 Sphere Security Technical Implementation Guide"
    assert b.filename == "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"
    assert b.status_date.isoformat() == "2024-08-20"
    assert b.benchmark_date.isoformat() == "2024-10-24"


def test_dumps_are_json_ready():
    # Run metadata embeds the benchmark; rules and rows go into results.
    dumped = json.loads(json.dumps(catalog.BENCHMARK.model_dump()))

    assert dumped["status_date"] == "2024-08-20"
    for entry in (
        *catalog.load_rules(),
        *catalog.load_ports(),
        *catalog.load_inputs().values(),
    ):
        json.dumps(entry.model_dump())


# Organisation inputs.


def test_required_inputs_exist_with_their_rules():
    inputs = load_inputs()

    assert inputs["max_connections"].used_by == ("V-224760",)
    assert inputs["max_threads"].used_by == ("V-224760",)
    assert inputs["log_destination"].used_by == ("V-224766",)
    assert inputs["server_xml_acl_allowed"].used_by == ("V-224790",)
    assert inputs["required_dod_roots"].used_by == ("V-224768",)
    assert inputs["minimum_sphere_version"].used_by == ("V-225096",)
    assert inputs["console_login_path"].used_by == ("V-224763", "AUTH-02")
    assert {"V-224770", "V-224777", "V-224778", "V-224779"} <= set(
        inputs["dod_trust_anchors"].used_by
    )


def test_input_defaults():
    inputs = load_inputs()

    assert inputs["required_dod_roots"].default == tuple(
        f"DoD Root CA {n}" for n in (3, 4, 5, 6)
    )
    assert inputs["console_login_path"].default == "/"
    assert inputs["max_connections"].default is None


def test_every_input_named_by_a_rule_exists_and_back():
    inputs = load_inputs()
    requirement_ids = {q.id for q in catalog.load_requirements()}
    named = defaultdict(set)
    for r in load_rules():
        for name in r.inputs:
            named[name].add(r.vuln_id)
    for q in catalog.load_requirements():
        for name in q.inputs:
            named[name].add(q.id)
    port_ids = set()
    for row in catalog.load_ports():
        port_ids.add(row.id)
        for name in row.inputs:
            named[name].add(row.id)

    assert set(named) == set(inputs)
    for name, org_input in inputs.items():
        assert set(org_input.used_by) == named[name], name
        assert (
            set(org_input.used_by)
            <= {r.vuln_id for r in load_rules()} | requirement_ids | port_ids
        )


def test_every_input_the_code_reads_is_in_the_catalog():
    # Given the input names the library reads: inputs.get("name") calls and
    # NAME_INPUT = "name" constants
    src = Path(catalog.__file__).resolve().parents[1]
    code = "\n".join(p.read_text(encoding="utf-8") for p in src.rglob("*.py"))
    read = set(re.findall(r"inputs\.get\(\s*\"([a-z_0-9]+)\"", code))
    read |= set(re.findall(r"^[A-Z_]*INPUT = \"([a-z_0-9]+)\"", code, re.M))

    # Then the inventory accepts each of them, since it refuses unknown names
    assert {"shutdown_port_probe", "console_login_path", "dod_trust_anchors"} <= read
    assert read <= set(load_inputs())


def test_input_names_and_descriptions():
    for name, org_input in load_inputs().items():
        assert org_input.name == name
        assert len(org_input.description.split()) >= 5
        assert org_input.example is not None


def test_legacy_ids_and_srgs_match_the_rules_md_cross_reference(rules_md_text):
    # Rows of the "Legacy ID cross-reference" table: V-ID, STIG ID, old vuln,
    # old rule, SRG; "—" where there is no old ID.
    row = re.compile(r"^\| (V-\d+) \| (\S+) \| (\S+) \| (\S+) \| (SRG-\S+) \|$", re.M)
    table = {m[1]: m.groups()[1:] for m in row.finditer(rules_md_text)}

    assert len(table) == 34
    for r in load_rules():
        stig_id, old_vuln, old_rule, srg = table[r.vuln_id]
        legacy = tuple(i for i in (old_vuln, old_rule) if i != "—")
        assert (r.stig_id, r.legacy_ids, r.srg) == (stig_id, legacy, srg), r.vuln_id
