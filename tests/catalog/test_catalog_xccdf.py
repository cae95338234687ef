"""rules.yml against the DISA benchmark, and the XCCDF identifier reader.

The tests that need the real benchmark skip when it is absent; the reader and
the extraction script are also exercised on a small benchmark written here.
"""

import hashlib
import importlib.util
import re

import pytest
import yaml
from defusedxml import ElementTree

from sphere_stig import catalog
from sphere_stig.catalog.xccdf import diff_rule_ids, read_xccdf_ids

# A two-rule benchmark in the shape DISA publishes (XCCDF 1.1 namespace).
MINI_XCCDF = """<?xml version="1.0" encoding="utf-8"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1" id="Mini_STIG">
  <status date="2024-01-02">accepted</status>
  <title>Mini benchmark</title>
  <plain-text id="release-info">Release: 4 Benchmark Date: 05 Feb 2024</plain-text>
  <version>2</version>
  <Group id="V-1001"><title>SRG-APP-000001</title>
    <Rule id="SV-1001r7_rule" severity="high"><version>MINI-00-000001</version>
      <ident system="http://cyber.mil/legacy">SV-99</ident>
      <ident system="http://cyber.mil/legacy">V-98</ident>
      <ident system="http://cyber.mil/cci">CCI-000001</ident>
      <ident system="http://cyber.mil/cci">CCI-000002</ident>
    </Rule></Group>
  <Group id="V-1002"><title>SRG-APP-000002</title>
    <Rule id="SV-1002r1_rule" severity="low"><version>MINI-00-000002</version>
      <ident system="http://cyber.mil/cci">CCI-000003</ident>
    </Rule></Group>
</Benchmark>
"""


@pytest.fixture
def mini_xccdf(tmp_path):
    path = tmp_path / "mini-xccdf.xml"
    path.write_text(MINI_XCCDF, encoding="utf-8")
    return path


@pytest.fixture
def script(repo_root):
    """scripts/extract_catalog_ids.py, imported from its file."""
    path = repo_root / "scripts" / "extract_catalog_ids.py"
    spec = importlib.util.spec_from_file_location("extract_catalog_ids", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def catalog_ids():
    return [r.model_dump() for r in catalog.load_rules()]


# The reader, on the small benchmark.


def test_reader_returns_ids_in_document_order(mini_xccdf):
    bench, rules = read_xccdf_ids(mini_xccdf)

    assert (bench.id, bench.version, bench.release) == ("Mini_STIG", 2, 4)
    assert bench.benchmark_date.isoformat() == "2024-02-05"
    assert bench.status_date.isoformat() == "2024-01-02"
    assert [r.vuln_id for r in rules] == ["V-1001", "V-1002"]
    first = rules[0]
    assert (first.rule_id, first.stig_id, first.severity, first.srg) == (
        "SV-1001r7_rule",
        "MINI-00-000001",
        "high",
        "SRG-APP-000001",
    )
    assert first.ccis == ("CCI-000001", "CCI-000002")
    # The old vulnerability ID comes first, whatever the document order.
    assert first.legacy_ids == ("V-98", "SV-99")
    assert rules[1].legacy_ids == ()


def test_diff_reports_each_disagreement(mini_xccdf):
    _, rules = read_xccdf_ids(mini_xccdf)
    ours = [
        {
            "vuln_id": "V-1001",
            "rule_id": "SV-1001r6_rule",
            "stig_id": "MINI-00-000001",
            "severity": "high",
            "ccis": ["CCI-000001", "CCI-000002"],
            "srg": "SRG-APP-000001",
            "legacy_ids": ["V-98", "SV-99"],
        },
        {"vuln_id": "V-1003"},
    ]

    problems = diff_rule_ids(ours, rules)

    assert problems == [
        "V-1001: rule_id is 'SV-1001r6_rule', the benchmark says 'SV-1001r7_rule'",
        "V-1002: in the benchmark, missing from the catalog",
        "V-1003: in the catalog, not in the benchmark",
    ]


def test_script_emits_yaml_in_catalog_shape(mini_xccdf, script):
    doc = yaml.safe_load(script.emit(mini_xccdf))

    assert doc["benchmark"]["id"] == "Mini_STIG"
    assert doc["rules"][0] == {
        "vuln_id": "V-1001",
        "rule_id": "SV-1001r7_rule",
        "stig_id": "MINI-00-000001",
        "severity": "high",
        "ccis": ["CCI-000001", "CCI-000002"],
        "srg": "SRG-APP-000001",
        "legacy_ids": ["V-98", "SV-99"],
    }


def test_reader_refuses_entity_expansion(tmp_path):
    path = tmp_path / "bomb.xml"
    doctype = '<!DOCTYPE b [<!ENTITY a "aaaa">]>'
    path.write_text(f'<?xml version="1.0"?>{doctype}<Benchmark>&a;</Benchmark>')

    with pytest.raises(Exception, match="Entit"):
        read_xccdf_ids(path)


# The catalog against the real benchmark.


def test_catalog_ids_match_the_benchmark(xccdf_path):
    _, rules = read_xccdf_ids(xccdf_path)

    assert diff_rule_ids(catalog_ids(), rules) == []


def test_benchmark_header_matches(xccdf_path):
    bench, _ = read_xccdf_ids(xccdf_path)
    ours = catalog.BENCHMARK

    for name in (
        "id",
        "title",
        "version",
        "release",
        "release_info",
        "benchmark_date",
        "status_date",
    ):
        assert getattr(ours, name) == getattr(bench, name), name
    assert ours.sha256 == hashlib.sha256(xccdf_path.read_bytes()).hexdigest()


def test_script_compare_agrees(xccdf_path, script, capsys):
    assert script.main([str(xccdf_path), "--compare"]) == 0
    assert "0 difference(s)" in capsys.readouterr().out


# Our words, not theirs: no run of eight words in our prose appears in the
# benchmark, the overview or the RULES.md notes.

SHINGLE = 8


def shingles(text):
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def our_prose():
    for r in catalog.load_rules():
        for field in ("title", "procedure", "record", "notes"):
            if getattr(r, field):
                yield f"{r.vuln_id}.{field}", getattr(r, field)
    for name, org_input in catalog.load_inputs().items():
        yield f"inputs.{name}", org_input.description
    for row in catalog.load_ports():
        yield f"{row.id}.notes", row.notes or ""
    for number, text in catalog.load_port_legend().items():
        yield f"legend.{number}", text
    for q in catalog.load_requirements():
        for field in ("statement", "applies_when", "notes"):
            yield f"{q.id}.{field}", getattr(q, field) or ""
    for role, text in catalog.ROLES.items():
        yield f"roles.{role}", text


def test_no_sentence_is_copied(xccdf_path, reference_texts):
    root = ElementTree.parse(xccdf_path).getroot()
    sources = [" ".join(root.itertext()), *reference_texts]
    theirs = set().union(*(shingles(text) for text in sources))

    copied = {
        where: sorted(shingles(text) & theirs)
        for where, text in our_prose()
        if shingles(text) & theirs
    }

    assert copied == {}
